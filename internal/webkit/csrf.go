package webkit

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// CSRF field, header and cookie names.
const (
	CSRFField        = "csrf_token"        // the hidden field every form carries
	CSRFHeader       = "X-CSRF-Token"      // or this header, for scripted clients
	CSRFCookie       = "lobby_csrf"        // the token the field must match, over plain HTTP
	CSRFCookieSecure = "__Host-lobby_csrf" // the same when cookies are Secure: host-only, Path=/
)

// CSRFMessage is what a person reads when a form post failed the CSRF check.
const CSRFMessage = "This form has expired or was sent from another site. Go back, reload the page and send it again."

type csrfKey struct{}

// NewCSRF protects a handler against cross-site request forgery. Every
// request gets a token in an HttpOnly, SameSite=Lax cookie (made on first
// visit, replaced by Sessions.Set at sign-in); pages put CSRFToken(r) in a
// hidden csrf_token field, so forms work without JavaScript. A POST (or any
// non-safe method) passes only when it is not a cross-origin browser
// request (Sec-Fetch-Site / Origin, as http.CrossOriginProtection checks),
// the cookie holds a token this server signed, and the field or the
// X-CSRF-Token header equals it, compared in constant time. Otherwise it
// gets 403, or 413 when its body was over the MaxBody limit.
//
// A token is 32 random bytes and their HMAC-SHA256 under a key derived from
// secret, so a cookie planted by someone else (from a sibling subdomain, or
// a network attacker over plain HTTP) is refused however well it matches
// the form. Secure cookies (secure is true, or the request came over TLS)
// are named __Host-lobby_csrf: the browser keeps them to this host and path
// "/", out of reach of other subdomains.
func NewCSRF(secret []byte, secure bool) func(http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	key := newMacer(csrfKeyFor(secret))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token := ""
			if c, err := r.Cookie(csrfCookieName(r, secure)); err == nil && validToken(key, c.Value) {
				token = c.Value
			}
			if !safeMethod(r.Method) {
				if err := cop.Check(r); err != nil {
					Error(w, r, http.StatusForbidden, CSRFMessage)
					return
				}
				if err := r.ParseForm(); err != nil {
					if IsTooLarge(err) {
						Error(w, r, http.StatusRequestEntityTooLarge, TooLargeMessage)
						return
					}
					Error(w, r, http.StatusBadRequest, "The form could not be read. Go back, reload the page and send it again.")
					return
				}
				sent := r.Header.Get(CSRFHeader)
				if sent == "" {
					sent = r.PostForm.Get(CSRFField)
				}
				if token == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
					Error(w, r, http.StatusForbidden, CSRFMessage)
					return
				}
			}
			if token == "" {
				token = newCSRFToken(key)
				setCSRFCookie(w, r, token, secure)
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), csrfKey{}, token)))
		})
	}
}

// CSRFToken returns the token that forms of r must carry in csrf_token, or
// "" outside NewCSRF.
func CSRFToken(r *http.Request) string {
	t, _ := r.Context().Value(csrfKey{}).(string)
	return t
}

// csrfKeyFor is the key CSRF tokens are signed with.
func csrfKeyFor(secret []byte) []byte { return DeriveKey(secret, "csrf") }

// isSecure reports whether cookies for r are Secure.
func isSecure(r *http.Request, secure bool) bool { return secure || r.TLS != nil }

// csrfCookieName is the CSRF cookie's name for r.
func csrfCookieName(r *http.Request, secure bool) string {
	if isSecure(r, secure) {
		return CSRFCookieSecure
	}
	return CSRFCookie
}

func setCSRFCookie(w http.ResponseWriter, r *http.Request, token string, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookieName(r, secure),
		Value:    token,
		Path:     "/", // and no Domain: both required by the __Host- prefix
		HttpOnly: true,
		Secure:   isSecure(r, secure),
		SameSite: http.SameSiteLaxMode,
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

const csrfRandomLen = 32

// newCSRFToken returns 32 random bytes followed by their HMAC-SHA256 under
// key, base64url.
func newCSRFToken(key *macer) string {
	b := make([]byte, csrfRandomLen, csrfRandomLen+32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported systems
	return base64.RawURLEncoding.EncodeToString(key.sum(b, b))
}

// validToken reports whether s is a token newCSRFToken made under key; the
// MAC is compared in constant time.
func validToken(key *macer, s string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) != csrfRandomLen+32 {
		return false
	}
	return key.verify(raw[csrfRandomLen:], raw[:csrfRandomLen])
}

// newToken returns 32 random bytes, base64url: a session ID.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported systems
	return base64.RawURLEncoding.EncodeToString(b)
}
