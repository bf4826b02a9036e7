package lobby

import (
	"context"
	"crypto/rand"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/portal"
	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
)

// unlimited lifts the portal's rate limits: every request of a benchmark
// comes from 127.0.0.1.
var unlimited = portal.Limit{Burst: 1 << 30, Every: time.Nanosecond}

// benchEnv is Lobby on one backend behind a real HTTP server. Run is not
// called: the credentials email of each registration is written to the
// outbox in the registration's transaction, as always, but nothing sends
// it, so the figures are those of registering, not of mail delivery.
type benchEnv struct {
	lobby *Lobby
	store storage.Store
	srv   *httptest.Server
	run   atomic.Int64 // makes emails unique across the benchmark's runs
}

func benchSetup(b *testing.B, backend string, mod ...func(*Config)) *benchEnv {
	b.Helper()
	key := make([]byte, storage.KeySize)
	rand.Read(key)
	dbURL := filepath.Join(b.TempDir(), "lobby.db")
	if backend == "postgres" {
		dbURL, _ = pgtest.Schema(b)
	}
	st, err := OpenStore(b.Context(), dbURL, key)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	srv := httptest.NewUnstartedServer(nil)
	cfg := Config{
		Store:     st,
		BaseURL:   "http://" + srv.Listener.Addr().String() + "/guest",
		SecretKey: key,
		Logger:    slog.New(slog.DiscardHandler),
		Limits:    portal.Limits{Register: unlimited, Login: unlimited, Resend: unlimited, ResendPerAddress: unlimited},
	}
	for _, m := range mod {
		m(&cfg)
	}
	l, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	mux := http.NewServeMux()
	mux.Handle("/guest/", http.StripPrefix("/guest", l.Handler()))
	srv.Config.Handler = mux
	srv.Start()
	b.Cleanup(srv.Close)
	return &benchEnv{lobby: l, store: st, srv: srv}
}

// registrar registers guests as one browser does: it loads the form (CSRF
// cookie, nonce) and posts it.
type registrar struct {
	env    *benchEnv
	client *http.Client
	prefix string
	n      int
	posts  time.Duration // time spent in the POSTs alone

	lastLocation string    // where the last POST redirected
	lastPosted   time.Time // when its answer came
}

var benchTransport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}

func (e *benchEnv) registrar() *registrar {
	jar, _ := cookiejar.New(nil)
	return &registrar{
		env: e,
		client: &http.Client{Jar: jar, Transport: benchTransport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		prefix: fmt.Sprintf("r%d", e.run.Add(1)),
	}
}

var benchHiddenRE = regexp.MustCompile(`<input type="hidden" name="(csrf_token|nonce)" value="([^"]*)">`)

func (r *registrar) register() error {
	res, err := r.client.Get(r.env.srv.URL + "/guest/portal/register")
	if err != nil {
		return err
	}
	page, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET register: %d %v", res.StatusCode, err)
	}
	form := url.Values{}
	for _, m := range benchHiddenRE.FindAllSubmatch(page, -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	r.n++
	form.Set("first_name", "Bench")
	form.Set("last_name", "Mark")
	form.Set("email", fmt.Sprintf("%s-%d@bench.example.org", r.prefix, r.n))
	form.Set("terms", "on")
	start := time.Now()
	res, err = r.client.PostForm(r.env.srv.URL+"/guest/portal/register", form)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	r.posts += time.Since(start)
	r.lastLocation, r.lastPosted = res.Header.Get("Location"), time.Now()
	if res.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("POST register: %d, want 303", res.StatusCode)
	}
	return nil
}

// storeCreates creates n guests straight through the store, from workers
// goroutines, and returns how long it took.
func storeCreates(ctx context.Context, st storage.Store, n, workers int, prefix string) (time.Duration, error) {
	var next atomic.Int64
	errs := make(chan error, workers)
	start := time.Now()
	for w := 0; w < workers; w++ {
		go func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					errs <- nil
					return
				}
				now := storage.Truncate(time.Now())
				email := fmt.Sprintf("%s-%d@store.example.org", prefix, i)
				g := &storage.Guest{
					Username: email, Password: "Kx7pWm9fQe", FirstName: "Bench", LastName: "Mark", Email: email,
					GuestType: portal.DefaultGuestTypeName, Status: storage.GuestActive, ValidFrom: now, ValidUntil: now.Add(24 * time.Hour),
				}
				if err := st.CreateGuest(ctx, g); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var firstErr error
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return time.Since(start), firstErr
}

// minStoreSample is the fewest raw creates measured for the comparison, so
// that a short benchmark round still gives a steady store rate.
const minStoreSample = 200

// report adds the rates and their ratio to the benchmark's results.
func report(b *testing.B, env *benchEnv, n, workers int, httpTook, postsTook time.Duration) {
	b.Helper()
	m := max(n, minStoreSample)
	storeTook, err := storeCreates(context.Background(), env.store, m, workers, fmt.Sprintf("s%d", env.run.Add(1)))
	if err != nil {
		b.Fatal(err)
	}
	regs := float64(n) / httpTook.Seconds()
	creates := float64(m) / storeTook.Seconds()
	b.ReportMetric(regs, "registrations/s")
	b.ReportMetric(float64(n)/postsTook.Seconds()*float64(workers), "posts/s")
	b.ReportMetric(creates, "store-creates/s")
	b.ReportMetric(regs/creates, "http/store")
}

// BenchmarkRegister measures self-registrations per second through the
// HTTP handler (GET the form, POST it: validation, the guest, its
// credentials email in the outbox and the audit entry in one transaction,
// the redirect) on SQLite and, with LOBBY_TEST_DATABASE_URL, Postgres. In
// the same run it measures raw storage.Store.CreateGuest on the same
// backend, and reports registrations/s, posts/s (the POST alone),
// store-creates/s and their ratio http/store.
//
// serial is one client at a time; parallel is GOMAXPROCS clients (raw
// creates from as many goroutines).
func BenchmarkRegister(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend+"/serial", func(b *testing.B) {
			env := benchSetup(b, backend)
			r := env.registrar()
			start := time.Now()
			for b.Loop() {
				if err := r.register(); err != nil {
					b.Fatal(err)
				}
			}
			took := time.Since(start)
			b.StopTimer()
			report(b, env, b.N, 1, took, r.posts)
		})
		b.Run(backend+"/parallel", func(b *testing.B) {
			env := benchSetup(b, backend)
			var posts atomic.Int64
			workers := atomic.Int64{}
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				workers.Add(1)
				r := env.registrar()
				for pb.Next() {
					if err := r.register(); err != nil {
						b.Error(err)
						return
					}
				}
				posts.Add(int64(r.posts))
			})
			took := time.Since(start)
			b.StopTimer()
			w := int(workers.Load())
			report(b, env, b.N, w, took, time.Duration(posts.Load()))
		})
	}
}
