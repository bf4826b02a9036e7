package webkit

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Session is what a signed session cookie says.
type Session struct {
	ID       string    // random, new at every Set
	Subject  string    // who signed in, e.g. a guest ID
	IssuedAt time.Time // when Set made it, to the microsecond, UTC
	CSRF     string    // the CSRF token forms must carry while it lasts
}

// Sessions keeps sessions in signed cookies: HttpOnly, SameSite=Lax, Secure
// when the request came over TLS or secure is set (and then named with the
// __Host- prefix, so that the browser keeps the cookie to this host and
// path "/", out of reach of sibling subdomains), signed with HMAC-SHA256
// under a key derived from the secret key and checked in constant time.
// Nothing is stored server-side: the caller checks on every request that
// the subject may still be signed in, and ends sessions by refusing those
// issued at or before a time it keeps for the subject (see SetAfter).
type Sessions struct {
	key    *macer
	csrf   *macer // the CSRF tokens' key
	name   string
	maxAge time.Duration
	secure bool
	now    func() time.Time
}

// SessionOption adjusts NewSessions.
type SessionOption func(*Sessions)

// SessionClock sets the clock sessions are issued and checked by
// (default time.Now).
func SessionClock(now func() time.Time) SessionOption {
	return func(s *Sessions) {
		if now != nil {
			s.now = now
		}
	}
}

