package portal

import (
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length limits of the registration fields, in characters.
const (
	maxName   = 100
	maxEmail  = 254
	maxPhone  = 40
	maxOther  = 100
	maxReason = 200
	maxCode   = 100
)

// checkLine checks a single-line field and returns the message for its
// problem, or "". label starts the message ("First name must …").
func checkLine(label, v string, max int, required bool, missing string) string {
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
	case hasControl(v):
		return label + " must be on one line, without control characters."
	}
	return ""
}

// checkName is checkLine for names, which also may not hold < or >.
func checkName(label, v string, required bool, missing string) string {
	if msg := checkLine(label, v, maxName, required, missing); msg != "" || v == "" {
		return msg
	}
	if strings.ContainsAny(v, "<>") {
		return label + " contains characters that are not allowed (< or >)."
	}
	return ""
}

// checkPhone allows digits, spaces and + ( ) - . /
func checkPhone(v string, required bool) string {
	if msg := checkLine("Phone number", v, maxPhone, required, "Enter your phone number."); msg != "" || v == "" {
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
	return ""
}

// hasControl reports control characters (CR, LF, tab, NUL, …), Unicode line
// and paragraph separators, and bidirectional overrides.
func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return true
		}
	}
	return false
}

// atext is what RFC 5322 allows unquoted in the local part of an address.
const atext = "!#$%&'*+-/=?^_`{|}~."

// normalizeEmail checks an email address and returns it lower-cased, or a
// message saying what is wrong. Quoted local parts, display names, comments
// and IP-literal domains are refused: a guest's address must be plain.
func normalizeEmail(v string) (string, string) {
	const format = "Enter an email address in the correct format, like name@example.com."
	if v == "" {
		return "", "Enter your email address."
	}
	if msg := checkLine("Email address", v, maxEmail, true, ""); msg != "" {
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
		if r > unicode.MaxASCII || !(isAlnum(r) || strings.ContainsRune(atext, r)) {
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
			if !(isAlnum(r) || r == '-') {
				return "", format
			}
		}
	}
	return strings.ToLower(v), ""
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// domainIn reports whether domain is one of ds or a subdomain of one.
func domainIn(domain string, ds []string) bool {
	return slices.ContainsFunc(ds, func(d string) bool {
		return domain == d || strings.HasSuffix(domain, "."+d)
	})
}

// emailDomain returns the domain of a normalized address.
func emailDomain(email string) string {
	_, d, _ := strings.Cut(email, "@")
	return d
}
