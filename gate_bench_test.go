package lobby

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

var benchLoginRE = regexp.MustCompile(`<input type="hidden" name="(csrf_token|return)" value="([^"]*)">`)

// signIn registers a guest, gives it a known password through the store and
// signs it in over HTTP, returning the session cookies.
func (e *benchEnv) signIn(b *testing.B) []*http.Cookie {
	b.Helper()
	r := e.registrar()
	if err := r.register(); err != nil {
		b.Fatal(err)
	}
	g, err := e.store.GetGuestByEmail(b.Context(), fmt.Sprintf("%s-%d@bench.example.org", r.prefix, r.n))
	if err != nil {
		b.Fatal(err)
	}
	const password = "bench-password-1"
	if _, err := e.store.UpdateGuest(b.Context(), g.ID, storage.GuestUpdate{Password: ptr(password)}); err != nil {
		b.Fatal(err)
	}
	res, err := r.client.Get(e.srv.URL + "/guest/portal/login")
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	form := url.Values{"username": {g.Username}, "password": {password}}
	for _, m := range benchLoginRE.FindAllSubmatch(page, -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	res, err = r.client.PostForm(e.srv.URL+"/guest/portal/login", form)
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		b.Fatalf("POST login: %d, want 303", res.StatusCode)
	}
	u, _ := url.Parse(e.srv.URL + "/guest/portal/")
	return r.client.Jar.Cookies(u)
}

func ptr[T any](v T) *T { return &v }

// BenchmarkRequireGuest measures what the gate adds to a guarded request (a
// signed cookie check and one primary-key read of the guest, so that a
// suspension takes effect on the next request), against the same handler
// unguarded, in the same run.
//
//	go test -run '^$' -bench RequireGuest .
func BenchmarkRequireGuest(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			env := benchSetup(b, backend)
			cookies := env.signIn(b)
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
			gated := env.lobby.RequireGuest(ok)
			req := httptest.NewRequest("GET", "/wifi", nil)
			for _, c := range cookies {
				req.AddCookie(c)
			}
			serve := func(h http.Handler) time.Duration {
				start := time.Now()
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusNoContent {
					b.Fatalf("guarded request: %d, want 204 (signed in)", rec.Code)
				}
				return time.Since(start)
			}
			var plain, guarded time.Duration
			for b.Loop() {
				plain += serve(ok)
				guarded += serve(gated)
			}
			b.ReportMetric(float64((guarded-plain).Microseconds())/float64(b.N), "gate-µs/req")
			b.ReportMetric(float64(b.N)/guarded.Seconds(), "guarded-req/s")
		})
	}
}
