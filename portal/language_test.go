package portal

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/i18n"
	"github.com/lobbyhq/lobby/internal/webkit"
)

// TestPagesFollowAcceptLanguage: the browser's language picks the pages'
// language; one Lobby does not speak gives English.
func TestPagesFollowAcceptLanguage(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, tc := range []struct {
		accept, lang string
		want         []string
	}{
		{"", "en", []string{"Register for guest access", "First name", "Access is valid for 1 day.", "(optional)", guest.DefaultTerms}},
		{"de-DE,de;q=0.9,en;q=0.5", "de", []string{"Für einen Gastzugang registrieren", "Vorname", "Der Zugang gilt 1 Tag.", "Nutzungsbedingungen",
			"Nutzen Sie dieses Netz rechtmäßig"}},
		{"fr-CH, fr;q=0.9", "fr", []string{"Demander un accès invité", "Prénom", "(facultatif)", "Conditions d&#39;utilisation"}},
		{"es-MX", "es", []string{"Registrarse para el acceso de invitado", "Apellidos", "1 día", "(opcional)"}},
		{"ja, zh;q=0.8", "en", []string{"Register for guest access", "Sign in"}},
	} {
		c := b.client(t)
		c.acceptLanguage = tc.accept
		r := c.get(mount + "/register")
		if r.StatusCode != 200 || !strings.Contains(r.body, `<html lang="`+tc.lang+`">`) {
			t.Errorf("Accept-Language %q: %d, want 200 and lang %s", tc.accept, r.StatusCode, tc.lang)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("Accept-Language %q: the page lacks %q", tc.accept, w)
			}
		}
		if v := r.Header.Values("Vary"); !strings.Contains(strings.Join(v, ","), "Accept-Language") {
			t.Errorf("Accept-Language %q: Vary %v, want Accept-Language in it", tc.accept, v)
		}
		// The stylesheet is the same in every language: publicly cached
		// without a Vary on the language.
		css := c.get(mount + "/" + regexpFind(r.body, `<link rel="stylesheet" href="\./([^"]+)"`))
		if css.StatusCode != 200 || strings.Contains(strings.Join(css.Header.Values("Vary"), ","), "Accept-Language") {
			t.Errorf("the stylesheet: %d, Vary %v; want 200 without Accept-Language", css.StatusCode, css.Header.Values("Vary"))
		}
	}
}

// TestLanguageSwitcher: the switcher's links set a cookie that wins over
// Accept-Language and come back to the page; an unknown language is a 404
// and a next that leaves the portal goes to the start.
func TestLanguageSwitcher(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	c.acceptLanguage = "de"
	page := c.get(mount + "/login?return=" + url.QueryEscape("/app"))
	link := regexpFind(page.body, `<a href="\./(language/fr\?next=[^"]+)" lang="fr"`)
	if link == "" {
		t.Fatalf("no link to French on the German sign-in page:\n%s", page.body)
	}
	r := c.get(mount + "/" + strings.ReplaceAll(link, "&amp;", "&"))
	if r.StatusCode != http.StatusSeeOther || r.location() != mount+"/login?return=%2Fapp" {
		t.Fatalf("the French link: %d to %q, want 303 back to the sign-in page with its return", r.StatusCode, r.location())
	}
	var set *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == i18n.CookieName {
			set = ck
		}
	}
	if set == nil || set.Value != "fr" || !set.HttpOnly || set.Path != mount {
		t.Fatalf("the language cookie is %+v; want fr, HttpOnly, on the portal's path", set)
	}
	if r := c.get(r.location()); !strings.Contains(r.body, `<html lang="fr">`) || !strings.Contains(r.body, "Se connecter") ||
		!strings.Contains(r.body, `value="/app"`) {
		t.Errorf("after switching, the sign-in page is not French with its return:\n%s", r.body)
	}
	if r := c.get(mount + "/register"); !strings.Contains(r.body, "Demander un accès invité") || !strings.Contains(r.body, `aria-current="true">Français`) {
		t.Errorf("the cookie does not carry to the next page")
	}

	for _, tc := range []struct{ path, status, location string }{
		{"/language/xx?next=register", "404", ""},
		{"/language/es?next=%2F%2Fevil.example%2F", "303", mount + "/"},
		{"/language/es?next=https%3A%2F%2Fevil.example%2F", "303", mount + "/"},
		{"/language/es?next=..%2F..%2Fadmin", "303", mount + "/"},
		{"/language/en?next=resend", "303", mount + "/resend"},
	} {
		r := c.get(mount + tc.path)
		if got := r.Status[:3]; got != tc.status || (tc.location != "" && r.location() != tc.location) {
			t.Errorf("%s: %s to %q, want %s to %q", tc.path, got, r.location(), tc.status, tc.location)
		}
	}
}

