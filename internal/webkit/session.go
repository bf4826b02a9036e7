package webkit

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Session is what a signed session cookie says.
type Session struct {
	ID       string    // random, new at every Set
	Subject  string    // who signed in, e.g. a guest ID
	IssuedAt time.Time // when Set made it
	CSRF     string    // the CSRF token forms must carry while it lasts
}

// Sessions keeps sessions in signed cookies: HttpOnly, SameSite=Lax, Secure
// when the request came over TLS or secure is set, signed with HMAC-SHA256
// under a key derived from the secret key and checked in constant time.
// Nothing is stored server-side: the caller checks on every request that
// the subject may still be signed in.
type Sessions struct {
	key    []byte
	csrf   []byte // the CSRF tokens' key
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
		key:    DeriveKey(key, "session/"+cookieName),
		csrf:   csrfKeyFor(key),
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
	Iat int64  `json:"t"`
	Tok string `json:"c"`
}

// Get returns the session of r if its cookie is genuine and not older than
// maxAge.
func (s *Sessions) Get(r *http.Request) (Session, bool) {
	c, err := r.Cookie(s.name)
	if err != nil {
		return Session{}, false
	}
	body, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return Session{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(s.key, []byte(body))) {
		return Session{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return Session{}, false
	}
	var sw sessionWire
	if err := json.Unmarshal(raw, &sw); err != nil {
		return Session{}, false
	}
	iat := time.Unix(sw.Iat, 0)
	now := s.now()
	if now.Sub(iat) >= s.maxAge || iat.After(now.Add(time.Minute)) {
		return Session{}, false
	}
	return Session{ID: sw.ID, Subject: sw.Sub, IssuedAt: iat, CSRF: sw.Tok}, true
}

// Set starts a new session for subject and returns it. It rotates
// everything: a new session ID and a new CSRF token (the CSRF cookie is
// replaced too), so that nothing an attacker planted before sign-in
// survives it. Call it at sign-in, then redirect.
func (s *Sessions) Set(w http.ResponseWriter, r *http.Request, subject string) Session {
	sess := Session{ID: newToken(), Subject: subject, IssuedAt: s.now().Truncate(time.Second), CSRF: newCSRFToken(s.csrf)}
	raw, _ := json.Marshal(sessionWire{ID: sess.ID, Sub: sess.Subject, Iat: sess.IssuedAt.Unix(), Tok: sess.CSRF}) // cannot fail: strings and an int
	body := base64.RawURLEncoding.EncodeToString(raw)
	http.SetCookie(w, &http.Cookie{
		Name:     s.name,
		Value:    body + "." + base64.RawURLEncoding.EncodeToString(mac(s.key, []byte(body))),
		Path:     "/",
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
		Name:     s.name,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.secure || r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	setCSRFCookie(w, r, newCSRFToken(s.csrf), s.secure)
}
