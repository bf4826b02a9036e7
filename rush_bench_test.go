package lobby

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/portal"
)

// rushEnv is Lobby running (dispatcher and jobs) on one backend behind a
// real HTTP server, sending through the Exchange Online emulator slowed to
// realistic latencies.
type rushEnv struct {
	*benchEnv
	emu *exchangetest.Server
}

// Emulator latencies of the rush: every SMTP reply, the acceptance of a
// message after DATA, and the token endpoint.
const (
	rushReplyLatency = 5 * time.Millisecond
	rushDataMin      = 50 * time.Millisecond
	rushDataMax      = 150 * time.Millisecond
	rushTokenLatency = 200 * time.Millisecond
)

func rushSetup(b *testing.B, backend string, workers int) *rushEnv {
	b.Helper()
	st, key := benchStore(b, backend)

	emu := exchangetest.NewServer(b, exchangetest.Options{Logger: slog.New(slog.DiscardHandler)})
	emu.SetSMTPLatency(rushReplyLatency)
	emu.SetDataLatency(rushDataMin, rushDataMax)
	emu.SetTokenLatency(rushTokenLatency)
	if _, err := notify.SaveSettings(b.Context(), st, notify.Settings{
		Host: emu.SMTPHost(), Port: emu.SMTPPort(), Security: notify.SecurityStartTLS, From: emu.Mailbox(),
		AuthMode: notify.AuthExchangeOnline, TenantID: emu.Tenant(), ClientID: emu.ClientID(),
		ClientSecret: emu.ClientSecret(), TokenEndpointBase: emu.TokenEndpointBase(), TrustedCAPEM: string(emu.CACertPEM()),
	}, 0); err != nil {
		b.Fatal(err)
	}

	srv := httptest.NewUnstartedServer(nil)
	l, err := New(Config{
		Store:       st,
		BaseURL:     "http://" + srv.Listener.Addr().String() + "/guest",
		SecretKey:   key,
		Logger:      slog.New(slog.DiscardHandler),
		Limits:      portal.Limits{Register: unlimited, Login: unlimited, Resend: unlimited, ResendPerAddress: unlimited},
		MailWorkers: workers,
	})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(runCtx) }()
	b.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
		l.Close()
	})
	mux := http.NewServeMux()
	mux.Handle("/guest/", http.StripPrefix("/guest", l.Handler()))
	srv.Config.Handler = mux
	srv.Start()
	b.Cleanup(srv.Close)
	return &rushEnv{benchEnv: &benchEnv{lobby: l, store: st, srv: srv}, emu: emu}
}

// rushParams are the rush's length and its concurrent registrations:
// LOBBY_RUSH_DURATION (a Go duration) and LOBBY_RUSH_CLIENTS change them.
//
// LOBBY_RUSH_WORKERS sets Config.MailWorkers (default 8 here, set
// explicitly: the emulator has no per-mailbox connection limit, and the
// rush's figures so far were measured with 8; the product's default is 3).
//
// LOBBY_RUSH_SUCCESS_PAGE=0 leaves out the success page: each guest posts
// the form and starts again at once, so registrations no longer wait for
// their mail and delivery is measured against what the HTTP side alone
// can take (then the SMTP latency and the dispatcher's workers, not the
// database, set the ratio).
func rushParams(b *testing.B) (time.Duration, int, int) {
	d, n, w := 20*time.Second, 64, 8
	if v := os.Getenv("LOBBY_RUSH_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			b.Fatalf("LOBBY_RUSH_DURATION: %v", err)
		}
	}
	if v := os.Getenv("LOBBY_RUSH_CLIENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("LOBBY_RUSH_CLIENTS %q: want a positive number", v)
		}
	}
	if v := os.Getenv("LOBBY_RUSH_WORKERS"); v != "" {
		var err error
		if w, err = strconv.Atoi(v); err != nil || w < 1 {
			b.Fatalf("LOBBY_RUSH_WORKERS %q: want a positive number", v)
		}
	}
	return d, n, w
}

