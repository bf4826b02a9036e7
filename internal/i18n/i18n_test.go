package i18n

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for accept, want := range map[string]string{
		"":                            "en",
		"de":                          "de",
		"de-AT,de;q=0.9,en;q=0.5":     "de",
		"fr-CH, fr;q=0.9":             "fr",
		"es-MX":                       "es",
		"ja, zh;q=0.8":                "en", // unknown: English
		"nl, fr;q=0.5":                "fr",
		"en-GB, de;q=0.8":             "en",
		"*":                           "en",
		"garbage;;;q=x":               "en",
		"it-IT,it;q=0.9,es;q=0.8":     "es",
		"pt-BR, pt;q=0.9, de-CH;q=.1": "de",
	} {
		if got := c.Match(accept); got != want {
			t.Errorf("Match(%q) = %s, want %s", accept, got, want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Language", "de")
	if got := c.FromRequest(r); got != "de" {
		t.Errorf("FromRequest without a cookie = %s, want de", got)
	}
	r.Header.Set("Cookie", CookieName+"=es")
	if got := c.FromRequest(r); got != "es" {
		t.Errorf("FromRequest with the cookie es = %s, want es (the switcher wins)", got)
	}
	r.Header.Set("Cookie", CookieName+"=xx")
	if got := c.FromRequest(r); got != "de" {
		t.Errorf("FromRequest with an unknown cookie = %s, want Accept-Language's de", got)
	}
}

func TestDatesAndDurations(t *testing.T) {
	t.Parallel()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 3, 2, 17, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang, date string
		durations  map[time.Duration]string
	}{
		{"en", "Monday 2 March 2026, 17:30 UTC", map[time.Duration]string{24 * time.Hour: "1 day", 72 * time.Hour: "3 days", 36 * time.Hour: "36 hours", 90 * time.Minute: "90 minutes"}},
		{"de", "Montag, 2. März 2026, 17:30 UTC", map[time.Duration]string{24 * time.Hour: "1 Tag", 72 * time.Hour: "3 Tage", time.Hour: "1 Stunde", 90 * time.Minute: "90 Minuten"}},
		{"fr", "lundi 2 mars 2026, 17:30 UTC", map[time.Duration]string{24 * time.Hour: "1 jour", 72 * time.Hour: "3 jours", 2 * time.Hour: "2 heures"}},
		{"es", "lunes, 2 de marzo de 2026, 17:30 UTC", map[time.Duration]string{24 * time.Hour: "1 día", 72 * time.Hour: "3 días", time.Minute: "1 minuto"}},
	} {
		l := c.Localizer(tc.lang)
		if got := l.Date(when); got != tc.date {
			t.Errorf("%s: Date = %q, want %q", tc.lang, got, tc.date)
		}
		for d, want := range tc.durations {
			if got := l.Duration(d); got != want {
				t.Errorf("%s: Duration(%s) = %q, want %q", tc.lang, d, got, want)
			}
		}
	}
	if got := c.Localizer("xx").Lang(); got != "en" {
		t.Errorf("an unknown language gives %s, want en", got)
	}
}

func TestHTMLEscapesValues(t *testing.T) {
	t.Parallel()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	got := string(c.Localizer("de").HTML("portal.registered.sent", "Email", `<b>"x"</b>@example.com`))
	if !strings.Contains(got, "<strong>&lt;b&gt;&#34;x&#34;&lt;/b&gt;@example.com</strong>") {
		t.Errorf("HTML = %s; want the message's <strong> and the value escaped", got)
	}
	if got := c.Localizer("en").T("no.such.key"); got != "no.such.key" {
		t.Errorf("a missing key gives %q, want its id", got)
	}
}
