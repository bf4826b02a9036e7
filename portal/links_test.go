package portal

import (
	"strings"
	"testing"
)

// TestHasLinkEvasions: domain names, addresses and schemes are found
// however they are dressed up; names, companies and reasons people really
// type are not.
func TestHasLinkEvasions(t *testing.T) {
	t.Parallel()
	links := []string{
		// Schemes and www., as before.
		"https://evil.example", "see hxxp://evil", "WWW.evil.example", "ftp://files",
		// Bare domain names, with and without a path.
		"evil-login.com/reset", "evil-login.com", "Visit evil-login.com now", "evil-login.com.",
		"paypal.com.evil.net", "example.co.uk", "secure-login.app", "my.bank", "x.io", "evil.zip",
		"evil.example", "login.microsoftonline.com", "EVIL-LOGIN.COM", "Evil-Login.Com/Reset",
		"evil.unknowntld/reset", "evil.unknowntld:8443", "evil.foo?x=1",
		"reset at evil-login.com, today", "(evil-login.com)", "\"evil-login.com\"", "evil-login.com!",
		"a.b.c.evil.de",
		// Full-width and other dots and letters that NFKC or browsers fold.
		"evil-login．com", "evil-login。com", "evil-login｡com", "evil-login․com", "evil-login﹒com",
		"ｅｖｉｌ－ｌｏｇｉｎ．ｃｏｍ", "ｗｗｗ．evil", "ｈｔｔｐｓ：／／evil",
		// Internationalised names and punycode.
		"пример.рф", "例子.中国", "xn--80ak6aa92e.com", "xn--e1afmkfd.xn--p1ai", "évil.fr", "münchen.de",
		// Zero-width joiners do not split a name.
		"evil\u200d-login.com", "evil-\u200clogin.com",
		// Bare IPv4 and IPv6, with ports and brackets.
		"10.0.0.1", "192.168.1.1/login", "go to 203.0.113.9:8080 now", "[2001:db8::1]", "2001:db8::1",
		"[2001:db8::1]:443", "::ffff:203.0.113.9", "fe80::1", "１９２．１６８．１．１",
	}
	for _, s := range links {
		if !hasLink(s) {
			t.Errorf("hasLink(%q) = false, want true", s)
		}
	}
	plain := []string{
		"O'Brien", "Jean-Luc", "St. John", "Dr. Müller", "Acme Inc.", "Example Co.", "J.R.R. Tolkien",
		"S.p.A.", "Müller GmbH & Co. KG", "Siemens AG", "Verein e.V.", "U.S. Steel", "Ph.D. student",
		"A. B. Smith", "Ltd.", "Co.,Ltd", "Sdn. Bhd.", "N.V.", "Zoë O'Brien-Smith", "José María",
		"Meeting at 10:30", "Meeting at 10.30", "Room 3.14", "Version 2.0 launch", "Budget 1.5 million",
		"Interview, 2nd floor", "Delivery for Mr. Smith", "Project Apollo 11", "Contract no. 4711",
		"Training day 2", "Q3 review", "Site visit - building B", "Dr.Who fan club",
		"محمد\u200cرضا", "李小龍", "Ελένη Παπαδοπούλου", "Ólafur Ragnar", "Nguyễn Văn An",
		"1.2.3", "3.5.2024", "20.12.2026", "+44 20 7946 0000", "01.23.45.67.89",
	}
	for _, s := range plain {
		if hasLink(s) {
			t.Errorf("hasLink(%q) = true, want false", s)
		}
	}
}

