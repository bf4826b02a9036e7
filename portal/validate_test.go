package portal

import (
	"strings"
	"testing"
)

func TestCheckNameCharacters(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{
		"Ada":                true,
		"Zoë O'Brien-Smith":  true,
		"O’Neill":            true, // typographic apostrophe
		"J. R. R.":           true,
		"José María":         true,
		"Nguyễn Văn An":      true, // combining marks
		"Дмитрий":            true,
		"李小龍":                true,
		"महात्मा":            true, // Devanagari with vowel signs (marks)
		"Ada2":               false,
		"Ada!":               false,
		"Ada & Co":           false,
		"Ada (guest)":        false,
		"www.evil.example":   false,
		"WWW.evil.example":   false,
		"http://evil":        false,
		"ada@example.com":    false,
		"Ada_Lovelace":       false,
		"Ada\u00a0Lovelace":  false, // only the plain space
		"-.'":                false, // no letter at all
		"<script>":           false,
		"Ada\u202eecalevoL":  false,
		"\u0301":             false,
		"Click here: evil":   false,
		"Ada\U0001F600":      false, // emoji
		"Ada Lovelace-Byron": true,
	} {
		msg := checkName("First name", in, true, "missing")
		if (msg == "") != ok {
			t.Errorf("checkName(%q) = %q, want ok=%v", in, msg, ok)
		}
	}
	if msg := checkName("First name", "Ada2", true, ""); !strings.Contains(msg, "letters") {
		t.Errorf("message %q does not say what is allowed", msg)
	}
}

func TestCheckFreeText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		formula bool // checked as company/reason, else as the person visited
		want    string
	}{
		{"Analytical Engines Ltd", true, ""},
		{"Meeting with R&D (3rd floor)", true, ""},
		{"AT&T", true, ""},
		{"See https://evil.example now", true, "web address"},
		{"hxxp://evil", true, "web address"},
		{"ftp://files", true, "web address"},
		{"visit WWW.evil.example", true, "web address"},
		{"mail me: x@evil.example", true, "@"},
		{"=HYPERLINK(\"x\")", true, "spreadsheet"},
		{"+1 234", true, "spreadsheet"},
		{"-cmd", true, "spreadsheet"},
		{"@SUM(A1)", true, "spreadsheet"},
		{"x=1", true, ""},
		{"Grace Hopper", false, ""},
		{"Grace https://x", false, "web address"},
		{"grace@", false, "@"},
		{"-Grace", false, "spreadsheet"}, // the person visited gets the formula rule too
		{"evil-login.com/reset", false, "web address"},
		{"evil-login.com/reset", true, "web address"},
		{"Grace at 10.0.0.1", false, "web address"},
	} {
		var msg string
		if tc.formula {
			msg = checkText("Company", tc.in, maxOther, false, "missing")
		} else {
			msg = checkVisited(tc.in, false)
		}
		if tc.want == "" && msg != "" || tc.want != "" && !strings.Contains(msg, tc.want) {
			t.Errorf("check(%q) = %q, want %q", tc.in, msg, tc.want)
		}
	}
}
