package portal

import (
	"bytes"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// TestPortalSettingsApplyLive: what an admin saves (site name, logo,
// colour, fields, terms, registration code) shows on the next page, with
// no restart, and the logo and colour are served by the portal itself.
func TestPortalSettingsApplyLive(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	r := c.get(mount + "/register")
	if r.StatusCode != http.StatusOK || strings.Contains(r.body, "brand/") || !strings.Contains(r.body, "Test Lobby") {
		t.Fatalf("before saving: %d, want the configured site name and no theme or logo\n%s", r.StatusCode, r.body)
	}
	if r := c.get(mount + "/brand/logo"); r.StatusCode != http.StatusNotFound {
		t.Errorf("logo without one: %d", r.StatusCode)
	}

	ctx := t.Context()
	svc := b.portal.Guests()
	ps, err := svc.PortalSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var logo bytes.Buffer
	if err := png.Encode(&logo, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	ps.SiteName = "Contoso <Guests>"
	ps.Logo = logo.Bytes()
	ps.Accent = "#7a1f5c"
	ps.Terms = "Rule one.\n\nRule two."
	ps.Fields.Company = guest.FieldRule{}
	ps.RegistrationCode = "tulip"
	if _, err := svc.SavePortalSettings(ctx, guest.System(), ps, ps.Version); err != nil {
		t.Fatal(err)
	}

	r = c.get(mount + "/register")
	for _, want := range []string{"Contoso &lt;Guests&gt;", "<p>Rule one.</p>", "Rule two.", `href="./brand/theme.css?v=1"`,
		`src="./brand/logo?v=1"`, "Registration code"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("register page lacks %s", want)
		}
	}
	if strings.Contains(r.body, `name="company"`) {
		t.Error("register page still shows the company field")
	}
	css := c.get(mount + "/brand/theme.css?v=1")
	if css.StatusCode != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") ||
		!strings.Contains(css.body, "--accent: #7a1f5c") || !strings.Contains(css.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("theme: %d %s %q\n%s", css.StatusCode, css.Header.Get("Content-Type"), css.Header.Get("Cache-Control"), css.body)
	}
	if old := c.get(mount + "/brand/theme.css?v=0"); strings.Contains(old.Header.Get("Cache-Control"), "immutable") {
		t.Error("a theme URL of another version is cached for good")
	}
	img := c.get(mount + "/brand/logo?v=1")
	if img.StatusCode != http.StatusOK || img.Header.Get("Content-Type") != "image/png" || img.body != logo.String() {
		t.Errorf("logo: %d %s, %d bytes", img.StatusCode, img.Header.Get("Content-Type"), len(img.body))
	}

	form := c.registerForm()
	form.Del("company")
	form.Set("code", "rose")
	if r := c.post(mount+"/register", form); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "registration code is not right") {
		t.Errorf("wrong code: %d", r.StatusCode)
	}
	form = c.registerForm()
	form.Del("company")
	form.Set("code", "tulip")
	if r := c.post(mount+"/register", form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("right code: %d\n%s", r.StatusCode, r.body)
	}
	out := b.outbox(t)
	if len(out) != 1 || !strings.Contains(out[0].Subject, "Contoso <Guests>") {
		t.Errorf("credentials email: %+v, want the saved site name", out)
	}
}

// TestValidityStartsAtFirstSignIn: a guest of a type that counts from the
// first sign-in gets the type's maximum to sign in first; signing in at
// the portal then starts their validity.
func TestValidityStartsAtFirstSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config) {
		cfg.Policy.DefaultGuestType = "pass"
		cfg.Policy.GuestTypes = []storage.GuestType{{Name: "pass", DefaultDuration: 4 * time.Hour, MaxDuration: 3 * 24 * time.Hour, FromFirstSignIn: true}}
	})
	g := registered(t, b, "ada@example.com")
	if want := storage.Truncate(b.clock.Now()).Add(3 * 24 * time.Hour); !g.ValidUntil.Equal(want) {
		t.Fatalf("registered guest valid until %s, want %s (the window to sign in first)", g.ValidUntil, want)
	}
	b.clock.Advance(30 * time.Hour)
	c := b.client(t)
	if r := c.login(g.Username, g.Password, ""); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", r.StatusCode, r.body)
	}
	now := storage.Truncate(b.clock.Now())
	got, err := b.store.GetGuest(t.Context(), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ValidFrom.Equal(now) || !got.ValidUntil.Equal(now.Add(4*time.Hour)) || !got.FirstSignInAt.Equal(now) {
		t.Errorf("after the first sign-in: valid %s to %s, first sign-in %s; want 4 hours from %s", got.ValidFrom, got.ValidUntil, got.FirstSignInAt, now)
	}
	if acct := c.get(mount + "/account"); acct.StatusCode != http.StatusOK {
		t.Errorf("account: %d", acct.StatusCode)
	}
}
