package lobby

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/forwardauth"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/portal"
	"github.com/lobbyhq/lobby/storage"
)

// Config is what New needs to build a Lobby. Store, BaseURL and SecretKey
// are required; everything else has a default.
type Config struct {
	// Store is the database (see OpenStore). Required. Lobby does not close
	// it: the caller that opened it does, after Close.
	Store storage.Store
	// Dispatcher sends the mail. When nil, New builds one from Store, the
	// SMTP settings an admin saved (key "smtp", read again whenever they
	// change) and a pooled SMTP transport with an Exchange Online token
	// cache; Run then runs it and Close closes the transport. A Dispatcher
	// given here is run and shut down by its owner, not by Lobby.
	Dispatcher *notify.Dispatcher
	// MailSettings, when set, replaces the SMTP settings an admin saved in
	// the store (key "smtp") as the settings of the dispatcher New builds;
	// lobby serve --dev passes the development emulator's. Unused
	// when Dispatcher is given.
	MailSettings notify.SettingsSource
	// BaseURL is the external URL where Handler is mounted, such as
	// "https://wifi.example.com/guest". Required: links in emails are built
	// from it, and redirects use its path.
	BaseURL string
	// SecretKey (32 bytes, the same key as the store's) signs sessions,
	// CSRF tokens and approval links.
	SecretKey []byte
	// Logger receives Lobby's structured logs; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now. Tests inject their own.
	Now func() time.Time
	// Portal is the guest portal's policy (fields, terms, guest type,
	// approval, password length, ...); zero fields take the portal's
	// defaults.
	Portal portal.Policy
	// Templates is an operator's directory of email templates
	// (NAME.subject.tmpl, NAME.txt.tmpl, NAME.html.tmpl; lobby serve
	// --templates): each file replaces the embedded one, and what it lacks
	// stays embedded (see notify.NewRenderer). Templates an admin saves win
	// over both. Nil: the embedded templates.
	Templates fs.FS
	// DevMailbox, when set (lobby serve --dev), makes /dev/mailbox list the
	// mail it captured, to requests for a loopback host or the base URL's
	// host only.
	DevMailbox DevMailbox
	// SecureCookies marks cookies Secure even on requests that reached
	// Lobby over plain HTTP (TLS ended at a proxy). Default: true when
	// BaseURL is https.
	SecureCookies *bool
	// ServeMetrics makes Handler serve the Prometheus metrics at /metrics.
	// Off by default: the portal is public, and metrics are for monitoring
	// only. Lobby.MetricsHandler serves them anywhere else.
	ServeMetrics bool
	// Limits are the portal's per-client rate limits on registering,
	// signing in and resending credentials; zero fields take the portal's
	// defaults. A benchmark or a host that limits in front of Lobby raises
	// them (a Burst larger than the traffic).
	Limits portal.Limits
	// ShutdownTimeout bounds how long the mail dispatcher New builds may
	// finish its sends in flight once Run's ctx ends; sends still running
	// then are interrupted and recorded as such within
	// notify.InterruptGrace, so the next start sends them at once instead
	// of waiting for their lease to run out. Run returns within
	// ShutdownTimeout + notify.InterruptGrace. Default
	// notify.DefaultShutdownTimeout. Unused when Dispatcher is given.
	ShutdownTimeout time.Duration
	// TrustProxyHeaders keys the rate limits by the last X-Forwarded-For
	// entry (the one the proxy appended); ProxyHeader, when set, wins.
	TrustProxyHeaders bool
	// ProxyHeader is the header in which the reverse proxy in front of Lobby
	// puts the client's address ("X-Forwarded-For", "X-Real-IP", ...), for
	// rate limits and logs; see portal.Config.ProxyHeader. Set it only
	// behind a proxy that always sets that header.
	ProxyHeader string
	// TrustedProxyHops is how many proxies in front of Lobby append to
	// X-Forwarded-For; default 1.
	TrustedProxyHops int
	// GuestCacheTTL lets RequireGuest reuse a guest it read from the store
	// for up to this long, in this process, instead of reading it on every
	// request. Zero (the default) reads every time, so a suspension or a
	// sign-out on another device takes effect on the next request; with a
	// cache it takes effect within GuestCacheTTL. The end of a guest's
	// validity is checked on every request either way. At most
	// MaxGuestCacheTTL (1s).
	GuestCacheTTL time.Duration
	// MailWorkers is how many emails the dispatcher New builds sends at
	// once, each over an SMTP connection of its own; default
	// notify.DefaultWorkers (3), because Exchange Online allows 3
	// concurrent SMTP connections per mailbox and refuses a fourth (432
	// 4.3.2; other servers say 421 4.7.0): more workers would only be
	// refused and back off. Each send waits on the SMTP server (about 0.1-0.3 s
	// with Exchange Online), so the workers bound the mail rate; raise it
	// for a server without that limit. Should the server still refuse
	// (another sender on the same mailbox), the transport lowers its
	// connection limit by itself and grows it back slowly. Unused when
	// Dispatcher is given.
	MailWorkers int
	// AlarmRecipients get every alarm email (the client secret expiring,
	// delivery failing, dead letters), besides the admins with an email
	// address; each alarm is emailed once per level, not once per failure.
	AlarmRecipients []string
	// DeliveryAlarmAfter is how long mail delivery may fail (messages
	// deferred, none delivered) before the delivery alarm is raised;
	// default DefaultDeliveryAlarmAfter (15 minutes).
	DeliveryAlarmAfter time.Duration
	// RADIUSSecret, when set, makes Handler serve /radius/, the endpoint
	// FreeRADIUS's rlm_rest calls to check guests' credentials for the
	// network (see package radius and docs/freeradius.md); FreeRADIUS sends
	// it as "Authorization: Bearer <secret>". At least 16 characters. Empty:
	// /radius/ is not served (404).
	RADIUSSecret string
	// ForwardAuthHosts are the hosts whose pages the forward-auth endpoint
	// may send a browser back to after sign-in ("host" on any port,
	// "host:port" on that one); a request for any other host signs in at
	// BaseURL without a way back. Default: BaseURL's host.
	ForwardAuthHosts []string
	// CaptiveVenueURL is the venue-info-url of the captive-portal API: a
	// page about the venue. Empty: none.
	CaptiveVenueURL string
}