// TestErrorsInTheGuestsLanguage: validation messages and the error pages
// (404, 413, 503) follow the language.
func TestErrorsInTheGuestsLanguage(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.MaxBodyBytes = 2 << 10 })
	c := b.client(t)
	c.acceptLanguage = "de"
	form := c.registerForm()
	form.Set("first_name", "")
	form.Set("email", "not an address")
	form.Del("terms")
	r := c.post(mount+"/register", form)
	for _, want := range []string{"Es gibt ein Problem", "Geben Sie Ihren Vornamen ein.", "Geben Sie eine E-Mail-Adresse im richtigen Format ein",
		"Akzeptieren Sie die Nutzungsbedingungen", "<title>Fehler: "} {
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, want) {
			t.Errorf("German registration errors: %d, the page lacks %q", r.StatusCode, want)
		}
	}

	c.acceptLanguage = "es"
	if r := c.get(mount + "/no/such/page"); r.StatusCode != 404 || !strings.Contains(r.body, "Página no encontrada") {
		t.Errorf("Spanish 404: %d\n%s", r.StatusCode, r.body)
	}
	c.acceptLanguage = "fr"
	big := c.registerForm()
	big.Set("reason", strings.Repeat("x", 4<<10))
	if r := c.post(mount+"/register", big); r.StatusCode != 413 || !strings.Contains(r.body, "Trop de texte") {
		t.Errorf("French 413: %d\n%s", r.StatusCode, r.body)
	}

	// 503: the database out of reach, as fail answers it.
	h := b.portal.withLanguage(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.portal.errorPage(w, r, http.StatusServiceUnavailable, webkit.UnavailableMessage)
	}))
	req := httptest.NewRequest("GET", "/register", nil)
	req.Header.Set("Accept-Language", "de")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "Kurz nicht verfügbar") ||
		!strings.Contains(rec.Body.String(), "Der Dienst ist kurz nicht verfügbar") {
		t.Errorf("German 503: %d\n%s", rec.Code, rec.Body.String())
	}
}

// TestRegisterAndSignInInGerman: a guest who registers in German is stored
// with German, gets German pages and a German credentials email, and signs
// in in German.
func TestRegisterAndSignInInGerman(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	c.acceptLanguage = "de"
	r := c.post(mount+"/register", c.registerForm())
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("register: %d\n%s", r.StatusCode, r.body)
	}
	page := c.get(r.location())
	if !strings.Contains(page.body, "Sie sind registriert, Ada Lovelace") || !strings.Contains(page.body, "Ihr Zugang gilt bis ") {
		t.Errorf("the success page is not German:\n%s", page.body)
	}
	gs := b.guests(t)
	if len(gs) != 1 || gs[0].Language != "de" {
		t.Fatalf("guests %v; want one, in German", gs)
	}
	mail := b.outbox(t)
	if len(mail) != 1 || mail[0].Subject != "Ihr Gastzugang zu Test Lobby" || !strings.Contains(mail[0].Text, "Benutzername: "+gs[0].Username) {
		t.Fatalf("credentials email: %+v", mail)
	}

	login := c.get(mount + "/login")
	if !strings.Contains(login.body, "<h1>Anmelden</h1>") || !strings.Contains(login.body, "Benutzername") {
		t.Errorf("the sign-in page is not German:\n%s", login.body)
	}
	wrong := c.post(mount+"/login", url.Values{"csrf_token": {hidden(t, csrfRe, login.body)}, "username": {gs[0].Username}, "password": {"wrong"}})
	if wrong.StatusCode != 401 || !strings.Contains(wrong.body, "Benutzername oder Passwort stimmen nicht") {
		t.Errorf("wrong password in German: %d\n%s", wrong.StatusCode, wrong.body)
	}
	ok := c.post(mount+"/login", url.Values{"csrf_token": {hidden(t, csrfRe, login.body)}, "username": {gs[0].Username}, "password": {gs[0].Password}})
	if ok.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d\n%s", ok.StatusCode, ok.body)
	}
	account := c.get(mount + "/account")
	if !strings.Contains(account.body, "Sie sind angemeldet") || !strings.Contains(account.body, "Zugang gültig bis") || !strings.Contains(account.body, "Abmelden") {
		t.Errorf("the account page is not German:\n%s", account.body)
	}
}
