package admin

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/storage"
)

const credentials = "/templates/" + notify.TemplateGuestCredentials

// editor is the template editor's form as on page, plus changes.
func editor(page string) url.Values {
	v := url.Values{"version": {hidden(page).Get("version")}}
	for _, m := range inputRe.FindAllStringSubmatch(page, -1) {
		if m[1] == "subject" {
			v.Set(m[1], htmlUnescape(m[2]))
		}
	}
	for _, m := range textareaRe.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	return v
}

func TestTemplatesListEveryKind(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", nil)
	b.staff(t, "ada", storage.RoleAdmin)
	r := b.client(t, "ada").get("/templates")
	if r.status != http.StatusOK {
		t.Fatalf("GET /templates = %d", r.status)
	}
	for _, name := range notify.TemplateNames() {
		if !strings.Contains(r.body, `href="./templates/`+name+`">`+htmlEscape(notify.TemplateTitle(name))+`</a>`) {
			t.Errorf("the list lacks %s:\n%s", name, r.body)
		}
	}
	if r := b.client(t, "ada").get("/templates/no_such"); r.status != http.StatusNotFound || !strings.Contains(r.body, "There is no email") {
		t.Errorf("GET /templates/no_such = %d", r.status)
	}
}

func TestTemplateSavePreviewRestore(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		r := c.get(credentials)
		if r.status != http.StatusOK || !strings.Contains(r.body, "<code>{{.Password}}</code>") || !strings.Contains(r.body, "uses the default template") {
			t.Fatalf("GET %s = %d:\n%s", credentials, r.status, r.body)
		}
		form := editor(r.body)
		if form.Get("subject") == "" || form.Get("text") == "" || form.Get("version") != "0" {
			t.Fatalf("the editor does not show the default: %v", form)
		}
		guest := &storage.Guest{FirstName: "Gus", LastName: "Guest", Email: "gus@example.org", Username: "gus", Password: "pw-1",
			ValidUntil: time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)}
		before, err := b.guests.CredentialsMessage(guest)
		if err != nil {
			t.Fatal(err)
		}

		// Preview shows the sample data and saves nothing.
		form.Set("subject", "Wi-Fi for {{.GuestName}}")
		form.Set("html", "<p>Hello <b>{{.GuestName}}</b></p>")
		r = c.post(credentials+"/preview", c.csrf(credentials), form)
		if r.status != http.StatusOK || !strings.Contains(r.body, `<p class="preview-subject">Wi-Fi for Eve Example</p>`) ||
			!strings.Contains(r.body, "&lt;p&gt;Hello &lt;b&gt;Eve Example&lt;/b&gt;&lt;/p&gt;") || !strings.Contains(r.body, "Zq8-x1-pw") {
			t.Errorf("preview = %d:\n%s", r.status, r.body)
		}
		if m, _ := b.guests.CredentialsMessage(guest); m.Subject != before.Subject {
			t.Errorf("preview changed the email: %q", m.Subject)
		}

		// A syntax error is shown with its line and column, and nothing is
		// saved.
		bad := clone(form)
		bad.Set("text", "Hello\n{{.GuestName}\n")
		r = c.post(credentials+"/save", c.csrf(credentials), bad)
		if r.status != http.StatusUnprocessableEntity || !regexp.MustCompile(`<a href="#f-text">Plain-text body, line 2[^<]*</a>`).MatchString(r.body) {
			t.Errorf("save with a syntax error = %d:\n%s", r.status, r.body)
		}
		bad = clone(form)
		bad.Set("subject", "{{.Nope}}")
		r = c.post(credentials+"/save", c.csrf(credentials), bad)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "there is no placeholder {{.Nope}} in this email") {
			t.Errorf("save with an unknown placeholder = %d:\n%s", r.status, r.body)
		}
		if m, _ := b.guests.CredentialsMessage(guest); m.Subject != before.Subject {
			t.Errorf("a refused save changed the email: %q", m.Subject)
		}

		// Save applies to the next email.
		r = c.post(credentials+"/save", c.csrf(credentials), form)
		if r.status != http.StatusSeeOther || r.location != "../../templates/"+notify.TemplateGuestCredentials {
			t.Fatalf("save = %d %q:\n%s", r.status, r.location, r.body)
		}
		m, err := b.guests.CredentialsMessage(guest)
		if err != nil || m.Subject != "Wi-Fi for Gus Guest" || m.HTML != "<p>Hello <b>Gus Guest</b></p>" {
			t.Errorf("the next email after saving: %q %q, %v", m.Subject, m.HTML, err)
		}
		r = c.get(credentials)
		if !strings.Contains(r.body, "Saved. The next Guest credentials email uses this template.") ||
			!strings.Contains(r.body, "uses a template changed here") || !strings.Contains(r.body, "Restore default") {
			t.Errorf("the editor after saving:\n%s", r.body)
		}

		// A save from the page as it was before is stale.
		stale := clone(form)
		stale.Set("subject", "Stale {{.GuestName}}")
		if r := c.post(credentials+"/save", c.csrf(credentials), stale); r.status != http.StatusConflict || !strings.Contains(r.body, "changed meanwhile") {
			t.Errorf("stale save = %d:\n%s", r.status, r.body)
		}

		// Restore default brings the default back.
		r = c.post(credentials+"/restore", c.csrf(credentials), url.Values{"version": {hidden(c.get(credentials).body).Get("version")}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("restore = %d:\n%s", r.status, r.body)
		}
		if m, _ := b.guests.CredentialsMessage(guest); m.Subject != before.Subject || m.HTML != before.HTML {
			t.Errorf("after restoring: %q, want %q", m.Subject, before.Subject)
		}
		if r := c.get(credentials); !strings.Contains(r.body, "Restored the default.") || strings.Contains(r.body, "Restore default</button>") {
			t.Errorf("the editor after restoring:\n%s", r.body)
		}
		entries, err := b.store.ListAudit(t.Context(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries {
			if e.Actor == "staff:ada" {
				actions = append(actions, e.Action)
			}
		}
		if got := strings.Join(actions, " "); !strings.Contains(got, "settings.template_save") || !strings.Contains(got, "settings.template_restore") {
			t.Errorf("audited: %s", got)
		}
	})
}

