package lobby

import (
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"slices"
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
// signed cookie check and one primary-key read of the guest without its
// password, so that a suspension takes effect on the next request), against
// the same handler unguarded, in the same run: each iteration serves the
// request once unguarded and once guarded, and the figures are percentiles
// of each. gate-p50-µs and gate-p99-µs are the guarded percentile less the
// unguarded one. On a busy machine the p99 measures the machine: the
// undisturbed-gate-* figures are the same over the iterations during which
// the kernel did not take the benchmark's thread off its CPU (Linux; their
// share is disturbed-%). Variants, each against its own unguarded baseline:
//
//   - full-read: the portal's own check (Portal.Guest: the whole guest, its
//     password opened), which the gate used before GetGuestPublic;
//
//   - cache-1s: Config.GuestCacheTTL of 1s (the guest read once);
//
//   - forward-auth: the forward-auth endpoint's check, which a reverse
//     proxy makes before every request (its 200 counted as the 204).
//
//     go test -run '^$' -bench RequireGuest .
func BenchmarkRequireGuest(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, variant := range []string{"gate", "full-read", "cache-1s", "forward-auth"} {
			b.Run(backend+"/"+variant, func(b *testing.B) {
				env := benchSetup(b, backend, func(cfg *Config) {
					if variant == "cache-1s" {
						cfg.GuestCacheTTL = time.Second
					}
				})
				cookies := env.signIn(b)
				ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
				gated := env.lobby.RequireGuest(ok)
				if variant == "full-read" {
					gated = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						g, signedIn := env.lobby.portal.Guest(r)
						if !signedIn {
							env.lobby.redirectToLogin(w, r)
							return
						}
						w.Header().Set("Cache-Control", "private, no-store")
						ok.ServeHTTP(w, r.WithContext(withGuest(r.Context(), g)))
					})
				}
				if variant == "forward-auth" {
					gated = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						env.lobby.forwardAuth.ServeHTTP(okAs204{w}, r)
					})
				}
				// A context that can be cancelled, as every request net/http
				// serves has (it ends when the client goes away).
				req := httptest.NewRequestWithContext(b.Context(), "GET", "/wifi", nil)
				for _, c := range cookies {
					req.AddCookie(c)
				}
				// Samples during which the kernel took this thread off its CPU
				// were disturbed by the rest of the machine: the undisturbed
				// percentiles leave out both requests of such an iteration.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				serve := func(h http.Handler) (time.Duration, bool) {
					rec := httptest.NewRecorder()
					sw := involuntarySwitches()
					start := time.Now()
					h.ServeHTTP(rec, req)
					took := time.Since(start)
					moved := involuntarySwitches() != sw
					if rec.Code != http.StatusNoContent {
						b.Fatalf("guarded request: %d, want 204 (signed in)", rec.Code)
					}
					return took, moved
				}
				var plain, guarded, calmPlain, calmGuarded []time.Duration
				for b.Loop() {
					p, pm := serve(ok)
					g, gm := serve(gated)
					plain, guarded = append(plain, p), append(guarded, g)
					if !pm && !gm {
						calmPlain, calmGuarded = append(calmPlain, p), append(calmGuarded, g)
					}
				}
				b.StopTimer()
				p50, p99 := percentile(guarded, 50), percentile(guarded, 99)
				b.ReportMetric(micros(p50-percentile(plain, 50)), "gate-p50-µs")
				b.ReportMetric(micros(p99-percentile(plain, 99)), "gate-p99-µs")
				b.ReportMetric(micros(percentile(calmGuarded, 50)-percentile(calmPlain, 50)), "undisturbed-gate-p50-µs")
				b.ReportMetric(micros(percentile(calmGuarded, 99)-percentile(calmPlain, 99)), "undisturbed-gate-p99-µs")
				b.ReportMetric(100*float64(len(plain)-len(calmPlain))/float64(max(len(plain), 1)), "disturbed-%")
				// What the gate allocates per request: the guarded request's
				// allocations less the unguarded one's.
				ga, gb := allocsPerRequest(func() { gated.ServeHTTP(httptest.NewRecorder(), req) })
				pa, pb := allocsPerRequest(func() { ok.ServeHTTP(httptest.NewRecorder(), req) })
				b.ReportMetric(ga-pa, "gate-allocs/req")
				b.ReportMetric(gb-pb, "gate-B/req")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// okAs204 answers 204 where its handler answers 200.
type okAs204 struct{ http.ResponseWriter }

func (w okAs204) WriteHeader(code int) {
	if code == http.StatusOK {
		code = http.StatusNoContent
	}
	w.ResponseWriter.WriteHeader(code)
}

// allocsPerRequest returns the heap allocations and bytes of one call of
// serve, averaged over 1000 calls.
func allocsPerRequest(serve func()) (allocs, bytes float64) {
	const n = 1000
	serve()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		serve()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / n, float64(after.TotalAlloc-before.TotalAlloc) / n
}

// percentile returns the p-th percentile (nearest rank) of ds, sorting it.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
