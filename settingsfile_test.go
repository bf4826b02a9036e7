package lobby

import (
	"encoding/json"
	"github.com/google/uuid"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

const (
	exportSecret      = "client-secret-VALUE-7f3a9c"
	exportProxySecret = "proxy-pass-b41d"
)

func exportSettings() notify.Settings {
	return notify.Settings{
		Host: "smtp.office365.com", Port: 587, Security: notify.SecurityStartTLS, From: "lobby@corp.example",
		AuthMode: notify.AuthExchangeOnline, TenantID: "11111111-2222-3333-4444-555555555555",
		ClientID: "66666666-7777-8888-9999-000000000000", ClientSecret: exportSecret,
		ClientSecretExpires: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC),
		ProxyURL:            "http://lobby:" + exportProxySecret + "@proxy.corp.example:3128",
	}
}

// seedSettings saves SMTP settings with secrets, a guest type and a sponsor
// group in st.
func seedSettings(t *testing.T, st storage.Store) {
	t.Helper()
	if _, err := notify.SaveSettings(t.Context(), st, exportSettings(), 0); err != nil {
		t.Fatal(err)
	}
	if err := st.PutGuestType(t.Context(), storage.GuestType{Name: "contractor", Description: "Contractors",
		DefaultDuration: 7 * 24 * time.Hour, MaxDuration: 30 * 24 * time.Hour, RequireApproval: true, ExpiryNotice: 48 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSponsorGroup(t.Context(), storage.SponsorGroup{Name: "reception", Description: "Front desk",
		GuestTypes: []string{"contractor"}, Permissions: []storage.Permission{storage.AllPermissions[0]}}); err != nil {
		t.Fatal(err)
	}
}

// The export holds the settings but no secret; imported into an empty
// store it gives the same settings, without secrets; imported over the
// stored ones it restores them and keeps every stored secret.
func TestSettingsExportImport(t *testing.T) {
	t.Parallel()
	eachAlarmBackend(t, func(t *testing.T, b *watchBundle) {
		ctx := t.Context()
		seedSettings(t, b.store)
		data, err := ExportSettings(ctx, b.store, b.clock())
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{exportSecret, exportProxySecret} {
			if strings.Contains(string(data), secret) {
				t.Fatalf("the export holds a secret:\n%s", data)
			}
		}
		for _, want := range []string{`"version": 1`, "smtp.office365.com", "66666666-7777-8888-9999-000000000000", "contractor", "reception", "168h0m0s"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("the export lacks %s:\n%s", want, data)
			}
		}

		// Over changed settings: the file's are back, the secrets kept.
		changed := exportSettings()
		changed.Host, changed.Port = "smtp.example.net", 2525
		if _, err := notify.SaveSettings(ctx, b.store, changed, 1); err != nil {
			t.Fatal(err)
		}
		rep, err := ImportSettings(ctx, b.store, data, "staff:root")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rep.Settings, []string{"smtp"}) || rep.GuestTypes != 1 || rep.SponsorGroups < 1 ||
			!slices.Equal(rep.SecretsKept, []string{"smtp.client_secret", "smtp.proxy_url"}) || len(rep.SecretsIgnored) != 0 {
			t.Errorf("report = %+v", rep)
		}
		got, err := notify.LoadSettings(ctx, b.store)
		if err != nil {
			t.Fatal(err)
		}
		want := exportSettings()
		if got.Host != want.Host || got.Port != want.Port || got.ClientSecret != exportSecret || got.ProxyURL != want.ProxyURL ||
			!got.ClientSecretExpires.Equal(want.ClientSecretExpires) || got.Version != 3 {
			t.Errorf("after the import: host %s:%d, version %d, secret kept %v, proxy kept %v, expiry %v; want %s:%d, version 3, both kept",
				got.Host, got.Port, got.Version, got.ClientSecret == exportSecret, got.ProxyURL == want.ProxyURL, got.ClientSecretExpires,
				want.Host, want.Port)
		}

		// A file carrying a secret does not overwrite the stored one.
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		doc["settings"].(map[string]any)["smtp"].(map[string]any)["client_secret"] = "an-attacker-secret"
		evil, _ := json.Marshal(doc)
		rep, err = ImportSettings(ctx, b.store, evil, "staff:root")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rep.SecretsIgnored, []string{"smtp.client_secret"}) {
			t.Errorf("SecretsIgnored = %v, want smtp.client_secret", rep.SecretsIgnored)
		}
		if got, err := notify.LoadSettings(ctx, b.store); err != nil || got.ClientSecret != exportSecret {
			t.Fatalf("after importing a file with a secret: kept %v, %v; want the stored secret", got.ClientSecret == exportSecret, err)
		}

		// Into an empty store: everything but the secrets.
		fresh := newWatchBundle(t, b.store.Backend())
		if _, err := ImportSettings(ctx, fresh.store, data, "system"); err != nil {
			t.Fatal(err)
		}
		got, err = notify.LoadSettings(ctx, fresh.store)
		if err != nil {
			t.Fatal(err)
		}
		if got.Host != want.Host || got.ClientID != want.ClientID || got.ClientSecret != "" || got.ProxyURL != "" {
			t.Errorf("imported into an empty store: %s, client %s, secret set %v, proxy %q; want the settings without secrets",
				got.Host, got.ClientID, got.ClientSecret != "", got.ProxyURL)
		}
		gt, err := fresh.store.GetGuestType(ctx, "contractor")
		if err != nil || gt.DefaultDuration != 7*24*time.Hour || gt.MaxDuration != 30*24*time.Hour || !gt.RequireApproval ||
			gt.ExpiryNotice != 48*time.Hour || gt.Description != "Contractors" {
			t.Errorf("guest type = %+v, %v", gt, err)
		}
		if g, err := fresh.store.GetSponsorGroup(ctx, "reception"); err != nil || !slices.Equal(g.GuestTypes, []string{"contractor"}) {
			t.Errorf("sponsor group = %+v, %v", g, err)
		}
		again, err := ExportSettings(ctx, fresh.store, b.clock())
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(data) {
			t.Errorf("export of the imported settings differs:\n%s\nwant\n%s", again, data)
		}
	})
}