// BenchmarkRush is a morning rush: 64 guests register at once, over and
// over, for 20 s, over HTTP on loopback, while the dispatcher sends the
// credentials through the emulator with Exchange-like latencies (5 ms per
// SMTP reply, 50-150 ms to accept a message, 200 ms per token). Each guest
// does what a browser does: load the form, post it, follow the redirect to
// the success page (which waits up to the portal's SuccessWait, 3 s, for
// the email to go out). It reports registrations/s, credential mails
// delivered/s within the same window, their ratio mail/registrations, and
// the latency of a whole registration (form to success page) and of the
// POST alone, p50 and p99. Run it with make bench-rush:
//
//	go test -run '^$' -bench Rush -benchtime 1x -timeout 10m .
func BenchmarkRush(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			dur, clients, workers := rushParams(b)
			env := rushSetup(b, backend, workers)
			for b.Loop() {
				env.rush(b, dur, clients)
			}
		})
	}
}

func (env *rushEnv) rush(b *testing.B, dur time.Duration, clients int) {
	var (
		mu          sync.Mutex
		whole, post []time.Duration
		failed      int
		regs        int // POSTs answered within the window
		firstErr    error
	)
	successPage := os.Getenv("LOBBY_RUSH_SUCCESS_PAGE") != "0"
	before := len(env.emu.Messages())
	start := time.Now()
	end := start.Add(dur)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			r := env.registrar()
			for time.Now().Before(end) {
				t0 := time.Now()
				posts := r.posts
				var err error
				if successPage {
					_, err = r.registerAndFollow()
				} else {
					err = r.register()
				}
				took := time.Since(t0)
				mu.Lock()
				switch {
				case err != nil:
					failed++
					if firstErr == nil {
						firstErr = err
					}
				default:
					whole = append(whole, took)
					post = append(post, r.posts-posts)
					if !r.lastPosted.After(end) {
						regs++
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatalf("%d registrations failed; the first: %v", failed, firstErr)
	}
	// Registrations counted are those whose POST was answered within the
	// window; mail counted is what the emulator accepted within it.
	delivered := 0
	for _, m := range env.emu.Messages()[before:] {
		if !m.ReceivedAt.After(end) {
			delivered++
		}
	}
	secs := dur.Seconds()
	b.ReportMetric(float64(regs)/secs, "registrations/s")
	b.ReportMetric(float64(delivered)/secs, "mails/s")
	b.ReportMetric(float64(delivered)/float64(max(regs, 1)), "mail/registrations")
	b.ReportMetric(float64(percentile(whole, 50).Milliseconds()), "reg-p50-ms")
	b.ReportMetric(float64(percentile(whole, 99).Milliseconds()), "reg-p99-ms")
	b.ReportMetric(float64(percentile(post, 50).Milliseconds()), "post-p50-ms")
	b.ReportMetric(float64(percentile(post, 99).Milliseconds()), "post-p99-ms")
	b.ReportMetric(0, "ns/op")
	mode := "with the success page"
	if !successPage {
		mode = "without the success page"
	}
	b.Logf("%s, %s: %d clients for %v: %d registrations (%.1f/s), %d credential mails delivered in the window (%.1f/s), ratio %.2f",
		env.store.Backend(), mode, clients, dur, regs, float64(regs)/secs, delivered, float64(delivered)/secs,
		float64(delivered)/float64(max(regs, 1)))
}

// registerAndFollow registers once as a browser does and follows the
// redirect to the success page. It returns the success page's path.
func (r *registrar) registerAndFollow() (string, error) {
	if err := r.register(); err != nil {
		return "", err
	}
	base, err := url.Parse(r.env.srv.URL + "/guest/portal/register")
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(r.lastLocation)
	if err != nil {
		return "", err
	}
	loc := base.ResolveReference(ref).String()
	res, err := r.client.Get(loc)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d, want 200", loc, res.StatusCode)
	}
	return loc, nil
}
