package guest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// PortalSettingsKey is the storage setting key of the portal settings an
// admin changes at run time.
const PortalSettingsKey = "portal"

// secretRegistrationCode is the key of the registration code in the
// setting's sealed secrets: it is kept out of exports like other secrets.
const secretRegistrationCode = "registration_code"

// SettingsCacheTTL is how often a Service checks the stored portal
// settings and email templates for a new version: a save applies on every
// replica within this time (at once on the replica that saved it).
const SettingsCacheTTL = 2 * time.Second

// Limits of the portal settings.
const (
	MaxSiteName  = 80
	MaxTerms     = 20000
	MaxLogoBytes = 48 << 10 // a logo is served by the portal itself (its CSP allows only its own images)
	MaxDomains   = 200
	MaxApprovers = 50
	// MaxMailFromName is the longest display name of guest emails.
	MaxMailFromName = 64
)

// FieldRule says whether an optional registration field is shown and
// whether it must be filled in. Required implies Show.
type FieldRule struct {
	Show     bool `json:"show"`
	Required bool `json:"required"`
}

// Fields configures the optional registration fields. First name, last
// name and email are always shown and required.
type Fields struct {
	Phone         FieldRule `json:"phone"`
	Company       FieldRule `json:"company"`
	PersonVisited FieldRule `json:"person_visited"`
	Reason        FieldRule `json:"reason"`
}

// PortalSettings are the guest portal's settings an admin may change at run
// time. The Service's Policy (the embedder's configuration) is their seed:
// what was never saved keeps the configured value.
type PortalSettings struct {
	SiteName string `json:"site_name"`
	// Logo is a PNG, JPEG, GIF or WebP image of at most MaxLogoBytes, shown
	// beside the site name; LogoType is its media type (set by
	// SavePortalSettings from the bytes). Empty: no logo.
	Logo     []byte `json:"logo"`
	LogoType string `json:"logo_type"`
	// Accent is the colour of buttons and links as #rrggbb; empty: the
	// stylesheet's. It must have a contrast of at least 4.5:1 with white
	// (white text sits on it, and it sits on white pages). The dark colour
	// scheme keeps its own accent.
	Accent string `json:"accent"`
	Fields Fields `json:"fields"`
	// Terms is the acceptable-use text; paragraphs split by blank lines.
	Terms                      string   `json:"terms"`
	AllowDomains, BlockDomains []string `json:"-"`
	RequireApproval            bool     `json:"require_approval"`
	// Approvers get the approval emails; empty: the person visited approves.
	Approvers        []string `json:"approvers"`
	RegistrationCode string   `json:"-"` // sealed at rest; empty: none needed

	// MailFromName is the display name of guest emails' From, such as
	// "Contoso Reception"; empty: the site name. The address stays the
	// SMTP settings' sender mailbox.
	MailFromName string `json:"mail_from_name"`
	// SponsorReplyTo: the emails a staff user's action sends (credentials,
	// resend, reset, extension, approval) carry their address as Reply-To,
	// so guests' replies reach them. False: no Reply-To. The
	// configuration's value is true.
	SponsorReplyTo bool `json:"sponsor_reply_to"`
	// SendGuestEmail: guests get email (credentials, the pending note,
	// approved or denied, a new password, an extension, the expiry
	// notice). False: no email to a guest is queued; the success page
	// shows a self-registered guest's credentials, and a sponsor's
	// create, resend and reset show them to the sponsor to hand over
	// (Result.HandOver). Email to staff (approval requests, alarms, test
	// emails) still goes. The configuration's value is true.
	SendGuestEmail bool `json:"send_guest_email"`

	// Version is the stored version these settings come from: 0 when they
	// were never saved (the configuration's). Pass it back to
	// SavePortalSettings.
	Version   int64     `json:"-"`
	UpdatedAt time.Time `json:"-"`
	UpdatedBy string    `json:"-"`
}

// portalDoc is how PortalSettings are stored: JSON keys present in the
// stored value win over the configuration's.
type portalDoc struct {
	PortalSettings
	AllowDomains []string `json:"allow_domains"`
	BlockDomains []string `json:"block_domains"`
}

// seedPortalSettings are the settings of the configuration (Policy), before
// anything was saved.
func (p Policy) seedPortalSettings() PortalSettings {
	return PortalSettings{
		SiteName: p.SiteName, Logo: p.Logo, LogoType: sniffImage(p.Logo), Accent: p.Accent, Fields: p.Fields, Terms: p.Terms,
		AllowDomains: p.AllowDomains, BlockDomains: p.BlockDomains,
		RequireApproval: p.RequireApproval, Approvers: p.Approvers, RegistrationCode: p.RegistrationCode,
		SponsorReplyTo: true, SendGuestEmail: true,
	}
}