// A file of another version, not JSON, or with unknown fields is refused
// with a message and changes nothing.
func TestSettingsImportRefusals(t *testing.T) {
	t.Parallel()
	b := newWatchBundle(t, "sqlite")
	seedSettings(t, b.store)
	data, err := ExportSettings(t.Context(), b.store, b.clock())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"version 2", strings.Replace(string(data), `"version": 1`, `"version": 2`, 1), "version 2, and this Lobby reads version 1"},
		{"no version", `{"settings": {}}`, `no "version"`},
		{"not JSON", "host=smtp", "not a Lobby settings file"},
		{"unknown field", strings.Replace(string(data), `"version": 1,`, `"version": 1, "staff": [],`, 1), `unknown field "staff"`},
		{"unknown document", `{"version": 1, "settings": {"ldap": {}}}`, `unknown settings document "ldap"`},
		{"bad duration", strings.Replace(string(data), `"168h0m0s"`, `"a week"`, 1), `default_duration "a week" is not a duration`},
	} {
		if _, err := ImportSettings(t.Context(), b.store, []byte(tc.file), "system"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", tc.name, err, tc.want)
		}
	}
	if s, err := b.store.GetSetting(t.Context(), notify.SettingsKey); err != nil || s.Version != 1 {
		t.Fatalf("after the refusals the SMTP settings are at version %v (%v), want 1: nothing changed", s, err)
	}
}

// The portal settings and the edited email templates travel in the file
// too; the portal's registration code (a secret) does not, and an import
// keeps the stored one.
func TestSettingsExportImportPortalAndTemplates(t *testing.T) {
	t.Parallel()
	eachAlarmBackend(t, func(t *testing.T, b *watchBundle) {
		ctx := t.Context()
		rules, err := guest.New(guest.Config{Store: b.store, BaseURL: "https://guest.example.com/portal", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		admin := guest.Actor{Staff: &storage.Staff{ID: uuid.New(), Username: "root", Role: storage.RoleAdmin}}
		const code = "Lighthouse-4711"
		ps, err := rules.PortalSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ps.SiteName, ps.RegistrationCode, ps.Terms = "Contoso Reception", code, "Be kind to the printer."
		if ps, err = rules.SavePortalSettings(ctx, admin, ps, ps.Version); err != nil {
			t.Fatal(err)
		}
		if _, err := rules.SaveEmailTemplate(ctx, admin, notify.TemplateTestEmail, notify.Source{Subject: "Hello from {{.SiteName}}"}, 0); err != nil {
			t.Fatal(err)
		}
		data, err := ExportSettings(ctx, b.store, b.clock())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), code) {
			t.Fatal("the export holds the registration code")
		}
		for _, want := range []string{"Contoso Reception", "Be kind to the printer.", "Hello from {{.SiteName}}"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("the export lacks %q", want)
			}
		}

		ps.SiteName, ps.Terms = "Somewhere else", "Other terms."
		if _, err := rules.SavePortalSettings(ctx, admin, ps, ps.Version); err != nil {
			t.Fatal(err)
		}
		rep, err := ImportSettings(ctx, b.store, data, "staff:root")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(rep.Settings, guest.PortalSettingsKey) || !slices.Contains(rep.Settings, notify.TemplatesSettingsKey) {
			t.Errorf("report settings = %v, want the portal settings and the templates", rep.Settings)
		}
		fresh, err := guest.New(guest.Config{Store: b.store, BaseURL: "https://guest.example.com/portal", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := fresh.PortalSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.SiteName != "Contoso Reception" || got.Terms != "Be kind to the printer." || got.RegistrationCode != code {
			t.Errorf("after the import: site %q, terms %q, code kept %v; want the exported ones and the stored code",
				got.SiteName, got.Terms, got.RegistrationCode == code)
		}
	})
}
