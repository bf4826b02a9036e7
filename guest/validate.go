package guest

import (
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length limits of the registration fields, in characters.
const (
	MaxName   = 100
	MaxEmail  = 254
	MaxPhone  = 40
	MaxOther  = 100
	MaxReason = 200
	MaxCode   = 100
)

// CheckLine checks a single-line field and returns the message for its
// problem, or "". label starts the message ("First name must …").
func CheckLine(label, v string, max int, required bool, missing string) string {
	switch {
	case v == "":
		if required {
			return missing
		}
		return ""
	case !utf8.ValidString(v):
		return label + " contains characters we cannot read. Type it again."
	case utf8.RuneCountInString(v) > max:
		return label + " must be " + strconv.Itoa(max) + " characters or fewer."
	case HasControl(v):
		return label + " must be on one line, without control characters."
	case HasFormat(v):
		return label + " contains invisible formatting characters. Type it again rather than pasting it."
	}
	return ""
}

// CheckName is CheckLine for a person's name: letters, combining marks,
// spaces and - . ' ’ only (any script), at least one letter, and no web
// address ("www."). Names go into emails the organisation sends, so they
// must not carry links, addresses or markup.
func CheckName(label, v string, required bool, missing string) string {
	if msg := CheckLine(label, v, MaxName, required, missing); msg != "" || v == "" {
		return msg
	}
	letters := 0
	for _, r := range v {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsMark(r), r == ' ', strings.ContainsRune(nameMarks, r), r == '\u200c', r == '\u200d': // joiners: see HasFormat
		default:
			return label + " can only have letters, spaces and - . ' (no digits or other symbols)."
		}
	}
	if letters == 0 {
		return label + " must have letters in it."
	}
	if hasURL(v) {
		return label + " must not be a web address or a domain name (such as example.com)."
	}
	return ""
}

// nameMarks is the punctuation a name may have besides letters and spaces.
const nameMarks = "-.'’"

// CheckText is CheckLine for the free-text fields that a spreadsheet export
// or an email may show (company, reason): no web address, no @, and no
// leading = + - @ that would start a spreadsheet formula.
func CheckText(label, v string, max int, required bool, missing string) string {
	if msg := CheckLine(label, v, max, required, missing); msg != "" || v == "" {
		return msg
	}
	if startsFormula(v) {
		return label + " must not start with = + - or @ (spreadsheets read those as formulas). Remove the first character."
	}
	return checkNoLinks(label, v)
}

// CheckVisited checks the person visited typed as a name (not as the
// email of an approver): one line, no markup, no web address, no @, and
// no leading = + - @ that would start a spreadsheet formula.
func CheckVisited(v string, required bool) string {
	const label = "Person you are visiting"
	if msg := CheckLine(label, v, MaxOther, required, "Enter the name of the person you are visiting."); msg != "" || v == "" {
		return msg
	}
	if strings.ContainsAny(v, "<>") {
		return label + " contains characters that are not allowed (< or >)."
	}
	if startsFormula(v) {
		return label + " must not start with = + - or @ (spreadsheets read those as formulas). Remove the first character."
	}
	return checkNoLinks(label, v)
}

// checkNoLinks refuses web addresses, domain names, IP addresses and @
// (email addresses) in v.
func checkNoLinks(label, v string) string {
	if strings.ContainsRune(v, '@') {
		return label + " must not contain an @ or an email address."
	}
	if hasURL(v) {
		return label + " must not contain a web address, a domain name such as example.com, or an IP address."
	}
	return ""
}

// urlRe finds "scheme://" and "www." anywhere, in any case.
var urlRe = regexp.MustCompile(`(?i)[a-z][a-z0-9+.\-]*://|www\.`)

// hasURL reports whether s holds something a mail client would make a
// link, or a reader could type into a browser (see HasLink).
func hasURL(s string) bool { return HasLink(s) }

// CheckPhone allows digits, spaces and + ( ) - . /
func CheckPhone(v string, required bool) string {
	if msg := CheckLine("Phone number", v, MaxPhone, required, "Enter your phone number."); msg != "" || v == "" {
		return msg
	}
	digits := 0
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +()-./", r):
		default:
			return "Enter a phone number using digits, spaces and + ( ) - only."
		}
	}
	if digits < 3 {
		return "Enter a phone number using digits, spaces and + ( ) - only."
	}
	if HasLink(v) {
		return "Enter a phone number, not an IP address."
	}
	return ""
}

// HasControl reports control characters (CR, LF, tab, NUL, …), Unicode line
// and paragraph separators, and bidirectional overrides.
func HasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return true
		}
	}
	return false
}

// atext is what RFC 5322 allows unquoted in the local part of an address.
const atext = "!#$%&'*+-/=?^_`{|}~."

// NormalizeEmail checks an email address and returns it lower-cased, or a
// message saying what is wrong. Quoted local parts, display names, comments
// and IP-literal domains are refused: a guest's address must be plain.
func NormalizeEmail(v string) (string, string) {
	const format = "Enter an email address in the correct format, like name@example.com."
	if v == "" {
		return "", "Enter your email address."
	}
	if msg := CheckLine("Email address", v, MaxEmail, true, ""); msg != "" {
		return "", msg
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v {
		return "", format
	}
	local, domain, ok := strings.Cut(v, "@")
	if !ok || local == "" || len(local) > 64 || strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", format
	}
	for _, r := range local {
		if r > unicode.MaxASCII || !(IsAlnum(r) || strings.ContainsRune(atext, r)) {
			return "", format
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "", format
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", format
		}
		for _, r := range l {
			if !(IsAlnum(r) || r == '-') {
				return "", format
			}
		}
	}
	return strings.ToLower(v), ""
}

func IsAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// DomainIn reports whether domain is one of ds or a subdomain of one.
func DomainIn(domain string, ds []string) bool {
	return slices.ContainsFunc(ds, func(d string) bool {
		return domain == d || strings.HasSuffix(domain, "."+d)
	})
}

// EmailDomain returns the domain of a normalized address.
func EmailDomain(email string) string {
	_, d, _ := strings.Cut(email, "@")
	return d
}