// NewSessions returns sessions kept in the cookie cookieName and valid for
// maxAge after sign-in. key is the secret key: the one NewCSRF has, so that
// the CSRF token Set rotates to verifies there.
func NewSessions(key []byte, cookieName string, maxAge time.Duration, secure bool, opts ...SessionOption) *Sessions {
	s := &Sessions{
		key:    newMacer(DeriveKey(key, "session/"+cookieName)),
		csrf:   newMacer(csrfKeyFor(key)),
		name:   cookieName,
		maxAge: maxAge,
		secure: secure,
		now:    time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

type sessionWire struct {
	ID  string `json:"i"`
	Sub string `json:"s"`
	Iat int64  `json:"t"` // unix seconds, as cookies from before "u" carry it
	// IatMicro is the issue time in unix microseconds: a cut-off set in the
	// same second as a sign-in then tells the two apart.
	IatMicro int64  `json:"u,omitempty"`
	Tok      string `json:"c"`
}

// Get returns the session of r if its cookie is genuine and not older than
// maxAge.
func (s *Sessions) Get(r *http.Request) (Session, bool) {
	value, ok := cookieValue(r, s.cookieName(r))
	if !ok {
		return Session{}, false
	}
	body, sig, ok := strings.Cut(value, ".")
	if !ok {
		return Session{}, false
	}
	var mac [sha256.Size]byte
	s.key.sumString(&mac, body)
	var want [base64MACLen]byte
	base64.RawURLEncoding.Encode(want[:], mac[:])
	if !equalString(want[:], sig) {
		return Session{}, false
	}
	var buf [512]byte
	raw, ok := decodeBase64(buf[:0], body)
	if !ok {
		return Session{}, false
	}
	sw, ok := parseSessionWire(string(raw))
	if !ok {
		var decoded sessionWire // on the heap only here
		if err := json.Unmarshal(bytes.Clone(raw), &decoded); err != nil {
			return Session{}, false
		}
		sw = decoded
	}
	// A cookie without "u" (set before it existed) counts from the start
	// of its second: the earlier reading, so no cut-off misses it.
	iat := time.Unix(sw.Iat, 0).UTC()
	if sw.IatMicro != 0 {
		if iat = time.UnixMicro(sw.IatMicro).UTC(); iat.Unix() != sw.Iat {
			return Session{}, false
		}
	}
	now := s.now()
	if now.Sub(iat) >= s.maxAge || iat.After(now.Add(time.Minute)) {
		return Session{}, false
	}
	return Session{ID: sw.ID, Subject: sw.Sub, IssuedAt: iat, CSRF: sw.Tok}, true
}

// Set starts a new session for subject, issued now, and returns it. It
// rotates everything: a new session ID and a new CSRF token (the CSRF
// cookie is replaced too), so that nothing an attacker planted before
// sign-in survives it. Call it at sign-in, then redirect.
func (s *Sessions) Set(w http.ResponseWriter, r *http.Request, subject string) Session {
	return s.SetAfter(w, r, subject, time.Time{})
}

// SetAfter is Set for a subject whose sessions issued at or before cutoff
// no longer count (a sign-out everywhere, a new password): the session is
// issued at the later of now and one microsecond after cutoff, so that it
// counts although it starts in the microsecond of the cut-off, or on a
// node whose clock lags the one that set it. (Get refuses a session issued
// more than a minute ahead of its clock; a cut-off that far ahead keeps
// the subject out until the clocks agree.) A zero cutoff is Set.
func (s *Sessions) SetAfter(w http.ResponseWriter, r *http.Request, subject string, cutoff time.Time) Session {
	iat := time.UnixMicro(s.now().UnixMicro()).UTC()
	if !cutoff.IsZero() && !iat.After(cutoff) {
		iat = time.UnixMicro(cutoff.UnixMicro() + 1).UTC()
	}
	sess := Session{ID: newToken(), Subject: subject, IssuedAt: iat, CSRF: newCSRFToken(s.csrf)}
	raw, _ := json.Marshal(sessionWire{ID: sess.ID, Sub: sess.Subject, Iat: iat.Unix(), IatMicro: iat.UnixMicro(), Tok: sess.CSRF}) // cannot fail: strings and ints
	body := base64.RawURLEncoding.EncodeToString(raw)
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName(r),
		Value:    body + "." + base64.RawURLEncoding.EncodeToString(s.key.sum(nil, []byte(body))),
		Path:     "/", // and no Domain: both required by the __Host- prefix
		MaxAge:   int(s.maxAge / time.Second),
		HttpOnly: true,
		Secure:   s.secure || r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	setCSRFCookie(w, r, sess.CSRF, s.secure)
	return sess
}

// Clear ends the session of r and rotates the CSRF token.
func (s *Sessions) Clear(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName(r),
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.secure || r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	setCSRFCookie(w, r, newCSRFToken(s.csrf), s.secure)
}

// maxCookies is net/http's default limit on the cookies of a request:
// beyond it, r.Cookie finds none.
const maxCookies = 3000

// cookieValue returns the value of r's cookie named name as r.Cookie finds
// it (the first one with a valid value, without its double quotes), without
// r.Cookie's list of every cookie of r.
func cookieValue(r *http.Request, name string) (string, bool) {
	lines := r.Header["Cookie"]
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxCookies {
		return "", false
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		var part string
		for len(line) > 0 {
			part, line, _ = strings.Cut(line, ";")
			k, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

// validCookieValue reports whether every byte of v may be in a cookie's
// value, as net/http reads them.
func validCookieValue(v string) bool {
	for i := range len(v) {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// decodeBase64 appends the unpadded base64url s decodes to to dst (in
// place when dst has room), or reports false. It decodes s in pieces of
// 32 characters so that each []byte of a piece stays on the stack.
func decodeBase64(dst []byte, s string) ([]byte, bool) {
	enc := base64.RawURLEncoding
	if need := len(dst) + enc.DecodedLen(len(s)); need > cap(dst) {
		dst = append(make([]byte, 0, need), dst...)
	}
	for len(s) > 0 {
		piece := s[:min(len(s), 32)] // 32 characters: 24 whole bytes
		s = s[len(piece):]
		n, err := enc.Decode(dst[len(dst):cap(dst)], []byte(piece))
		if err != nil {
			return nil, false
		}
		dst = dst[:len(dst)+n]
	}
	return dst, true
}

// cookieName is the session cookie's name for r: with the __Host- prefix
// when the cookie is Secure.
func (s *Sessions) cookieName(r *http.Request) string {
	if isSecure(r, s.secure) {
		return "__Host-" + s.name
	}
	return s.name
}

// base64MACLen is the length of a MAC in unpadded base64.
const base64MACLen = (sha256.Size*8 + 5) / 6

// equalString reports whether a and b are equal, in time that depends only
// on their lengths (which are not secret).
func equalString(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := range len(a) {
		v |= a[i] ^ b[i]
	}
	return subtle.ConstantTimeByteEq(v, 0) == 1
}

// parseSessionWire reads a session exactly as SetAfter writes it
// (json.Marshal of sessionWire: {"i":…,"s":…,"t":…,"u":…,"c":…}, strings
// without escapes), without encoding/json's reflection and with one string
// for all fields. Anything else is not ok: the caller falls back on
// json.Unmarshal, so this only ever agrees with it.
func parseSessionWire(raw string) (sw sessionWire, ok bool) {
	rest := raw
	str := func(prefix string) (string, bool) {
		v, ok := strings.CutPrefix(rest, prefix)
		if !ok {
			return "", false
		}
		end := strings.IndexByte(v, '"')
		if end < 0 {
			return "", false
		}
		for i := range end {
			if c := v[i]; c < 0x20 || c >= 0x80 || c == '\\' {
				return "", false // escapes, and what json.Unmarshal would refuse or replace
			}
		}
		rest = v[end+1:]
		return v[:end], true
	}
	num := func(prefix string) (int64, bool) {
		v, ok := strings.CutPrefix(rest, prefix)
		if !ok {
			return 0, false
		}
		end := strings.IndexByte(v, ',')
		if end < 1 || v[0] == '+' {
			return 0, false
		}
		n, err := strconv.ParseInt(v[:end], 10, 64)
		if err != nil {
			return 0, false
		}
		rest = v[end:]
		return n, true
	}
	if sw.ID, ok = str(`{"i":"`); !ok {
		return sessionWire{}, false
	}
	if sw.Sub, ok = str(`,"s":"`); !ok {
		return sessionWire{}, false
	}
	if sw.Iat, ok = num(`,"t":`); !ok {
		return sessionWire{}, false
	}
	if strings.HasPrefix(rest, `,"u":`) {
		if sw.IatMicro, ok = num(`,"u":`); !ok || sw.IatMicro == 0 {
			return sessionWire{}, false
		}
	}
	if sw.Tok, ok = str(`,"c":"`); !ok || rest != "}" {
		return sessionWire{}, false
	}
	return sw, true
}