// Send Test Email of a kind: the saved template with sample data reaches
// the emulator and the page says how long it took; with no mail server
// configured the page says it is queued and retried.
func TestTemplateSendTestEmail(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		path := "/templates/" + notify.TemplateGuestExpiry

		form := editor(c.get(path).body)
		form.Set("subject", "Ends soon, {{.GuestName}}")
		if r := c.post(path+"/save", c.csrf(path), form); r.status != http.StatusSeeOther {
			t.Fatalf("save = %d:\n%s", r.status, r.body)
		}
		if r := c.post(path+"/send", c.csrf(path), url.Values{"to": {"not an address"}}); r.status != http.StatusUnprocessableEntity ||
			!strings.Contains(r.body, "Enter one email address") {
			t.Errorf("send to a bad address = %d:\n%s", r.status, r.body)
		}

		// No SMTP settings saved: the first attempt fails, Lobby retries.
		r := c.post(path+"/send", c.csrf(path), url.Values{"to": {"eve@example.net"}})
		if r.status != http.StatusOK || !strings.Contains(r.body, "Lobby keeps retrying") || !strings.Contains(r.body, "to eve@example.net") {
			t.Errorf("send without settings = %d:\n%s", r.status, r.body)
		}

		srv := exchangetest.NewServer(t, exchangetest.Options{})
		c.trustEmulator(srv)
		sf := emuForm(srv)
		sf.Set("version", "0")
		if r := c.save(withHidden(sf, c.test(sf).body)); r.status != http.StatusSeeOther {
			t.Fatalf("save SMTP settings = %d:\n%s", r.status, r.body)
		}
		r = c.post(path+"/send", c.csrf(path), url.Values{"to": {"ops@example.net"}})
		if r.status != http.StatusOK || !regexp.MustCompile(`<strong>Sent in \d+ ms</strong> to ops@example.net`).MatchString(r.body) {
			t.Fatalf("send test email = %d:\n%s", r.status, r.body)
		}
		var got *exchangetest.Message
		msgs, err := srv.WaitForMessages(t.Context(), 1)
		for i := range msgs {
			if msgs[i].To[0] == "ops@example.net" {
				got = &msgs[i]
			}
		}
		if err != nil || got == nil || got.Subject != "[Test] Ends soon, Eve Example" {
			t.Errorf("the emulator got %+v, %v", msgs, err)
		}
	})
}

func TestContentPagesNeedAnAdmin(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "sally", storage.RoleSponsor)
		b.staff(t, "ada", storage.RoleAdmin)
		for _, p := range []string{"/portal", "/templates", credentials} {
			r := b.client(t, "").get(p)
			if want := signIn + "?return=" + url.QueryEscape(mount+p); r.status != http.StatusSeeOther || r.location != want {
				t.Errorf("stranger GET %s = %d %q, want 303 to %q", p, r.status, r.location, want)
			}
			if r := b.client(t, "sally").get(p); r.status != http.StatusForbidden || !strings.Contains(r.body, "Administrators only") {
				t.Errorf("sponsor GET %s = %d", p, r.status)
			}
		}
		ada := b.client(t, "ada")
		tok := ada.csrf("/")
		sally := b.client(t, "sally")
		sally.get("/portal")
		u, _ := url.Parse(b.srv.URL + "/")
		stok := ""
		for _, c := range sally.http.Jar.Cookies(u) {
			if c.Name == "lobby_csrf" {
				stok = c.Value
			}
		}
		posts := []string{"/portal", credentials + "/preview", credentials + "/save", credentials + "/restore", credentials + "/send"}
		for _, p := range posts {
			if r := ada.post(p, "", url.Values{"x": {"1"}}); r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
				t.Errorf("POST %s without the CSRF token = %d", p, r.status)
			}
			if r := sally.post(p, stok, url.Values{"x": {"1"}}); stok == "" || r.status != http.StatusForbidden || !strings.Contains(r.body, "Administrators only") {
				t.Errorf("sponsor POST %s = %d", p, r.status)
			}
		}
		if r := ada.post(credentials+"/preview", tok, url.Values{}); r.status != http.StatusOK {
			t.Errorf("admin preview with the token = %d", r.status)
		}
		if ps, _ := b.guests.PortalSettings(t.Context()); ps.Version != 0 {
			t.Error("a refused post saved the portal settings")
		}
	})
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}
