package guest

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

func pngLogo(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a wait for an event
	}
}

// TestPortalSettings: without a save the configuration's settings are in
// force; an admin's save wins at once here and within SettingsCacheTTL on
// another replica, applies to the rules (domains, approval, site name in
// emails), is audited, keeps the registration code sealed, and a stale
// version is a conflict.
func TestPortalSettings(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(c *Config) {
		c.Policy.BlockDomains = []string{"spam.example"}
		c.Policy.RegistrationCode = "seed-code"
	}, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		ps, err := b.svc.PortalSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ps.Version != 0 || ps.SiteName != "Test Lobby" || ps.Terms != DefaultTerms || !slices.Equal(ps.BlockDomains, []string{"spam.example"}) ||
			ps.RegistrationCode != "seed-code" || ps.RequireApproval {
			t.Fatalf("configured settings = %+v", ps)
		}
		// Another replica on the same store.
		replica, err := New(Config{Store: b.store, BaseURL: "https://wifi.example.com/portal/", Now: b.clock.Now,
			Policy: Policy{SiteName: "Test Lobby", TimeZone: time.UTC}})
		if err != nil {
			t.Fatal(err)
		}
		if ps, err := replica.PortalSettings(ctx); err != nil || ps.SiteName != "Test Lobby" {
			t.Fatalf("replica: %+v, %v", ps, err)
		}

		ps.SiteName = "  Contoso Guest Wi-Fi "
		ps.Logo = pngLogo(t)
		ps.Accent = "#0B5CAD"
		ps.Terms = "Be kind.\r\n\r\nNo torrents."
		ps.Fields.Company.Required = true
		ps.AllowDomains = []string{"Example.org", "@partner.example."}
		ps.BlockDomains = nil
		ps.Approvers = []string{"Desk@Corp.example"}
		ps.RegistrationCode = "tulip-42"
		if _, err := b.svc.SavePortalSettings(ctx, b.owner, ps, 0); !errors.Is(err, ErrForbidden) {
			t.Errorf("a sponsor saved the portal settings: %v", err)
		}
		saved, err := b.svc.SavePortalSettings(ctx, b.admin, ps, 0)
		if err != nil {
			t.Fatal(err)
		}
		if saved.Version != 1 || saved.SiteName != "Contoso Guest Wi-Fi" || saved.Accent != "#0b5cad" || saved.LogoType != "image/png" ||
			!saved.Fields.Company.Show || !slices.Equal(saved.AllowDomains, []string{"example.org", "partner.example"}) ||
			!slices.Equal(saved.Approvers, []string{"desk@corp.example"}) || saved.Terms != "Be kind.\n\nNo torrents." {
			t.Errorf("saved = %+v", saved)
		}
		got, err := b.svc.PortalSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got.UpdatedAt, saved.UpdatedAt = time.Time{}, time.Time{}
		if got.SiteName != saved.SiteName || got.Version != 1 || !bytes.Equal(got.Logo, saved.Logo) || got.RegistrationCode != "tulip-42" ||
			got.UpdatedBy != "staff:ada" || !slices.Equal(got.AllowDomains, saved.AllowDomains) || len(got.BlockDomains) != 0 {
			t.Errorf("read back = %+v, want %+v", got, saved)
		}
		waitFor(t, 3*SettingsCacheTTL, "the replica did not pick up the save", func() bool {
			ps, err := replica.PortalSettings(ctx)
			return err == nil && ps.Version == 1 && ps.SiteName == "Contoso Guest Wi-Fi"
		})

		// The rules use them.
		_, problems := b.svc.CheckApplication(Application{FirstName: "Eve", LastName: "Example", Email: "eve@spam.example"}, false)
		if len(problems) != 1 || !strings.Contains(problems[0].Message, "example.org, partner.example") {
			t.Errorf("an address outside the allowed domains: %v", problems)
		}
		if _, problems := b.svc.CheckApplication(Application{FirstName: "Eve", LastName: "Example", Email: "eve@sub.partner.example"}, false); len(problems) != 0 {
			t.Errorf("an address in an allowed domain: %v", problems)
		}
		m, err := b.svc.CredentialsMessage(b.guest(t, storage.GuestActive))
		if err != nil || !strings.Contains(m.Subject, "Contoso Guest Wi-Fi") {
			t.Errorf("credentials email subject %q (%v), want the saved site name", m.Subject, err)
		}
		reg := Registration{Visited: "nobody@corp.example"}
		if bad, err := b.svc.Sponsorship(ctx, &reg, true); err != nil || bad != nil || !slices.Equal(reg.Approvers, []string{"desk@corp.example"}) {
			t.Errorf("approvers = %v (%v, %v)", reg.Approvers, bad, err)
		}

		row, err := b.store.GetSetting(ctx, PortalSettingsKey)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(row.Value), "tulip-42") {
			t.Error("the registration code is stored in the plain value")
		}
		if e := b.auditFor(t, PortalSettingsKey); len(e) != 1 || e[0].Action != "settings.portal" || e[0].Actor != "staff:ada" ||
			strings.Contains(e[0].Detail, "tulip") {
			t.Errorf("audit = %+v", e)
		}

		ps.SiteName = "Stale"
		if _, err := b.svc.SavePortalSettings(ctx, b.admin, ps, 0); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "reload") {
			t.Errorf("a save from a stale version: %v, want ErrConflict", err)
		}
		got.RequireApproval, got.Approvers, got.Logo = true, nil, nil
		again, err := b.svc.SavePortalSettings(ctx, System(), got, got.Version)
		if err != nil || again.Version != 2 || again.LogoType != "" {
			t.Fatalf("second save = %+v, %v", again, err)
		}
		gt, err := b.svc.DefaultGuestType(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !b.svc.RequiresApproval(gt) || !b.svc.ApproverIsVisited(true) {
			t.Error("approval without approvers: want it required, by the person visited")
		}
		// Clearing the registration code clears it (not the configured one back).
		again.RegistrationCode = ""
		if _, err := b.svc.SavePortalSettings(ctx, b.admin, again, again.Version); err != nil {
			t.Fatal(err)
		}
		if ps, err := b.svc.PortalSettings(ctx); err != nil || ps.RegistrationCode != "" || ps.Version != 3 {
			t.Errorf("after clearing the code: %q, version %d, %v", ps.RegistrationCode, ps.Version, err)
		}
	})
}

