package portal

import (
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/i18n"
)

// TestProblemsTranslated: every message the guest rules give about the
// registration and resend forms comes out in German, French and Spanish
// (not in English, not as a catalog id). A rule that words a new message
// makes this fail until the message is in the catalogs.
func TestProblemsTranslated(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 1000)
	var msgs []string
	add := func(m string) {
		if m == "" {
			t.Fatalf("an input meant to be refused was accepted (after %d messages)", len(msgs))
		}
		msgs = append(msgs, m)
	}
	for _, label := range []string{"First name", "Last name"} {
		for _, v := range []string{"", "\xff", "Ada\x01", "Ada\u200b", "Ada1", "--", "example.com", long} {
			add(guest.CheckName(label, v, true, map[string]string{"First name": "Enter your first name.", "Last name": "Enter your last name."}[label]))
		}
	}
	for _, tc := range []struct{ label, missing string }{{"Company", "Enter your company."}, {"Reason", "Enter the reason for your visit."}} {
		for _, v := range []string{"", "=cmd", long} {
			add(guest.CheckText(tc.label, v, guest.MaxOther, true, tc.missing))
		}
	}
	for _, v := range []string{"", "<b>", "=x", "host@example.com", "example.com", long} {
		add(guest.CheckVisited(v, true))
	}
	for _, v := range []string{"", "call me", "192.168.1.1", long} {
		add(guest.CheckPhone(v, true))
	}
	for _, v := range []string{"", "not an address", "\xff@example.com"} {
		_, m := guest.NormalizeEmail(v)
		add(m)
	}
	// Worded by CheckApplication and Sponsorship.
	msgs = append(msgs, "Addresses at evil.example cannot register here. Use another email address.",
		"Use an email address at example.com, example.org.",
		"Enter the email address of the person you are visiting.",
		"Enter the email address of the person you are visiting, like name@example.com.",
		"We could not find that host; check the address or ask at the front desk.")

	c, err := i18n.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if en := problemText(c.Localizer("en"), m); en != m {
			t.Errorf("in English %q became %q", m, en)
		}
		for _, lang := range []string{"de", "fr", "es"} {
			got := problemText(c.Localizer(lang), m)
			if got == m || strings.Contains(got, "portal.") || strings.Contains(got, "{{") || strings.Contains(got, "<no value>") {
				t.Errorf("%s: %q is not translated: %q", lang, m, got)
			}
		}
	}
	if got := problemText(c.Localizer("de"), "First name must be 100 characters or fewer."); got != "„Vorname“ darf höchstens 100 Zeichen lang sein." {
		t.Errorf("too long in German: %q", got)
	}
}
