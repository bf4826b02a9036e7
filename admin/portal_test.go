package admin

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

// portalForm is the portal page's form as a browser would post it, from
// the page's current values plus changes.
func portalValues(page string) url.Values {
	v := url.Values{"version": {hidden(page).Get("version")}}
	for _, m := range inputRe.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	for _, m := range textareaRe.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	for _, m := range checkedRe.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], "yes")
	}
	return v
}

func TestPortalSettingsSave(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		r := c.get("/portal")
		if r.status != http.StatusOK || !strings.Contains(r.body, "<h1>Guest portal</h1>") ||
			!strings.Contains(r.body, `href="http://lobby.test/lobby/portal/register">See the guest page</a>`) ||
			!strings.Contains(r.body, "Nothing is saved yet") {
			t.Fatalf("GET /portal = %d:\n%s", r.status, r.body)
		}
		form := portalValues(r.body)
		if form.Get("version") != "0" || form.Get("site_name") == "" || form.Get("terms") == "" {
			t.Fatalf("the form does not show the configuration's settings: %v", form)
		}
		form.Set("site_name", "Contoso Guests")
		form.Set("terms", "Be kind to the network.\n\nNo torrents.")
		form.Set("accent", "#7A1F5C")
		form.Set("allow_domains", "Example.com\nexample.org")
		form.Set("company_required", "yes")
		form.Set("require_approval", "yes")
		form.Set("approvers", "desk@corp.example")
		form.Set("registration_code", "tulip-42")
		r = c.post("/portal", c.csrf("/portal"), form)
		if r.status != http.StatusSeeOther || r.location != "portal" {
			t.Fatalf("save = %d %q:\n%s", r.status, r.location, r.body)
		}
		ps, err := b.guests.PortalSettings(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if ps.Version != 1 || ps.SiteName != "Contoso Guests" || ps.Terms != "Be kind to the network.\n\nNo torrents." ||
			ps.Accent != "#7a1f5c" || !slices.Equal(ps.AllowDomains, []string{"example.com", "example.org"}) ||
			!ps.Fields.Company.Show || !ps.Fields.Company.Required || !ps.RequireApproval ||
			!slices.Equal(ps.Approvers, []string{"desk@corp.example"}) || ps.RegistrationCode != "tulip-42" {
			t.Errorf("saved settings are %+v", ps)
		}
		r = c.get("/portal")
		if !strings.Contains(r.body, "Saved. The guest portal shows the new settings now.") ||
			!strings.Contains(r.body, "version 1, by staff:ada") || !strings.Contains(r.body, "No torrents.") ||
			!strings.Contains(r.body, "A code is set. Leave blank to keep it") {
			t.Errorf("the page after saving:\n%s", r.body)
		}
		// The code is write-only: a save with the field blank keeps it, and
		// "No registration code" removes it.
		form = portalValues(r.body)
		if form.Get("registration_code") != "" {
			t.Errorf("the registration code is sent back to the browser")
		}
		form.Set("site_name", "Contoso Guests 2")
		if r := c.post("/portal", c.csrf("/portal"), form); r.status != http.StatusSeeOther {
			t.Fatalf("second save = %d:\n%s", r.status, r.body)
		}
		if ps, _ := b.guests.PortalSettings(t.Context()); ps.RegistrationCode != "tulip-42" || ps.SiteName != "Contoso Guests 2" {
			t.Errorf("after a save with the code blank: code kept %t, site name %q", ps.RegistrationCode == "tulip-42", ps.SiteName)
		}

		// A save from the page as it was before the second save is stale:
		// refused, nothing changed, "reload".
		stale := clone(form)
		stale.Set("site_name", "Stale")
		r = c.post("/portal", c.csrf("/portal"), stale)
		if r.status != http.StatusConflict || !strings.Contains(r.body, "changed meanwhile") || !strings.Contains(r.body, ">Reload</a>") {
			t.Errorf("stale save = %d:\n%s", r.status, r.body)
		}
		if ps, _ := b.guests.PortalSettings(t.Context()); ps.SiteName != "Contoso Guests 2" || ps.Version != 2 {
			t.Errorf("a stale save changed the settings: %q version %d", ps.SiteName, ps.Version)
		}

		form = portalValues(c.get("/portal").body)
		form.Set("remove_code", "yes")
		if r := c.post("/portal", c.csrf("/portal"), form); r.status != http.StatusSeeOther {
			t.Fatalf("remove code = %d:\n%s", r.status, r.body)
		}
		if ps, _ := b.guests.PortalSettings(t.Context()); ps.RegistrationCode != "" {
			t.Error("No registration code kept the code")
		}
		b.noSecret(t, "tulip-42")
		entries, err := b.store.ListAudit(t.Context(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if e.Action == "settings.portal" && e.Actor == "staff:ada" {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d audited portal saves, want 3", n)
		}
	})
}

func TestPortalSettingsShowTheirErrorsBesideTheFields(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		form := portalValues(c.get("/portal").body)
		form.Set("site_name", "")
		form.Set("accent", "#ffff00")
		form.Set("terms", "")
		form.Set("allow_domains", "not a domain")
		form.Set("approvers", "nobody")
		r := c.post("/portal", c.csrf("/portal"), form)
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("invalid save = %d:\n%s", r.status, r.body)
		}
		for _, want := range []string{
			`<a href="#f-site_name">Enter the site name`,
			`<a href="#f-accent">The colour #ffff00 is too light`,
			`<a href="#f-terms">Enter the acceptable-use terms`,
			`id="f-allow_domains-error"`,
			`id="f-approvers-error"`,
			"There is a problem",
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		if ps, _ := b.guests.PortalSettings(t.Context()); ps.Version != 0 {
			t.Errorf("an invalid save was stored (version %d)", ps.Version)
		}
	})
}

var (
	inputRe    = regexp.MustCompile(`<input type="(?:text|password|email)" id="[^"]*" name="([^"]+)" value="([^"]*)"`)
	textareaRe = regexp.MustCompile(`<textarea [^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>`)
	checkedRe  = regexp.MustCompile(`<input type="checkbox" id="[^"]*" name="([^"]+)" value="yes" checked`)
)

func htmlUnescape(s string) string { return html.UnescapeString(s) }
