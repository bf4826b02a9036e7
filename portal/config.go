package portal

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// Mailer hands an enqueued message to the sender and gives its Future.
// *notify.Dispatcher satisfies it. Track may return nil (no sender in this
// process): the message then waits in the outbox for one.
type Mailer = guest.Mailer

// FieldRule says whether an optional registration field is shown and
// whether it must be filled in. Required implies Show.
type FieldRule = guest.FieldRule

// Fields configures the optional registration fields. First name, last
// name and email are always shown and required.
type Fields = guest.Fields

// Policy is the guest account rules and the portal's behaviour.
//
// SiteName, Logo, Accent, Fields, Terms, AllowDomains, BlockDomains,
// RequireApproval, Approvers and RegistrationCode are the defaults of the
// portal settings an admin changes at run time (guest.PortalSettings):
// once saved, those win, on every replica within guest.SettingsCacheTTL.
type Policy struct {
	SiteName         string // default "Lobby"
	Logo             []byte // shown beside the site name: PNG, JPEG, GIF or WebP, at most guest.MaxLogoBytes
	Accent           string // colour of buttons and links, #rrggbb (see guest.PortalSettings)
	Fields           Fields
	Terms            string // acceptable-use text shown with a required checkbox; paragraphs split by blank lines
	DefaultGuestType string // default "daily" (created at start-up if missing and not in GuestTypes: 1 day default, 7 days max)
	// GuestTypes are written to the store at start-up (created, or
	// replacing the stored type of the same name), e.g. from command-line
	// flags. Each needs a name and a DefaultDuration; MaxDuration 0 means
	// the DefaultDuration; a positive ExpiryNotice must be shorter than
	// the DefaultDuration.
	GuestTypes []storage.GuestType
	// RequireApproval stores self-registered guests as pending until an
	// approver follows the approve link in their email. A guest type with
	// RequireApproval requires it too.
	RequireApproval bool
	// Approvers get the approval emails. When empty, the person visited
	// approves: that field is then shown and required, and must be the
	// email of a sponsor.
	Approvers       []string
	ApprovalLinkTTL time.Duration // default 24h
	// AllowDomains, when set, are the only email domains that may
	// register (subdomains included); BlockDomains may not.
	AllowDomains, BlockDomains []string
	RegistrationCode           string        // when set, registering needs it
	UsernamePolicy             string        // "email" (default) or "generated" (guest-xxxxxx)
	PasswordLength             int           // default 10; alphabet without look-alikes (no 0/O/o/1/l/I)
	SuccessWait                time.Duration // default 3s: the success page waits this long on the email's Future
	ShowCredentials            bool          // also show the credentials on the success page, in the registering browser for 15 minutes (always shown while guest email is off)
	NotifyExtension            bool          // email a guest whose access a sponsor extended (approval, denial and a new password are always emailed, unless guest email is off)

	SessionTTL time.Duration // how long a guest stays signed in; default 12h
	// ExpiryNotice is how long before ValidUntil the expiry notice goes
	// out, for guest types without a notice of their own; default: a
	// quarter of the type's validity, at most MaxDefaultExpiryNotice (6
	// hours for a one-day type); negative: no notices.
	ExpiryNotice time.Duration
	JobInterval  time.Duration  // how often RunJobs runs the jobs; default 1m
	TimeZone     *time.Location // for times shown on pages; default time.Local
	// PurgeAfter is how long expired guests (after ValidUntil) and denied
	// ones (after the denial) are kept before the jobs delete them, with
	// sent and failed emails older than that; default 30 days, negative:
	// never purge.
	PurgeAfter time.Duration
	// DeniedCooloff is how long after a denial (the guest's last change)
	// its address may not register again: a registration for it within
	// that time is answered like one for a registered address and sends
	// nothing. Default 7 days; negative: not until the denied guest is
	// purged.
	DeniedCooloff time.Duration
}

// Limit is a token bucket: Burst requests at once, then one per Every.
type Limit struct {
	Burst int
	Every time.Duration
}

