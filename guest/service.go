package guest

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// Mailer hands an enqueued message to the sender and gives its Future.
// *notify.Dispatcher satisfies it. Track may return nil (no sender in this
// process): the message then waits in the outbox for one.
type Mailer interface {
	Track(id uuid.UUID) *notify.Future
}

// Username policies.
const (
	UsernameEmail     = "email"     // the guest's email address
	UsernameGenerated = "generated" // guest-xxxxxx
)

// Defaults of Policy.
const (
	DefaultSiteName        = "Lobby"
	DefaultGuestTypeName   = "daily"
	DefaultPasswordLength  = 10
	DefaultApprovalLinkTTL = 24 * time.Hour
	DefaultDeniedCooloff   = 7 * 24 * time.Hour
	DefaultPurgeAfter      = 30 * 24 * time.Hour
	DefaultBatchPrefix     = "guest"
	DefaultJobInterval     = time.Minute
	// DefaultGuestValidity and DefaultGuestMaxValidity are those of the
	// default guest type when EnsureGuestTypes creates it.
	DefaultGuestValidity    = 24 * time.Hour
	DefaultGuestMaxValidity = 7 * 24 * time.Hour
	// MaxDefaultExpiryNotice is the longest notice a guest type gets by
	// default (see ExpiryNotice).
	MaxDefaultExpiryNotice = 24 * time.Hour
	MaxBatch               = 500 // the most accounts one CreateBatch makes
	DefaultTerms           = "Use this network lawfully and considerately. Do not try to reach systems you were not given access to, " +
		"and do not share your credentials. Access may be logged, limited or withdrawn at any time."
)

// Policy is the guest rules' settings.
type Policy struct {
	SiteName         string         // in emails; default "Lobby"
	TimeZone         *time.Location // for times in emails; default time.Local
	DefaultGuestType string         // default "daily"
	UsernamePolicy   string         // UsernameEmail (default) or UsernameGenerated, for guests with an email
	PasswordLength   int            // default 10, 8 to 64
	// NotifyExtension emails a guest whose access a sponsor extended.
	NotifyExtension bool
	// RequireApproval, Approvers, ApprovalLinkTTL, AllowDomains,
	// BlockDomains and DeniedCooloff are the self-registration rules (see
	// the portal's Policy, which documents them).
	//
	// SiteName, Logo, Accent, Fields, Terms, AllowDomains, BlockDomains,
	// RequireApproval, Approvers and RegistrationCode are the seed of the
	// PortalSettings: an admin's saved settings win over them.
	Logo                       []byte // PNG, JPEG, GIF or WebP; see PortalSettings
	Accent                     string // #rrggbb; see PortalSettings
	Fields                     Fields
	Terms                      string // default DefaultTerms
	RegistrationCode           string
	RequireApproval            bool
	Approvers                  []string
	ApprovalLinkTTL            time.Duration // default 24h
	AllowDomains, BlockDomains []string
	DeniedCooloff              time.Duration // default 7 days; negative: until purged
	// ExpiryNotice and PurgeAfter drive the lifecycle jobs (see the
	// portal's Policy).
	ExpiryNotice time.Duration
	PurgeAfter   time.Duration // default 30 days; negative: never purge
	JobInterval  time.Duration // how often RunJobs runs the jobs; default 1m
	// GuestTypes are written to the store by EnsureGuestTypes (created,
	// or replacing the stored type of the same name).
	GuestTypes []storage.GuestType
}

// Config is what a Service needs.
type Config struct {
	Store    storage.Store    // required
	Mail     Mailer           // hands committed messages to the sender; nil: the outbox poller sends them
	Renderer *notify.Renderer // nil: the embedded email templates
	// BaseURL is the guest portal's external URL; links in emails start
	// with it (BaseURL + "/login"). Required.
	BaseURL string
	Policy  Policy
	Logger  *slog.Logger
	Now     func() time.Time // default time.Now
	Rand    io.Reader        // for passwords and usernames; default crypto/rand
	// ApprovalLinks makes the approve and deny links for a registration
	// that needs approval, sent to approver and valid until exp (the guest
	// portal signs them). Without it such registrations fail.
	ApprovalLinks func(guestID uuid.UUID, approver string, exp time.Time) (approveURL, denyURL string)
}