// clone copies the lists of s, so that callers may change what they got.
// The logo (up to MaxLogoBytes, read on every page) is shared: callers
// replace it rather than change its bytes.
func (s PortalSettings) clone() PortalSettings {
	s.AllowDomains = slices.Clone(s.AllowDomains)
	s.BlockDomains = slices.Clone(s.BlockDomains)
	s.Approvers = slices.Clone(s.Approvers)
	return s
}

// PortalSettings returns the portal settings in force: those saved, over
// the configuration's. They are re-read from the store at most every
// SettingsCacheTTL. The result is the caller's, but for the bytes of
// Logo, which are shared and must not be changed in place.
func (s *Service) PortalSettings(ctx context.Context) (PortalSettings, error) {
	l, err := s.live(ctx)
	if err != nil {
		return PortalSettings{}, err
	}
	return l.portal.clone(), nil
}

// SavePortalSettings validates ps and saves it, if the stored version is
// still version (ps.Version as read; 0 for the first save): otherwise the
// error wraps ErrConflict. Bad fields give *InvalidError problems (all of
// them, joined; see FieldErrors), with Field one of site_name, logo,
// accent, terms, allow_domains, block_domains, approvers,
// registration_code, mail_from_name. The save is audited ("settings.portal") and applies
// at once in this process, within SettingsCacheTTL in the others. Only an
// admin (or the system) may save.
func (s *Service) SavePortalSettings(ctx context.Context, actor Actor, ps PortalSettings, version int64) (PortalSettings, error) {
	if err := adminOnly(actor, "change the portal settings"); err != nil {
		return PortalSettings{}, err
	}
	ps, err := CheckPortalSettings(ps)
	if err != nil {
		return PortalSettings{}, err
	}
	value, err := json.Marshal(portalDoc{PortalSettings: ps, AllowDomains: ps.AllowDomains, BlockDomains: ps.BlockDomains})
	if err != nil {
		return PortalSettings{}, fmt.Errorf("guest: save portal settings: %w", err)
	}
	row := &storage.Setting{Key: PortalSettingsKey, Version: version, Value: value, UpdatedBy: actor.String(),
		Secrets: map[string]string{secretRegistrationCode: ps.RegistrationCode}}
	err = s.store.WithTx(ctx, func(tx storage.Store) error {
		if err := tx.PutSetting(ctx, row); err != nil {
			return err
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: actor.String(), Action: "settings.portal", Subject: PortalSettingsKey,
			Detail: fmt.Sprintf("version %d: site name %q, approval %t, %d allowed and %d blocked domains, registration code %s, email sender name %q, sponsor as Reply-To %s, guest email %s",
				row.Version, ps.SiteName, ps.RequireApproval, len(ps.AllowDomains), len(ps.BlockDomains), onOff(ps.RegistrationCode != ""),
				ps.MailFromName, onOff(ps.SponsorReplyTo), onOff(ps.SendGuestEmail))})
	})
	if errors.Is(err, storage.ErrConflict) {
		return PortalSettings{}, fmt.Errorf("guest: someone else saved the portal settings meanwhile; reload them and make your changes again: %w", err)
	}
	if err != nil {
		return PortalSettings{}, fmt.Errorf("guest: save portal settings: %w", err)
	}
	s.settings.invalidate()
	ps.Version, ps.UpdatedAt, ps.UpdatedBy = row.Version, row.UpdatedAt, row.UpdatedBy
	s.log.InfoContext(ctx, "portal settings saved", "version", row.Version, "actor", actor.String())
	return ps.clone(), nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// adminOnly refuses every actor but an enabled admin and the system.
func adminOnly(a Actor, what string) error {
	switch {
	case a.Staff == nil && a.Approver == "":
		return nil
	case a.Staff == nil:
		return fmt.Errorf("%w: an approval link only approves or denies", ErrForbidden)
	case a.Staff.Disabled:
		return fmt.Errorf("%w: the account %q is disabled; ask an admin to enable it", ErrForbidden, a.Staff.Username)
	case a.Staff.Role != storage.RoleAdmin:
		return fmt.Errorf("%w: only admins may %s", ErrForbidden, what)
	}
	return nil
}