// Limits are the per-client rate limits; zero fields take the defaults.
//
// Clients are told apart by IP address (IPv6 by /64), so everyone behind a
// venue's NAT shares one bucket: the register default allows a group of 30
// to register at once, then one every 10 seconds (360 an hour). Raise
// Register.Burst for larger events on one address. Each limiter tracks at
// most 100,000 clients.
type Limits struct {
	Register         Limit // per client IP; default 30, then 1 per 10s
	Login            Limit // per client IP; default 10, then 1 per 6s
	Resend           Limit // per client IP; default 5, then 1 per minute
	ResendPerAddress Limit // per email address and client IP, for resends and (separately) registrations; default 3, then 1 per 20 minutes
}

// Config is everything a Portal needs.
type Config struct {
	Store    storage.Store    // required
	Mail     Mailer           // hands new messages to the sender; nil: the outbox poller sends them
	Renderer *notify.Renderer // nil: the embedded email templates
	// BaseURL is the external URL of the portal root, e.g.
	// "https://guest.example.com/lobby/portal"; links in emails start with it. Required.
	BaseURL       string
	SecretKey     []byte // for sessions, CSRF and link signing; at least 32 bytes. Required
	Policy        Policy
	Logger        *slog.Logger
	Now           func() time.Time
	SecureCookies bool // mark cookies Secure even without TLS on the request (behind a TLS proxy)

	Limits Limits
	// ProxyHeader names the header in which the reverse proxy in front of
	// the portal puts the client's address; rate limits and logs then use
	// it instead of the connection's. "X-Forwarded-For" takes the
	// TrustedProxyHops-th address from the right (what the trusted proxies
	// appended; what the client sent itself is never read); any other
	// header, such as "X-Real-IP", must hold the one address. Set it only
	// behind a proxy that always sets that header: otherwise clients choose
	// their own address. Empty: the connection's address.
	ProxyHeader string
	// TrustedProxyHops is how many proxies in front of the portal append to
	// X-Forwarded-For (a CDN and then nginx: 2); default 1. Only with
	// ProxyHeader "X-Forwarded-For".
	TrustedProxyHops int
	// TrustProxyHeaders is ProxyHeader "X-Forwarded-For" when ProxyHeader
	// is empty (the setting before ProxyHeader existed).
	TrustProxyHeaders bool
	MaxBodyBytes      int64 // request body limit; default 64 KiB
	// OnSignIn, when set, is told of every guest sign-in (the sign-in page
	// and the success page's "Sign in now"), after the session cookie is
	// set: the request, the guest and the session's issue time. Lobby's
	// captive-portal API remembers the client's address with it. It must
	// not block.
	OnSignIn func(r *http.Request, guestID uuid.UUID, issuedAt time.Time)
}

// Defaults.
const (
	DefaultSiteName         = "Lobby"
	DefaultGuestTypeName    = "daily"
	DefaultApprovalLinkTTL  = 24 * time.Hour
	DefaultPasswordLength   = 10
	DefaultSuccessWait      = 3 * time.Second
	DefaultSessionTTL       = 12 * time.Hour
	MaxDefaultExpiryNotice  = guest.MaxDefaultExpiryNotice // the longest notice a guest type gets by default
	DefaultGuestValidity    = guest.DefaultGuestValidity   // of the default guest type, when it is created
	DefaultGuestMaxValidity = guest.DefaultGuestMaxValidity
	DefaultJobInterval      = time.Minute
	DefaultPurgeAfter       = 30 * 24 * time.Hour
	DefaultDeniedCooloff    = 7 * 24 * time.Hour
	DefaultMaxBodyBytes     = 64 << 10
	DefaultTerms            = guest.DefaultTerms
)

// Username policies.
const (
	UsernameEmail     = guest.UsernameEmail
	UsernameGenerated = guest.UsernameGenerated
)

