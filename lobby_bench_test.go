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
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
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

// benchStore opens a store on a fresh database of backend ("sqlite" or
// "postgres") with a random key, and closes it when b ends.
func benchStore(b *testing.B, backend string) (storage.Store, []byte) {
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
	return st, key
}

func benchSetup(b *testing.B, backend string, mod ...func(*Config)) *benchEnv {
	b.Helper()
	st, key := benchStore(b, backend)
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

// storeCreates registers n guests straight through the store, from
// workers goroutines, and returns how long it took: the registration's own
// transaction (the guest, its credentials email in the outbox and the audit
// entry), or with createOnly the guest's insert alone.
func storeCreates(ctx context.Context, st storage.Store, n, workers int, prefix string, createOnly bool) (time.Duration, error) {
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
				var err error
				if createOnly {
					err = st.CreateGuest(ctx, g)
				} else {
					err = st.WithTx(ctx, func(tx storage.Store) error {
						if err := tx.CreateGuest(ctx, g); err != nil {
							return err
						}
						m := benchCredentials
						m.To, m.IdempotencyKey = []string{email}, "bench:"+email
						if _, err := notify.Enqueue(ctx, tx, m); err != nil {
							return err
						}
						return tx.Audit(ctx, storage.AuditEntry{Actor: "guest:" + email, Action: "guest.register",
							Subject: g.ID.String(), Detail: "self-registered, status active"})
					})
				}
				if err != nil {
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

// benchCredentials is a credentials email of about the size the portal
// renders (text and HTML).
var benchCredentials = notify.Message{
	Kind:    "guest.credentials",
	Subject: "Your guest access",
	Text:    strings.Repeat("Username: bench@example.org\nPassword: Kx7pWm9fQe\nValid until 2 December 2026 09:00.\n", 12),
	HTML:    strings.Repeat("<p>Username: <b>bench@example.org</b><br>Password: <b>Kx7pWm9fQe</b></p>\n", 20),
}

// minStoreSample is the fewest raw creates measured for the comparison, so
// that a short benchmark round still gives a steady store rate.
const minStoreSample = 200

// report adds the rates and their ratios to the benchmark's results.
func report(b *testing.B, env *benchEnv, n, workers int, httpTook, postsTook, httpCPU time.Duration) {
	b.Helper()
	m := max(n, minStoreSample)
	cpu0 := processCPU()
	txTook, err := storeCreates(context.Background(), env.store, m, workers, fmt.Sprintf("s%d", env.run.Add(1)), false)
	if err != nil {
		b.Fatal(err)
	}
	txCPU := processCPU() - cpu0
	createTook, err := storeCreates(context.Background(), env.store, m, workers, fmt.Sprintf("s%d", env.run.Add(1)), true)
	if err != nil {
		b.Fatal(err)
	}
	regs := float64(n) / httpTook.Seconds()
	txs := float64(m) / txTook.Seconds()
	creates := float64(m) / createTook.Seconds()
	b.ReportMetric(regs, "registrations/s")
	b.ReportMetric(float64(n)/postsTook.Seconds()*float64(workers), "posts/s")
	b.ReportMetric(txs, "store-tx/s")
	b.ReportMetric(creates, "store-creates/s")
	b.ReportMetric(regs/txs, "http/store-tx")
	b.ReportMetric(regs/creates, "http/create")
	// The same comparison in CPU time per registration (this process,
	// client included), which the rest of a busy machine does not skew.
	if httpCPU > 0 && txCPU > 0 {
		b.ReportMetric(float64(txCPU)/float64(m)/(float64(httpCPU)/float64(n)), "http/store-tx-cpu")
	}
}

// BenchmarkRegister measures self-registrations per second through the
// HTTP handler (GET the form, POST it: validation, the guest, its
// credentials email in the outbox and the audit entry in one transaction,
// the redirect) on SQLite and, with LOBBY_TEST_DATABASE_URL, Postgres. In
// the same run it measures the same registration transaction called on the
// store directly (storage.Store.WithTx: CreateGuest, notify.Enqueue of a
// credentials email, Audit), and a bare CreateGuest, and reports
// registrations/s, posts/s (the POST alone), store-tx/s, store-creates/s
// and the ratios http/store-tx (the figure to watch) and http/create, and
// http/store-tx-cpu: the store transaction's CPU time over a whole HTTP
// registration's (this process's CPU, so the benchmark's client counts
// against HTTP), which other work on a busy machine does not skew.
//
// serial is one client at a time; parallel is GOMAXPROCS clients (the
// store's transactions from as many goroutines).
func BenchmarkRegister(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend+"/serial", func(b *testing.B) {
			env := benchSetup(b, backend)
			r := env.registrar()
			start, cpu := time.Now(), processCPU()
			for b.Loop() {
				if err := r.register(); err != nil {
					b.Fatal(err)
				}
			}
			took, cpu := time.Since(start), processCPU()-cpu
			b.StopTimer()
			report(b, env, b.N, 1, took, r.posts, cpu)
		})
		b.Run(backend+"/interleaved", func(b *testing.B) {
			// One HTTP registration, then one store transaction, in turn:
			// the disk's and the machine's moods hit both alike, which a
			// run of each after the other does not promise on a shared
			// machine. Reports the p50 and p99 of each, and the ratios
			// of their rates at p50 and over the whole run.
			env := benchSetup(b, backend)
			r := env.registrar()
			ctx := context.Background()
			var httpD, txD []time.Duration
			var httpSum, txSum time.Duration
			for b.Loop() {
				start := time.Now()
				if err := r.register(); err != nil {
					b.Fatal(err)
				}
				d := time.Since(start)
				httpD, httpSum = append(httpD, d), httpSum+d
				d, err := storeCreates(ctx, env.store, 1, 1, fmt.Sprintf("i%d", env.run.Add(1)), false)
				if err != nil {
					b.Fatal(err)
				}
				txD, txSum = append(txD, d), txSum+d
			}
			b.StopTimer()
			hp50, hp99 := percentile(httpD, 50), percentile(httpD, 99)
			tp50, tp99 := percentile(txD, 50), percentile(txD, 99)
			b.ReportMetric(float64(hp50.Microseconds()), "http-p50-µs")
			b.ReportMetric(float64(hp99.Microseconds()), "http-p99-µs")
			b.ReportMetric(float64(tp50.Microseconds()), "store-tx-p50-µs")
			b.ReportMetric(float64(tp99.Microseconds()), "store-tx-p99-µs")
			b.ReportMetric(float64(tp50)/float64(hp50), "http/store-tx-p50")
			b.ReportMetric(float64(txSum)/float64(httpSum), "http/store-tx")
		})
		b.Run(backend+"/parallel", func(b *testing.B) {
			env := benchSetup(b, backend)
			var posts atomic.Int64
			workers := atomic.Int64{}
			b.ResetTimer()
			start, cpu := time.Now(), processCPU()
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
			took, cpu := time.Since(start), processCPU()-cpu
			b.StopTimer()
			w := int(workers.Load())
			report(b, env, b.N, w, took, time.Duration(posts.Load()), cpu)
		})
	}
}