// validate checks cfg and returns every problem, each naming its field.
func (cfg *Config) validate() error {
	var errs []string
	add := func(field, format string, args ...any) {
		errs = append(errs, field+" "+fmt.Sprintf(format, args...))
	}
	if cfg.Store == nil {
		add("Store", "is required; open one with lobby.OpenStore (a postgres:// URL or a SQLite file path)")
	}
	if len(cfg.SecretKey) != storage.KeySize {
		add("SecretKey", "must be %d bytes, got %d; use the same key as the store (make one with: openssl rand -base64 32)",
			storage.KeySize, len(cfg.SecretKey))
	}
	if cfg.BaseURL == "" {
		add("BaseURL", "is required: the external URL where Lobby is mounted, such as https://wifi.example.com/guest")
	} else if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("BaseURL", "%q is not an absolute http(s) URL; give the external URL where Lobby is mounted, such as https://wifi.example.com/guest", cfg.BaseURL)
	} else if u.RawQuery != "" || u.Fragment != "" {
		add("BaseURL", "%q must not have a query or fragment", cfg.BaseURL)
	}
	if cfg.ShutdownTimeout < 0 {
		add("ShutdownTimeout", "cannot be negative (%s)", cfg.ShutdownTimeout)
	}
	if cfg.DeliveryAlarmAfter < 0 {
		add("DeliveryAlarmAfter", "cannot be negative (%s)", cfg.DeliveryAlarmAfter)
	}
	for _, r := range cfg.AlarmRecipients {
		if a, err := mail.ParseAddress(r); err != nil || a.Name != "" {
			add("AlarmRecipients", "%q is not an email address; give bare addresses such as it@example.com", r)
		}
	}
	for name, lim := range map[string]portal.Limit{
		"Limits.Register": cfg.Limits.Register, "Limits.Login": cfg.Limits.Login,
		"Limits.Resend": cfg.Limits.Resend, "Limits.ResendPerAddress": cfg.Limits.ResendPerAddress,
	} {
		if lim.Burst < 0 || lim.Every < 0 {
			add(name, "cannot be negative (Burst %d, Every %s)", lim.Burst, lim.Every)
		}
	}
	if cfg.MailWorkers < 0 || cfg.MailWorkers > maxMailWorkers {
		add("MailWorkers", "must be between 0 (the default, %d) and %d, got %d", notify.DefaultWorkers, maxMailWorkers, cfg.MailWorkers)
	}
	if cfg.GuestCacheTTL < 0 || cfg.GuestCacheTTL > MaxGuestCacheTTL {
		add("GuestCacheTTL", "must be between 0 (off) and %s, got %s", MaxGuestCacheTTL, cfg.GuestCacheTTL)
	}
	for _, h := range cfg.ForwardAuthHosts {
		if _, ok := forwardauth.NormalizeHost(h); !ok {
			add("ForwardAuthHosts", "%q is not a host name or host:port; give one such as wifi.example.com or wifi.example.com:8443", h)
		}
	}
	if cfg.CaptiveVenueURL != "" {
		if u, err := url.Parse(cfg.CaptiveVenueURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("CaptiveVenueURL", "%q is not an absolute http(s) URL; give the page about the venue, such as https://example.com/visitors", cfg.CaptiveVenueURL)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New("lobby: config: " + strings.Join(errs, "; "))
}

// maxMailWorkers caps Config.MailWorkers.
const maxMailWorkers = 256

// basePath is the path of BaseURL without a trailing slash ("" at the root).
func basePath(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.EscapedPath(), "/")
}