// TestPortalSettingsLayerOverTheConfiguration: a stored document names
// only what it sets; the rest stays the configuration's.
func TestPortalSettingsLayerOverTheConfiguration(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(c *Config) {
		c.Policy.Terms = "Configured terms."
		c.Policy.AllowDomains = []string{"example.org"}
	}, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		if err := b.store.PutSetting(ctx, &storage.Setting{Key: PortalSettingsKey, Value: []byte(`{"site_name":"Imported"}`)}); err != nil {
			t.Fatal(err)
		}
		ps, err := b.svc.PortalSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ps.SiteName != "Imported" || ps.Terms != "Configured terms." || !slices.Equal(ps.AllowDomains, []string{"example.org"}) || ps.Version != 1 {
			t.Errorf("settings = %+v", ps)
		}
	})
}

func TestCheckPortalSettings(t *testing.T) {
	t.Parallel()
	good := PortalSettings{SiteName: "Lobby", Terms: "Be kind."}
	if _, err := CheckPortalSettings(good); err != nil {
		t.Fatalf("good settings: %v", err)
	}
	tests := []struct {
		name  string
		mod   func(*PortalSettings)
		field string
		want  string
	}{
		{"no site name", func(p *PortalSettings) { p.SiteName = " " }, "site_name", "Enter the site name"},
		{"site name on two lines", func(p *PortalSettings) { p.SiteName = "A\nB" }, "site_name", "one line"},
		{"long site name", func(p *PortalSettings) { p.SiteName = strings.Repeat("x", MaxSiteName+1) }, "site_name", "80 characters or fewer"},
		{"svg logo", func(p *PortalSettings) { p.Logo = []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>`) }, "logo", "PNG, JPEG, GIF or WebP"},
		{"large logo", func(p *PortalSettings) { p.Logo = make([]byte, MaxLogoBytes+1) }, "logo", "at most 48 KB"},
		{"colour name", func(p *PortalSettings) { p.Accent = "blue" }, "accent", "six hexadecimal digits"},
		{"light colour", func(p *PortalSettings) { p.Accent = "#ffcc00" }, "accent", "too light"},
		{"no terms", func(p *PortalSettings) { p.Terms = "\n" }, "terms", "Enter the acceptable-use terms"},
		{"bad domain", func(p *PortalSettings) { p.AllowDomains = []string{"exa mple.org"} }, "allow_domains", `"exa mple.org" is not a domain name`},
		{"allowed and blocked", func(p *PortalSettings) { p.AllowDomains, p.BlockDomains = []string{"a.example"}, []string{"A.example"} }, "block_domains", "both allowed and blocked"},
		{"bad approver", func(p *PortalSettings) { p.Approvers = []string{"desk"} }, "approvers", `"desk" is not an email address`},
		{"code with a line break", func(p *PortalSettings) { p.RegistrationCode = "a\nb" }, "registration_code", "one line"},
		{"sender name with CR LF", func(p *PortalSettings) { p.MailFromName = "Contoso\r\nBcc: x@evil.example" }, "mail_from_name", "one line"},
		{"long sender name", func(p *PortalSettings) { p.MailFromName = strings.Repeat("x", MaxMailFromName+1) }, "mail_from_name", "64 characters or fewer"},
	}
	for _, tt := range tests {
		ps := good
		tt.mod(&ps)
		_, err := CheckPortalSettings(ps)
		fe := FieldErrors(err)
		if !errors.Is(err, ErrInvalid) || len(fe) != 1 || fe[0].Field != tt.field || !strings.Contains(fe[0].Message, tt.want) {
			t.Errorf("%s: %v, want one problem with %s saying %q", tt.name, err, tt.field, tt.want)
		}
	}
	// Every problem at once.
	_, err := CheckPortalSettings(PortalSettings{Accent: "red", Approvers: []string{"x"}})
	var fields []string
	for _, fe := range FieldErrors(err) {
		fields = append(fields, fe.Field)
	}
	if want := []string{"site_name", "accent", "terms", "approvers"}; !slices.Equal(fields, want) {
		t.Errorf("problems in %v, want %v", fields, want)
	}
}

// TestEmailTemplates: an admin's override is previewed, saved (audited),
// sent at once, listed, and restored; a template with an error is refused
// with its line; stale versions conflict.
func TestEmailTemplates(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		list, version, err := b.svc.EmailTemplates(ctx)
		if err != nil || version != 0 || len(list) != len(notify.TemplateNames()) {
			t.Fatalf("EmailTemplates = %d, %d, %v", len(list), version, err)
		}
		for _, et := range list {
			if et.Overridden || et.Source != et.Default || et.Title == "" || len(et.Placeholders) == 0 {
				t.Errorf("%s: %+v", et.Name, et)
			}
		}

		src := notify.Source{Subject: "Welcome to {{.SiteName}}, {{.GuestName}}"}
		subject, text, _, err := b.svc.PreviewEmailTemplate(ctx, notify.TemplateGuestCredentials, src)
		if err != nil || subject != "Welcome to Test Lobby, Eve Example" || !strings.Contains(text, "Zq8-x1-pw") {
			t.Errorf("preview = %q, %v", subject, err)
		}
		if _, _, _, err := b.svc.PreviewEmailTemplate(ctx, notify.TemplateGuestCredentials, notify.Source{Text: "Hi\n{{.Nickname}}"}); !errors.Is(err, ErrInvalid) ||
			!strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "{{.Nickname}}") || FieldErrors(err)[0].Field != "text" {
			t.Errorf("preview of an unknown placeholder: %v", err)
		}
		if list, _, _ := b.svc.EmailTemplates(ctx); list[0].Overridden {
			t.Error("a preview saved the template")
		}

		if _, err := b.svc.SaveEmailTemplate(ctx, b.admin, notify.TemplateGuestCredentials, notify.Source{HTML: "<p>{{if .GuestName}}</p>"}, 0); !errors.Is(err, ErrInvalid) ||
			!strings.Contains(err.Error(), "HTML body, line 1") {
			t.Errorf("saving a template that does not parse: %v", err)
		}
		if _, err := b.svc.SaveEmailTemplate(ctx, b.owner, notify.TemplateGuestCredentials, src, 0); !errors.Is(err, ErrForbidden) {
			t.Errorf("a sponsor saved a template: %v", err)
		}
		v, err := b.svc.SaveEmailTemplate(ctx, b.admin, notify.TemplateGuestCredentials, src, 0)
		if err != nil || v != 1 {
			t.Fatalf("save = %d, %v", v, err)
		}
		m, err := b.svc.CredentialsMessage(b.guest(t, storage.GuestActive))
		if err != nil || m.Subject != "Welcome to Test Lobby, Eve Example" {
			t.Errorf("credentials email subject %q (%v), want the override", m.Subject, err)
		}
		list, version, _ = b.svc.EmailTemplates(ctx)
		if version != 1 || !list[0].Overridden || list[0].Source.Subject != src.Subject || list[0].Source.Text != list[0].Default.Text {
			t.Errorf("after saving: version %d, %+v", version, list[0])
		}
		if _, err := b.svc.SaveEmailTemplate(ctx, b.admin, notify.TemplateGuestDenied, src, 0); !errors.Is(err, ErrConflict) {
			t.Errorf("a save from a stale version: %v, want ErrConflict", err)
		}
		if e := b.auditFor(t, notify.TemplatesSettingsKey); len(e) != 1 || e[0].Action != "settings.template_save" || !strings.Contains(e[0].Detail, "guest_credentials") {
			t.Errorf("audit = %+v", e)
		}

		v, err = b.svc.RestoreEmailTemplate(ctx, b.admin, notify.TemplateGuestCredentials, 1)
		if err != nil || v != 2 {
			t.Fatalf("restore = %d, %v", v, err)
		}
		m, _ = b.svc.CredentialsMessage(b.guest(t, storage.GuestActive))
		if m.Subject != "Your guest access to Test Lobby" {
			t.Errorf("after restoring, subject %q, want the default", m.Subject)
		}
		if v, err := b.svc.RestoreEmailTemplate(ctx, b.admin, notify.TemplateGuestCredentials, 2); err != nil || v != 2 {
			t.Errorf("restoring a default again = %d, %v; want no change", v, err)
		}
	})
}

// TestGuestEmailSettings: guest emails' From name is the site name until
// an admin names a sender; the acting sponsor is the Reply-To until an
// admin turns that off; both are saved, versioned and audited.
func TestGuestEmailSettings(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		ps, err := b.svc.PortalSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ps.MailFromName != "" || !ps.SponsorReplyTo {
			t.Fatalf("configured: sender name %q, sponsor Reply-To %t; want none and true", ps.MailFromName, ps.SponsorReplyTo)
		}
		g := b.guest(t, storage.GuestActive)
		res, err := b.svc.Resend(ctx, b.owner, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m := b.mailOf(t, res.Mail); m.FromName != "Test Lobby" || m.ReplyTo != b.owner.Staff.Email {
			t.Errorf("before: From name %q, Reply-To %q; want the site name and %s", m.FromName, m.ReplyTo, b.owner.Staff.Email)
		}

		ps.MailFromName = "  Contoso Reception "
		ps.SponsorReplyTo = false
		saved, err := b.svc.SavePortalSettings(ctx, b.admin, ps, ps.Version)
		if err != nil {
			t.Fatal(err)
		}
		if saved.MailFromName != "Contoso Reception" || saved.SponsorReplyTo || saved.Version != 1 {
			t.Errorf("saved %+v", saved)
		}
		if au := b.auditFor(t, PortalSettingsKey); len(au) == 0 || !strings.Contains(au[len(au)-1].Detail, `email sender name "Contoso Reception", sponsor as Reply-To off`) {
			t.Errorf("audit = %+v", au)
		}
		b.clock.Advance(time.Minute)
		res, err = b.svc.Resend(ctx, b.owner, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m := b.mailOf(t, res.Mail); m.FromName != "Contoso Reception" || m.ReplyTo != "" {
			t.Errorf("after: From name %q, Reply-To %q; want Contoso Reception and none", m.FromName, m.ReplyTo)
		}
		// A message the system sends (no sponsor) has the name too.
		if m, err := b.svc.ExpiryMessage(g); err != nil || m.FromName != "Contoso Reception" {
			t.Errorf("expiry message: From name %q, %v", m.FromName, err)
		}

		// Turned on again: the sponsor is the Reply-To once more.
		saved.SponsorReplyTo = true
		if _, err := b.svc.SavePortalSettings(ctx, b.admin, saved, saved.Version); err != nil {
			t.Fatal(err)
		}
		res, err = b.svc.ResetPassword(ctx, b.owner, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m := b.mailOf(t, res.Mail); m.ReplyTo != b.owner.Staff.Email {
			t.Errorf("on again: Reply-To %q, want %s", m.ReplyTo, b.owner.Staff.Email)
		}
	})
}