// TestFormatCharactersRefused: invisible format characters (category Cf)
// are refused in every field; joiners between letters of a name are not.
func TestFormatCharactersRefused(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"zero-width space":            "Ada\u200bLovelace",
		"zero-width space alone":      "\u200b",
		"right-to-left mark":          "Ada\u200f",
		"left-to-right mark":          "\u200eAda",
		"byte-order mark":             "\ufeffAda",
		"word joiner":                 "Ada\u2060",
		"tag characters":              "Ada\U000E0041\U000E0042",
		"tag cancel":                  "Ada\U000E007F",
		"language tag":                "\U000E0001Ada",
		"bidi override":               "Ada\u202eecalevoL",
		"bidi isolate":                "Ada\u2066x\u2069",
		"arabic letter mark":          "Ada\u061c",
		"soft hyphen":                 "Ada\u00adLovelace",
		"mongolian vowel separator":   "Ada\u180e",
		"interlinear annotation":      "Ada\ufff9x\ufffb",
		"joiner at the start":         "\u200dAda",
		"non-joiner before a space":   "Ada\u200c Lovelace",
		"invisible times":             "Ada\u2062",
		"zero-width no-break space":   "Acme\ufeff Inc",
		"shorthand format control":    "Ada\U0001BCA0",
		"musical symbol begin beam":   "Ada\U0001D173",
		"deprecated inhibit swapping": "Ada\u206a",
	}
	for name, v := range bad {
		for field, check := range map[string]func(string) string{
			"first name": func(v string) string { return checkName("First name", v, true, "missing") },
			"company":    func(v string) string { return checkText("Company", v, maxOther, false, "missing") },
			"reason":     func(v string) string { return checkText("Reason", v, maxReason, false, "missing") },
			"visited":    func(v string) string { return checkVisited(v, false) },
			"phone":      func(v string) string { return checkPhone("+44 20 7946 0000"+v, false) },
			"email":      func(v string) string { _, msg := normalizeEmail("ada@example.com" + v); return msg },
		} {
			if msg := check(v); msg == "" {
				t.Errorf("%s in the %s (%q) was accepted", name, field, v)
			}
		}
	}
	for _, v := range []string{"محمد\u200cرضا", "क्\u200dष"} {
		if hasFormat(v) {
			t.Errorf("hasFormat(%q) = true: a joiner between letters", v)
		}
	}
}

// TestNamesAndTextsStillAccepted: the names and texts guests really type
// pass every field's check.
func TestNamesAndTextsStillAccepted(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"O'Brien", "Jean-Luc", "St. John", "Dr. Müller", "Zoë", "José María", "Ólafur",
		"Nguyễn Văn An", "李小龍", "Ελένη", "محمد\u200cرضا", "J.R.R. Tolkien", "Mary-Kate O’Neil"} {
		if msg := checkName("First name", v, true, "missing"); msg != "" {
			t.Errorf("name %q: %s", v, msg)
		}
	}
	for _, v := range []string{"Acme Inc.", "Example Co.", "Müller GmbH & Co. KG", "S.p.A. Italia", "U.S. Steel",
		"AT&T", "Procter & Gamble", "3M", "Yahoo!", "Dr. Oetker", "St. John Ambulance"} {
		if msg := checkText("Company", v, maxOther, false, "missing"); msg != "" {
			t.Errorf("company %q: %s", v, msg)
		}
		if msg := checkVisited(v, false); msg != "" {
			t.Errorf("person visited %q: %s", v, msg)
		}
	}
	for _, v := range []string{"Meeting at 10:30 with Dr. Müller", "Interview (2nd floor)", "Delivery, room 3.14"} {
		if msg := checkText("Reason", v, maxReason, false, "missing"); msg != "" {
			t.Errorf("reason %q: %s", v, msg)
		}
	}
}

// TestLinksRefusedInEveryEmailedField: each free-text field that goes into
// emails refuses domain names and addresses, and the phone refuses an IP
// address; the person visited gets the spreadsheet-formula check too.
func TestLinksRefusedInEveryEmailedField(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"evil-login.com", "evil-login．com", "ｅｖｉｌ．ｃｏｍ", "Evil.Com"} {
		if msg := checkName("Last name", v, true, "missing"); msg == "" {
			t.Errorf("last name %q: %q", v, msg)
		}
	}
	for _, v := range []string{"evil-login.com/reset", "10.0.0.1", "[2001:db8::1]", "call evil-login。com"} {
		for field, msg := range map[string]string{
			"company": checkText("Company", v, maxOther, false, "missing"),
			"reason":  checkText("Reason", v, maxReason, false, "missing"),
			"visited": checkVisited(v, false),
		} {
			if !strings.Contains(msg, "web address") {
				t.Errorf("%s %q: %q", field, v, msg)
			}
		}
	}
	if msg := checkPhone("192.168.1.1", false); msg == "" {
		t.Error("an IP address was accepted as a phone number")
	}
	for _, v := range []string{"=HYPERLINK(\"x\")", "+cmd", "-Grace", "@SUM(A1)", "＝1+1", "＋cmd"} {
		if msg := checkVisited(v, false); !strings.Contains(msg, "spreadsheet") {
			t.Errorf("person visited %q: %q", v, msg)
		}
		if msg := checkText("Company", v, maxOther, false, "missing"); !strings.Contains(msg, "spreadsheet") {
			t.Errorf("company %q: %q", v, msg)
		}
	}
}