// withDefaults fills the defaults and checks the config, naming every bad field.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("portal: config: "+format, args...)) }
	if c.Store == nil {
		bad("Store is required")
	}
	if len(c.SecretKey) < 32 {
		bad("SecretKey must be at least 32 bytes (got %d)", len(c.SecretKey))
	}
	if u, err := url.Parse(c.BaseURL); c.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("BaseURL must be the portal's external URL, such as https://guest.example.com/portal (got %q)", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	if c.Now == nil {
		c.Now = time.Now
	}
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, DefaultMaxBodyBytes)
	c.ProxyHeader = strings.TrimSpace(c.ProxyHeader)
	switch {
	case c.ProxyHeader != "" && !validHeaderName(c.ProxyHeader):
		bad("ProxyHeader %q is not a header name; use the one your proxy sets, such as X-Forwarded-For or X-Real-IP", c.ProxyHeader)
	case strings.EqualFold(c.ProxyHeader, "Forwarded"):
		bad("ProxyHeader Forwarded (RFC 7239) is not supported; use X-Forwarded-For or X-Real-IP")
	}
	header := c.ProxyHeader
	if header == "" && c.TrustProxyHeaders {
		header = "X-Forwarded-For"
	}
	switch {
	case c.TrustedProxyHops < 0 || c.TrustedProxyHops > 16:
		bad("TrustedProxyHops must be between 0 and 16 (got %d)", c.TrustedProxyHops)
	case c.TrustedProxyHops > 1 && !strings.EqualFold(header, "X-Forwarded-For"):
		bad("TrustedProxyHops applies only to ProxyHeader X-Forwarded-For (ProxyHeader is %q)", header)
	}

	p := &c.Policy
	p.SiteName = cmp.Or(strings.TrimSpace(p.SiteName), DefaultSiteName)
	p.Terms = cmp.Or(strings.TrimSpace(p.Terms), DefaultTerms)
	p.DefaultGuestType = cmp.Or(p.DefaultGuestType, DefaultGuestTypeName)
	p.ApprovalLinkTTL = cmp.Or(p.ApprovalLinkTTL, DefaultApprovalLinkTTL)
	p.PasswordLength = cmp.Or(p.PasswordLength, DefaultPasswordLength)
	p.SuccessWait = cmp.Or(p.SuccessWait, DefaultSuccessWait)
	p.SessionTTL = cmp.Or(p.SessionTTL, DefaultSessionTTL)
	p.JobInterval = cmp.Or(p.JobInterval, DefaultJobInterval)
	p.PurgeAfter = cmp.Or(p.PurgeAfter, DefaultPurgeAfter)          // negative stays: purging is off
	p.DeniedCooloff = cmp.Or(p.DeniedCooloff, DefaultDeniedCooloff) // negative stays: until purged
	p.UsernamePolicy = cmp.Or(p.UsernamePolicy, UsernameEmail)
	if p.TimeZone == nil {
		p.TimeZone = time.Local
	}
	if p.UsernamePolicy != UsernameEmail && p.UsernamePolicy != UsernameGenerated {
		bad("Policy.UsernamePolicy must be %q or %q (got %q)", UsernameEmail, UsernameGenerated, p.UsernamePolicy)
	}
	if p.PasswordLength < 8 || p.PasswordLength > 64 {
		bad("Policy.PasswordLength must be between 8 and 64 (got %d)", p.PasswordLength)
	}
	for name, d := range map[string]time.Duration{
		"ApprovalLinkTTL": p.ApprovalLinkTTL, "SuccessWait": p.SuccessWait, "SessionTTL": p.SessionTTL,
		"JobInterval": p.JobInterval,
	} {
		if d < 0 {
			bad("Policy.%s must not be negative", name)
		}
	}
	types := make([]storage.GuestType, 0, len(p.GuestTypes))
	seen := map[string]bool{}
	for i, gt := range p.GuestTypes {
		gt.Name = strings.TrimSpace(gt.Name)
		gt.MaxDuration = cmp.Or(gt.MaxDuration, gt.DefaultDuration)
		switch {
		case gt.Name == "":
			bad("Policy.GuestTypes[%d] needs a name", i)
		case seen[gt.Name]:
			bad("Policy.GuestTypes[%d]: guest type %q is listed twice", i, gt.Name)
		case gt.DefaultDuration <= 0:
			bad("guest type %q: the validity must be positive (got %s)", gt.Name, gt.DefaultDuration)
		case gt.MaxDuration < gt.DefaultDuration:
			bad("guest type %q: the maximum validity %s is shorter than the validity %s", gt.Name, gt.MaxDuration, gt.DefaultDuration)
		case gt.ExpiryNotice >= gt.DefaultDuration:
			bad("guest type %q: the expiry notice %s must be shorter than the validity %s, or no guest would get it", gt.Name, gt.ExpiryNotice, gt.DefaultDuration)
		}
		seen[gt.Name] = true
		types = append(types, gt)
	}
	p.GuestTypes = types
	approvers := make([]string, 0, len(p.Approvers))
	for i, a := range p.Approvers {
		e, msg := normalizeEmail(a)
		if msg != "" {
			bad("Policy.Approvers[%d] %q is not an email address", i, a)
		}
		approvers = append(approvers, e)
	}
	p.Approvers = approvers
	p.AllowDomains = normalizeDomains(p.AllowDomains)
	p.BlockDomains = normalizeDomains(p.BlockDomains)
	for _, r := range []*FieldRule{&p.Fields.Phone, &p.Fields.Company, &p.Fields.PersonVisited, &p.Fields.Reason} {
		r.Show = r.Show || r.Required
	}

	l := &c.Limits
	for name, lim := range map[string]Limit{"Register": l.Register, "Login": l.Login, "Resend": l.Resend, "ResendPerAddress": l.ResendPerAddress} {
		if lim.Burst < 0 || lim.Every < 0 {
			bad("Limits.%s must not be negative (Burst %d, Every %s)", name, lim.Burst, lim.Every)
		}
	}
	l.Register = l.Register.or(Limit{30, 10 * time.Second})
	l.Login = l.Login.or(Limit{10, 6 * time.Second})
	l.Resend = l.Resend.or(Limit{5, time.Minute})
	l.ResendPerAddress = l.ResendPerAddress.or(Limit{3, 20 * time.Minute})
	return c, errors.Join(errs...)
}