// Service applies the guest rules. It is safe for concurrent use.
type Service struct {
	store  storage.Store
	mail   Mailer
	render *notify.Renderer
	base   string
	pol    Policy
	log    *slog.Logger
	now    func() time.Time
	rand   io.Reader
	types  typeCache // the default guest type, read once in a while
	// settings are the portal settings and email templates in force,
	// read once in a while.
	settings settingsCache
	links    func(uuid.UUID, string, time.Time) (string, string)
}

// New checks cfg (naming every bad field) and returns a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("guest: config: "+format, args...)) }
	if cfg.Store == nil {
		bad("Store is required")
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if u, err := url.Parse(base); base == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("BaseURL must be the guest portal's external URL, such as https://guest.example.com/portal (got %q)", cfg.BaseURL)
	}
	p := cfg.Policy
	p.SiteName = cmp.Or(strings.TrimSpace(p.SiteName), DefaultSiteName)
	p.Terms = cmp.Or(strings.TrimSpace(p.Terms), DefaultTerms)
	p.DefaultGuestType = cmp.Or(p.DefaultGuestType, DefaultGuestTypeName)
	p.UsernamePolicy = cmp.Or(p.UsernamePolicy, UsernameEmail)
	p.PasswordLength = cmp.Or(p.PasswordLength, DefaultPasswordLength)
	p.ApprovalLinkTTL = cmp.Or(p.ApprovalLinkTTL, DefaultApprovalLinkTTL)
	p.DeniedCooloff = cmp.Or(p.DeniedCooloff, DefaultDeniedCooloff)
	p.PurgeAfter = cmp.Or(p.PurgeAfter, DefaultPurgeAfter)
	p.JobInterval = cmp.Or(p.JobInterval, DefaultJobInterval)
	if p.TimeZone == nil {
		p.TimeZone = time.Local
	}
	if p.UsernamePolicy != UsernameEmail && p.UsernamePolicy != UsernameGenerated {
		bad("Policy.UsernamePolicy must be %q or %q (got %q)", UsernameEmail, UsernameGenerated, p.UsernamePolicy)
	}
	if p.PasswordLength < 8 || p.PasswordLength > 64 {
		bad("Policy.PasswordLength must be between 8 and 64 (got %d)", p.PasswordLength)
	}
	if p.ApprovalLinkTTL < 0 {
		bad("Policy.ApprovalLinkTTL must not be negative")
	}
	if p.JobInterval < 0 {
		bad("Policy.JobInterval must not be negative")
	}
	s := &Service{store: cfg.Store, mail: cfg.Mail, render: cfg.Renderer, base: base, pol: p,
		log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)), now: cfg.Now, rand: cfg.Rand, links: cfg.ApprovalLinks}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.render == nil {
		r, err := notify.NewRenderer(nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("guest: %w", err))
		}
		s.render = r
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Policy returns the policy in force, defaults filled in.
func (s *Service) Policy() Policy { return s.pol }

// Store returns the store the Service works on.
func (s *Service) Store() storage.Store { return s.store }

// Now is the Service's clock.
func (s *Service) Now() time.Time { return s.now() }

// Result is the outcome of a change that may send an email.
type Result struct {
	Guest *storage.Guest // as stored afterwards; Password set when the action made one
	// Mail is the outbox ID of the email the change sent, uuid.Nil when
	// it sent none.
	Mail uuid.UUID
	// Future follows the email's delivery: nil without a Mailer, or
	// without an email.
	Future *notify.Future
	// HandOver: guest email is off (PortalSettings.SendGuestEmail), so the
	// credentials the action would have emailed were not; Guest carries
	// them (Password included) for the caller to show to the person
	// acting, who hands them over.
	HandOver bool
}

// track hands committed messages to the mailer; it returns the Future of
// the first, or nil.
func (s *Service) track(ids ...uuid.UUID) *notify.Future {
	if s.mail == nil {
		return nil
	}
	var first *notify.Future
	for i, id := range ids {
		if id == uuid.Nil {
			continue
		}
		f := s.mail.Track(id)
		if i == 0 {
			first = f
		}
	}
	return first
}

// Track hands committed messages to the Mailer and returns the Future of
// the first, or nil: for callers that queued mail of their own in a
// transaction.
func (s *Service) Track(ids ...uuid.UUID) *notify.Future { return s.track(ids...) }

// Name is how emails and pages address a guest.
func Name(g *storage.Guest) string { return strings.TrimSpace(g.FirstName + " " + g.LastName) }
