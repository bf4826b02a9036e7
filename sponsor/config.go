package sponsor

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// Limit is a token bucket: Burst requests at once, then one per Every.
type Limit struct {
	Burst int
	Every time.Duration
}

func (l Limit) rate() float64 { return 1 / l.Every.Seconds() }

// Config is everything the sponsor side needs.
type Config struct {
	Store storage.Store // required
	// Guests are the guest rules every action on a guest goes through (the
	// portal's, so that both sides follow one set). Required.
	Guests *guest.Service
	// BaseURL is the external URL of the sponsor root, e.g.
	// "https://guest.example.com/lobby/sponsor". Required.
	BaseURL   string
	SecretKey []byte // for sessions and CSRF; at least 32 bytes. Required
	SiteName  string // default "Lobby"
	TimeZone  *time.Location
	Logger    *slog.Logger
	Now       func() time.Time // default time.Now; tests inject a clock

	SecureCookies bool          // Secure cookies even over plain HTTP (behind a TLS proxy)
	SessionTTL    time.Duration // how long staff stay signed in; default 8h
	MaxBodyBytes  int64         // default 64 KiB
	PageSize      int           // guests per page; default 25, at most 500

	// PortalURL is the guest portal's external URL, printed on batch
	// sheets as where guests sign in; default BaseURL's parent + "/portal".
	PortalURL string
	// AdminURL is the admin pages' address (such as "/lobby/admin/"), linked
	// from the navigation of admins only; empty: no link.
	AdminURL string
	// NetworkName is the Wi-Fi network (SSID) printed on batch sheets;
	// empty: none.
	NetworkName string

	// Login limits sign-in attempts per client IP (default 10, then one
	// every 6 seconds), on top of the per-account lockout.
	Login Limit

	// Where the client's address comes from (see portal.Config).
	TrustProxyHeaders bool
	ProxyHeader       string
	TrustedProxyHops  int

	// Actions limits, per staff user, the actions that send mail (resend,
	// reset password, approve, deny): default 30, then one every 2 seconds.
	Actions Limit
	// MailWait is how long an action that sends mail waits for the first
	// delivery attempt before the page says where the email stands;
	// default 3s.
	MailWait time.Duration
}

// withDefaults fills the defaults and checks cfg, naming every problem.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("sponsor: config: the Store is required"))
	}
	if c.Guests == nil {
		errs = append(errs, errors.New("sponsor: config: the guest rules (Guests) are required"))
	}
	if c.BaseURL == "" {
		errs = append(errs, errors.New("sponsor: config: BaseURL is required"))
	}
	if len(c.SecretKey) < 32 {
		errs = append(errs, errors.New("sponsor: config: SecretKey must be at least 32 bytes"))
	}
	if c.MailWait < 0 || c.Actions.Burst < 0 || c.Actions.Every < 0 {
		errs = append(errs, errors.New("sponsor: config: MailWait and Actions cannot be negative"))
	}
	if c.PageSize < 0 || c.PageSize > 500 {
		errs = append(errs, fmt.Errorf("sponsor: config: PageSize %d is not between 1 and 500", c.PageSize))
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	c.SiteName = cmp.Or(c.SiteName, "Lobby")
	if c.TimeZone == nil {
		c.TimeZone = time.Local
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PortalURL == "" {
		c.PortalURL = c.BaseURL[:max(strings.LastIndex(c.BaseURL, "/"), 0)] + "/portal"
	}
	c.PortalURL = strings.TrimRight(c.PortalURL, "/")
	c.SessionTTL = cmp.Or(c.SessionTTL, 8*time.Hour)
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, 64<<10)
	c.PageSize = cmp.Or(c.PageSize, 25)
	c.Login.Burst = cmp.Or(c.Login.Burst, 10)
	c.Login.Every = cmp.Or(c.Login.Every, 6*time.Second)
	c.Actions.Burst = cmp.Or(c.Actions.Burst, 30)
	c.Actions.Every = cmp.Or(c.Actions.Every, 2*time.Second)
	c.MailWait = cmp.Or(c.MailWait, 3*time.Second)
	return c, nil
}
