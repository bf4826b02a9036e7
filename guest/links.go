package guest

import (
	"net/netip"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Registration fields end up in emails the organisation sends (the guest's
// own, approval requests to staff): they must not carry anything a mail
// client would make a link of, or a reader would type into a browser.
// HasLink finds, in any case and after NFKC normalisation (so that
// full-width letters and dots count as their ASCII forms, and the
// ideographic full stops that browsers take as dots count as dots):
//
//   - a scheme ("https://", "hxxp://") or "www.";
//   - a domain-like token: labels joined by dots ending in a known-looking
//     top-level domain ("evil-login.com", "example.co.uk", "пример.рф"),
//     any label in punycode ("xn--"), or any dotted name followed by a
//     path or a port ("evil.foo/reset", "evil.foo:8080");
//   - a bare IPv4 or IPv6 address, with or without a port or brackets.
//
// Ordinary names and companies with dots stay allowed: "St. John",
// "Dr. Müller", "Acme Inc.", "J.R.R. Tolkien", "S.p.A." (a dot followed by
// a space or the end, or a one-letter last label, is not a domain).
func HasLink(s string) bool {
	if urlRe.MatchString(s) {
		return true
	}
	n := foldForLinks(s)
	if urlRe.MatchString(n) {
		return true
	}
	for i := 0; i < len(n); {
		start := i
		for i < len(n) && !isTokenSep(n[i:]) {
			_, size := decodeRune(n[i:])
			i += size
		}
		if start < i {
			next := ""
			if i < len(n) {
				next = n[i : i+1]
			}
			if linkToken(n[start:i], next) {
				return true
			}
		}
		if i < len(n) {
			_, size := decodeRune(n[i:])
			i += size
		}
	}
	return false
}

// foldForLinks is s as a mail client or browser reads it when looking for
// links: NFKC-normalised, lower case, with the other dots browsers accept
// in host names (。 ｡) as ".", and zero-width joiners dropped.
func foldForLinks(s string) string {
	s = strings.ToLower(norm.NFKC.String(s))
	return strings.Map(func(r rune) rune {
		switch r {
		case '\u3002', '\uff61', '\uff0e', '\u2024', '\ufe52':
			return '.'
		case '\u200c', '\u200d':
			return -1
		}
		return r
	}, s)
}

func decodeRune(s string) (rune, int) {
	for _, r := range s {
		return r, len(string(r))
	}
	return 0, 0
}

// isTokenSep reports whether the rune at the start of s separates tokens:
// anything but letters, marks, digits and - . : [ ] %.
func isTokenSep(s string) bool {
	r, _ := decodeRune(s)
	return !(unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) || strings.ContainsRune("-.:[]%_", r))
}

// linkToken reports whether tok (folded) is an address or a domain-like
// name; next is the character after it ("/" makes any dotted name a link).
func linkToken(tok, next string) bool {
	tok = strings.TrimRight(strings.Trim(tok, ".-_"), ":")
	if tok == "" {
		return false
	}
	// IPv6, bracketed or bare, perhaps with a port or a zone.
	if strings.Count(tok, ":") >= 2 {
		h := tok
		if i := strings.Index(h, "]"); strings.HasPrefix(h, "[") && i > 0 {
			h = h[1:i]
		}
		if _, err := netip.ParseAddr(h); err == nil {
			return true
		}
		if ap, err := netip.ParseAddrPort(tok); err == nil && ap.Addr().Is6() {
			return true
		}
	}
	host, port := tok, false
	if i := strings.LastIndexByte(tok, ':'); i > 0 && i < len(tok)-1 && allDigits(tok[i+1:]) {
		host, port = tok[:i], true
	}
	host = strings.Trim(host, "[]")
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		return true
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return false
	}
	tld, sld := labels[len(labels)-1], labels[len(labels)-2]
	if sld == "" || tld == "" {
		return false
	}
	for _, l := range labels {
		if strings.HasPrefix(l, "xn--") {
			return true
		}
	}
	if !allLetters(tld) {
		return false
	}
	if port || next == "/" || next == "?" || next == "#" {
		return len([]rune(tld)) >= 2
	}
	return knownTLD(tld)
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func allLetters(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return s != ""
}

// knownTLD reports whether tld looks like a top-level domain a mail client
// would link: any two ASCII letters (the country codes), a common generic
// one, or an internationalised country code.
func knownTLD(tld string) bool {
	if len(tld) == 2 && tld[0] >= 'a' && tld[0] <= 'z' && tld[1] >= 'a' && tld[1] <= 'z' {
		return true
	}
	_, ok := tlds[tld]
	return ok
}

// tlds are the generic and internationalised top-level domains HasLink
// knows besides the two-letter country codes: the common ones, those
// popular with phishing, and the reserved and intranet names.
var tlds = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, t := range strings.Fields(`
		com net org info biz edu gov mil int name pro aero coop museum mobi asia tel travel jobs cat post xxx
		app dev page web site online store shop blog cloud host email link click zip mov top xyz club live
		life world today news media tech digital network systems solutions services support help login secure
		security bank finance money pay cash credit loan loans insurance trade market business company agency
		group global international center centre city land space fun games game play win bet casino poker
		vip icu buzz work works rest bar pub wang ren men mom dad lol wtf fail sucks lat one plus best
		free download stream video tv photo photos pics pictures gallery art design studio style fashion
		health care clinic doctor dental legal law lawyer attorney tax accountant consulting management
		engineering engineer software solutions tools directory guide guru expert academy school college
		university education institute training courses systems computer technology phone mobile codes
		social chat forum community team family love dating date sex porn adult sexy
		review reviews report reports science research energy solar green eco earth domains domain website
		site host hosting server services webcam cam fit surf run bid trust safe account accounts verify
		auth id me io ai co gg ly to sh ws cc la fm am vc nu tk ml ga cf gq pw su
		example test invalid localhost local internal intranet lan home corp private onion arpa
		рф укр срб бел қаз мкд мон 中国 中國 香港 台湾 台灣 新加坡 公司 网络 網絡 在线 한국 日本 ไทย
		عرب امارات السعودية مصر ایران भारत`) {
		m[t] = struct{}{}
	}
	return m
}()

// HasFormat reports invisible format characters (Unicode category Cf):
// zero-width spaces, byte-order marks, directional marks and overrides,
// tag characters and the like, which hide text or reorder it on screen.
// Zero-width joiners and non-joiners between two letters (or combining
// marks, as a virama) stay allowed:
// they are part of how names are written in Persian and Indic scripts.
func HasFormat(s string) bool {
	rs := []rune(s)
	for i, r := range rs {
		if !unicode.Is(unicode.Cf, r) {
			continue
		}
		if (r == '\u200c' || r == '\u200d') && i > 0 && i < len(rs)-1 && isLetterOrMark(rs[i-1]) && isLetterOrMark(rs[i+1]) {
			continue
		}
		return true
	}
	return false
}

func isLetterOrMark(r rune) bool { return unicode.IsLetter(r) || unicode.IsMark(r) }

// startsFormula reports whether v would start a formula in a spreadsheet
// (= + - @), also in full width.
func startsFormula(v string) bool {
	f := norm.NFKC.String(v)
	return f != "" && strings.ContainsRune("=+-@", rune(f[0]))
}
