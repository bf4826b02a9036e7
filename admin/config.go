package admin

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// StaffSource gives the signed-in staff user of a request (the sponsor
// side's sign-in satisfies it). The admin side reads nothing else of the
// session.
type StaffSource interface {
	Staff(r *http.Request) (*storage.Staff, bool)
}

// Mailer submits an email to the retry pool and returns its Future (a
// *notify.Dispatcher).
type Mailer interface {
	Submit(ctx context.Context, m notify.Message) *notify.Future
}

// Limit is a token bucket: Burst requests at once, then one per Every.
type Limit struct {
	Burst int
	Every time.Duration
}

func (l Limit) rate() float64 { return 1 / l.Every.Seconds() }

// Config is everything the admin side needs.
type Config struct {
	Store storage.Store // required
	// Guests are the guest rules (the portal's Service, as the sponsor side
	// gets it): portal settings, email templates. Required.
	Guests *guest.Service
	// Staff gives the signed-in staff user of a request. Required.
	Staff StaffSource
	// SignInURL is the staff sign-in page (the sponsor side's), such as
	// "/lobby/sponsor/login"; a visitor who is not signed in is sent there
	// with ?return= the page they asked for. Required.
	SignInURL string
	// SignOutURL is where the pages' Sign out button posts (the sponsor
	// side's sign-out, which takes the same CSRF token); empty: no button.
	SignOutURL string
	// BaseURL is the external URL of the admin root, e.g.
	// "https://guest.example.com/lobby/admin". Required.
	BaseURL   string
	SecretKey []byte // for CSRF, flashes and test proofs; at least 32 bytes. Required
	SiteName  string // default "Lobby"
	TimeZone  *time.Location
	Logger    *slog.Logger
	Now       func() time.Time // default time.Now; tests inject a clock

	SecureCookies bool  // Secure cookies even over plain HTTP (behind a TLS proxy)
	MaxBodyBytes  int64 // default 256 KiB (a CA bundle is pasted or uploaded)

	// Where the client's address comes from (see portal.Config).
	TrustProxyHeaders bool
	ProxyHeader       string
	TrustedProxyHops  int

	// Mail sends the Send Test Email message. Required.
	Mail Mailer
	// SettingsSaved is called after the SMTP settings were saved, so that
	// this process uses them at once (other replicas re-read them within
	// notify.DefaultSettingsCacheTTL). Optional.
	SettingsSaved func()
	// CheckSecretExpiry raises or clears the client secret's expiry alarm
	// right after a save; default notify.CheckSecretExpiry (the alarm
	// without its email). Lobby passes its notify.Alarms', which also
	// emails the admins once per level.
	CheckSecretExpiry func(context.Context, notify.Settings, time.Time) error
	// TestConnection runs the connection test; default notify.TestConnection.
	TestConnection func(context.Context, notify.Settings) notify.Report
	// ProofTTL is how long a passing Test Connection allows Save; default
	// 10 minutes.
	ProofTTL time.Duration
	// MailWait is how long Send Test Email waits for the first delivery
	// attempt; default 20s.
	MailWait time.Duration
	// ExportSettings writes the settings file (JSON without secrets) the
	// export page downloads (lobby.ExportSettings). Optional: without it
	// the page offers no download.
	ExportSettings func(ctx context.Context) ([]byte, error)
	// ImportSettings imports a settings file, keeping every stored secret,
	// and says what changed (lobby.ImportSettings); actor is for the
	// settings' history. Optional: without it the page offers no import.
	ImportSettings func(ctx context.Context, data []byte, actor string) (SettingsImport, error)
	// Tests limits Test Connection and Send Test Email per admin: default
	// 10, then one every 6 seconds.
	Tests Limit
}

// withDefaults fills the defaults and checks c, naming every problem.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("admin: config: the Store is required"))
	}
	if c.Guests == nil {
		errs = append(errs, errors.New("admin: config: the guest rules (Guests) are required"))
	}
	if c.Staff == nil {
		errs = append(errs, errors.New("admin: config: the signed-in staff source (Staff) is required"))
	}
	if c.SignInURL == "" {
		errs = append(errs, errors.New("admin: config: SignInURL is required"))
	}
	if c.BaseURL == "" {
		errs = append(errs, errors.New("admin: config: BaseURL is required"))
	}
	if len(c.SecretKey) < 32 {
		errs = append(errs, errors.New("admin: config: SecretKey must be at least 32 bytes"))
	}
	if c.Mail == nil {
		errs = append(errs, errors.New("admin: config: Mail (the dispatcher) is required"))
	}
	if c.ProofTTL < 0 || c.MailWait < 0 || c.Tests.Burst < 0 || c.Tests.Every < 0 {
		errs = append(errs, errors.New("admin: config: ProofTTL, MailWait and Tests cannot be negative"))
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
	if c.TestConnection == nil {
		c.TestConnection = notify.TestConnection
	}
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, 256<<10)
	c.ProofTTL = cmp.Or(c.ProofTTL, 10*time.Minute)
	c.MailWait = cmp.Or(c.MailWait, 20*time.Second)
	c.Tests.Burst = cmp.Or(c.Tests.Burst, 10)
	c.Tests.Every = cmp.Or(c.Tests.Every, 6*time.Second)
	return c, nil
}