// guestConfig is the configuration of the portal's guest rules (c with
// its defaults filled in), rendering emails with render.
func (c Config) guestConfig(render *notify.Renderer) guest.Config {
	p := c.Policy
	return guest.Config{
		Store: c.Store, Mail: c.Mail, Renderer: render, BaseURL: c.BaseURL, Logger: c.Logger, Now: c.Now,
		Policy: guest.Policy{
			SiteName: p.SiteName, TimeZone: p.TimeZone, DefaultGuestType: p.DefaultGuestType,
			Logo: p.Logo, Accent: p.Accent, Fields: p.Fields, Terms: p.Terms, RegistrationCode: p.RegistrationCode,
			UsernamePolicy: p.UsernamePolicy, PasswordLength: p.PasswordLength,
			RequireApproval: p.RequireApproval, Approvers: p.Approvers, ApprovalLinkTTL: p.ApprovalLinkTTL,
			AllowDomains: p.AllowDomains, BlockDomains: p.BlockDomains, DeniedCooloff: p.DeniedCooloff,
			NotifyExtension: p.NotifyExtension,
			ExpiryNotice:    p.ExpiryNotice, PurgeAfter: p.PurgeAfter, GuestTypes: p.GuestTypes, JobInterval: p.JobInterval,
		},
	}
}

func (l Limit) or(def Limit) Limit {
	l.Burst = cmp.Or(l.Burst, def.Burst)
	l.Every = cmp.Or(l.Every, def.Every)
	return l
}

// rate is l's refill rate per second.
func (l Limit) rate() float64 { return 1 / l.Every.Seconds() }

// validHeaderName reports whether s is an HTTP header name (an RFC 9110 token).
func validHeaderName(s string) bool {
	for _, r := range s {
		if !(isAlnum(r) || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return s != ""
}

func normalizeDomains(ds []string) []string {
	var out []string
	for _, d := range ds {
		d = strings.Trim(strings.ToLower(strings.TrimSpace(d)), "@.")
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}