var accentRE = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// CheckPortalSettings checks ps and returns it normalised (trimmed, domains
// and addresses lower-cased, the logo's type sniffed), or every problem as
// *InvalidError joined (see FieldErrors).
func CheckPortalSettings(ps PortalSettings) (PortalSettings, error) {
	var errs []error
	bad := func(field, msg string) { errs = append(errs, invalid(field, msg)) }

	ps.SiteName = strings.TrimSpace(ps.SiteName)
	bad0 := func(field, msg string) {
		if msg != "" {
			bad(field, msg)
		}
	}
	bad0("site_name", CheckLine("The site name", ps.SiteName, MaxSiteName, true, "Enter the site name guests see, such as your organisation's."))

	if len(ps.Logo) == 0 {
		ps.Logo, ps.LogoType = nil, ""
	} else if len(ps.Logo) > MaxLogoBytes {
		bad("logo", fmt.Sprintf("The logo is %d KB; use an image of at most %d KB.", (len(ps.Logo)+1023)/1024, MaxLogoBytes>>10))
	} else if ps.LogoType = sniffImage(ps.Logo); ps.LogoType == "" {
		bad("logo", "The logo must be a PNG, JPEG, GIF or WebP image (SVG is not accepted).")
	}

	ps.Accent = strings.ToLower(strings.TrimSpace(ps.Accent))
	switch {
	case ps.Accent == "":
	case !accentRE.MatchString(ps.Accent):
		bad("accent", "Give the colour as # and six hexadecimal digits, such as #0b5cad.")
	default:
		if c := contrast(ps.Accent, "#ffffff"); c < 4.5 {
			bad("accent", fmt.Sprintf("The colour %s is too light: white text on it has a contrast of %.1f:1, and at least 4.5:1 is needed. Choose a darker shade.", ps.Accent, c))
		}
	}

	ps.Terms = strings.TrimSpace(strings.ReplaceAll(ps.Terms, "\r\n", "\n"))
	switch {
	case ps.Terms == "":
		bad("terms", "Enter the acceptable-use terms guests must accept.")
	case !utf8.ValidString(ps.Terms):
		bad("terms", "The terms contain characters we cannot read. Type them again.")
	case utf8.RuneCountInString(ps.Terms) > MaxTerms:
		bad("terms", "The terms must be "+strconv.Itoa(MaxTerms)+" characters or fewer.")
	}

	for _, r := range []*FieldRule{&ps.Fields.Phone, &ps.Fields.Company, &ps.Fields.PersonVisited, &ps.Fields.Reason} {
		r.Show = r.Show || r.Required
	}

	domains := func(field, label string, ds []string) []string {
		var out []string
		for _, d := range ds {
			d = strings.Trim(strings.ToLower(strings.TrimSpace(d)), "@.")
			if d == "" || slices.Contains(out, d) {
				continue
			}
			if !isDomain(d) {
				bad(field, fmt.Sprintf("%q is not a domain name; write domains such as example.com, one per line.", d))
				continue
			}
			out = append(out, d)
		}
		if len(out) > MaxDomains {
			bad(field, fmt.Sprintf("%s may hold at most %d domains (got %d).", label, MaxDomains, len(out)))
		}
		return out
	}
	ps.AllowDomains = domains("allow_domains", "The allowed domains", ps.AllowDomains)
	ps.BlockDomains = domains("block_domains", "The blocked domains", ps.BlockDomains)
	for _, d := range ps.AllowDomains {
		if slices.Contains(ps.BlockDomains, d) {
			bad("block_domains", fmt.Sprintf("%s is both allowed and blocked; remove it from one of the lists.", d))
		}
	}

	var approvers []string
	for _, a := range ps.Approvers {
		if strings.TrimSpace(a) == "" {
			continue
		}
		e, msg := NormalizeEmail(a)
		if msg != "" {
			bad("approvers", fmt.Sprintf("%q is not an email address; write one address per line, like name@example.com.", strings.TrimSpace(a)))
			continue
		}
		if !slices.Contains(approvers, e) {
			approvers = append(approvers, e)
		}
	}
	if len(approvers) > MaxApprovers {
		bad("approvers", fmt.Sprintf("At most %d approvers (got %d); use a shared mailbox for a larger team.", MaxApprovers, len(approvers)))
	}
	ps.Approvers = approvers

	ps.RegistrationCode = strings.TrimSpace(ps.RegistrationCode)
	bad0("registration_code", CheckLine("The registration code", ps.RegistrationCode, MaxCode, false, ""))

	ps.MailFromName = strings.TrimSpace(ps.MailFromName)
	bad0("mail_from_name", CheckLine("The sender name", ps.MailFromName, MaxMailFromName, false, ""))
	if err := errors.Join(errs...); err != nil {
		return PortalSettings{}, err
	}
	return ps, nil
}

// sniffImage is the media type of a PNG, JPEG, GIF or WebP image, or "".
func sniffImage(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	switch t := http.DetectContentType(b); t {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return t
	}
	return ""
}

var domainRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func isDomain(d string) bool { return len(d) <= 253 && domainRE.MatchString(d) }

// contrast is the WCAG contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	ch := func(i int) float64 {
		v, _ := strconv.ParseUint(hex[i:i+2], 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(1) + 0.7152*ch(3) + 0.0722*ch(5)
}

// liveConfig is what admins change at run time, as in force: the portal
// settings and the email renderer with the saved template overrides.
type liveConfig struct {
	portal          PortalSettings
	render          *notify.Renderer
	portalVersion   int64
	templateVersion int64
}

// settingsCache keeps the liveConfig, checking the store's versions at most
// every SettingsCacheTTL (on the real clock: it bounds staleness). Its
// zero value is ready.
type settingsCache struct {
	mu      sync.Mutex
	cur     *liveConfig
	checked time.Time
}

func (c *settingsCache) invalidate() {
	c.mu.Lock()
	c.checked = time.Time{}
	c.mu.Unlock()
}

// live returns the configuration in force. When the store cannot be read
// it keeps what it had (logging the error), and fails only when it never
// read it.
func (s *Service) live(ctx context.Context) (*liveConfig, error) {
	c := &s.settings
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && !c.checked.IsZero() && time.Since(c.checked) < SettingsCacheTTL {
		return c.cur, nil
	}
	start := time.Now()
	next, err := s.readLive(ctx, c.cur)
	if err != nil {
		if c.cur != nil {
			s.log.WarnContext(ctx, "guest: could not re-read the portal settings and templates; using those read before", "error", err.Error())
			c.checked = start
			return c.cur, nil
		}
		return nil, err
	}
	c.cur, c.checked = next, start
	return next, nil
}

// liveNow is live for the rules that take no context: they run within a
// request that read the settings moments ago, so this is a cache hit; else
// it reads with a short deadline and, failing that, uses the configuration.
func (s *Service) liveNow() *liveConfig {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l, err := s.live(ctx)
	if err != nil {
		s.log.Warn("guest: could not read the portal settings; using the configuration's", "error", err.Error())
		return &liveConfig{portal: s.pol.seedPortalSettings(), render: s.render}
	}
	return l
}

// readLive reads both documents, reusing what old parsed when a version
// did not change.
func (s *Service) readLive(ctx context.Context, old *liveConfig) (*liveConfig, error) {
	next := &liveConfig{portal: s.pol.seedPortalSettings(), render: s.render}
	row, err := s.store.GetSetting(ctx, PortalSettingsKey)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("guest: read the portal settings: %w", err)
	case old != nil && old.portalVersion == row.Version:
		next.portal, next.portalVersion = old.portal, old.portalVersion
	default:
		ps, err := decodePortal(row, next.portal)
		if err != nil {
			return nil, err
		}
		next.portal, next.portalVersion = ps, row.Version
	}
	tpl, err := s.store.GetSetting(ctx, notify.TemplatesSettingsKey)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("guest: read the email templates: %w", err)
	case old != nil && old.templateVersion == tpl.Version:
		next.render, next.templateVersion = old.render, old.templateVersion
	default:
		ov, err := notify.DecodeOverrides(tpl)
		if err != nil {
			return nil, err
		}
		r, err := s.render.With(ov)
		if err != nil {
			// A stored override that no longer parses (saved before a
			// check existed) must not stop mail: keep the defaults.
			s.log.ErrorContext(ctx, "guest: a saved email template does not parse; sending the default instead", "error", err.Error())
			r = s.render
		}
		next.render, next.templateVersion = r, tpl.Version
	}
	return next, nil
}

// decodePortal lays the stored row over seed.
func decodePortal(row *storage.Setting, seed PortalSettings) (PortalSettings, error) {
	doc := portalDoc{PortalSettings: seed.clone(), AllowDomains: seed.AllowDomains, BlockDomains: seed.BlockDomains}
	dec := json.NewDecoder(bytes.NewReader(row.Value))
	if err := dec.Decode(&doc); err != nil {
		return PortalSettings{}, fmt.Errorf("guest: the stored portal settings (version %d) are not valid: %w", row.Version, err)
	}
	ps := doc.PortalSettings
	ps.AllowDomains, ps.BlockDomains = doc.AllowDomains, doc.BlockDomains
	if code, ok := row.Secrets[secretRegistrationCode]; ok {
		ps.RegistrationCode = code
	}
	ps.Version, ps.UpdatedAt, ps.UpdatedBy = row.Version, row.UpdatedAt, row.UpdatedBy
	return ps, nil
}
