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
	CSRFField  = "csrf_token"   // the hidden field every form carries
	CSRFHeader = "X-CSRF-Token" // or this header, for scripted clients
	CSRFCookie = "lobby_csrf"   // the token the field must match
)

// CSRFMessage is what a person reads when a form post failed the CSRF check.
const CSRFMessage = "This form has expired or was sent from another site. Go back, reload the page and send it again."

type csrfKey struct{}

// CSRF protects next against cross-site request forgery. Every request gets
// a random token in an HttpOnly, SameSite=Lax cookie (made on first visit,
// replaced by Sessions.Set at sign-in); pages put CSRFToken(r) in a hidden
// csrf_token field. A POST (or any non-safe method) passes only when it is
// not a cross-origin browser request (Sec-Fetch-Site / Origin, as
// http.CrossOriginProtection checks) and its field or X-CSRF-Token header
// matches the cookie, compared in constant time. Otherwise it gets 403, or
// 413 when its body was over the MaxBody limit.
//
// The cookie is Secure when the request came over TLS; use NewCSRF(true)
// behind a TLS-terminating proxy.
func CSRF(next http.Handler) http.Handler { return NewCSRF(false)(next) }

// NewCSRF is CSRF with the Secure flag forced on when secure is true.
func NewCSRF(secure bool) func(http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token := ""
			if c, err := r.Cookie(CSRFCookie); err == nil && validToken(c.Value) {
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
				token = newToken()
				setCSRFCookie(w, r, token, secure)
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), csrfKey{}, token)))
		})
	}
}

// CSRFToken returns the token that forms of r must carry in csrf_token, or
// "" outside CSRF.
func CSRFToken(r *http.Request) string {
	t, _ := r.Context().Value(csrfKey{}).(string)
	return t
}

func setCSRFCookie(w http.ResponseWriter, r *http.Request, token string, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name:     CSRFCookie,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   secure || r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// newToken returns 32 random bytes, base64url.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported systems
	return base64.RawURLEncoding.EncodeToString(b)
}

// validToken reports whether s looks like a newToken value.
func validToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}
