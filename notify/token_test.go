package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// Many goroutines asking at once cause exactly one token request.
func TestTokenCacheSingleFlight(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	b.srv.SetTokenLatency(50 * time.Millisecond) // keep the fetch in flight while the others arrive
	c := NewTokenCache(TokenCacheOptions{Logger: b.logger})
	t.Cleanup(func() { _ = c.Close() })

	const n = 64
	var wg sync.WaitGroup
	tokens := make([]string, n)
	fresh := make([]bool, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			tok, fromCache, err := c.Token(ctxT(t), b.settings)
			if err != nil {
				t.Error(err)
			}
			tokens[i], fresh[i] = tok, !fromCache
		})
	}
	close(start)
	wg.Wait()
	if got := b.srv.TokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
	nFresh := 0
	for i := range n {
		if tokens[i] == "" || tokens[i] != tokens[0] {
			t.Fatalf("goroutine %d got a different token", i)
		}
		if fresh[i] {
			nFresh++
		}
	}
	if nFresh != 1 {
		t.Errorf("%d callers were told their token came from the endpoint, want 1", nFresh)
	}
	logs := b.logs.String()
	if strings.Count(logs, "acquired from endpoint") != 1 || strings.Count(logs, "from cache") != n-1 {
		t.Errorf("want 1 endpoint line and %d cache lines, got logs:\n%s", n-1, logs)
	}
	if !strings.Contains(logs, `"took_ms"`) {
		t.Error("the endpoint line lacks the fetch time")
	}
}

func TestTokenCachePerVersionAndInvalidate(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	c := NewTokenCache(TokenCacheOptions{MaxEntries: 2})
	ctx := ctxT(t)

	v1, fromCache, err := c.Token(ctx, b.settings)
	if err != nil || fromCache {
		t.Fatalf("first token: fromCache=%v err=%v", fromCache, err)
	}
	again, fromCache, _ := c.Token(ctx, b.settings)
	if again != v1 || !fromCache {
		t.Fatal("second call did not come from the cache")
	}

	s2 := b.settings
	s2.Version = 2
	v2, fromCache, _ := c.Token(ctx, s2)
	if fromCache || v2 == v1 || b.srv.TokenRequests() != 2 {
		t.Fatalf("a new settings version must fetch its own token (requests %d)", b.srv.TokenRequests())
	}

	if c.Invalidate(b.settings, "some other token") {
		t.Error("Invalidate dropped a token that was not the cached one")
	}
	if !c.Invalidate(b.settings, v1) {
		t.Fatal("Invalidate did not drop the cached token")
	}
	if c.Invalidate(b.settings, v1) {
		t.Error("a second Invalidate of the same token dropped again")
	}
	v1b, fromCache, _ := c.Token(ctx, b.settings)
	if fromCache || v1b == v1 || b.srv.TokenRequests() != 3 {
		t.Errorf("after Invalidate: fromCache=%v, new=%v, requests %d", fromCache, v1b != v1, b.srv.TokenRequests())
	}
	// The version-2 source was untouched.
	if v2b, fromCache, _ := c.Token(ctx, s2); v2b != v2 || !fromCache {
		t.Error("Invalidate of version 1 affected version 2")
	}

	// Beyond MaxEntries the least recently used source goes.
	s3 := b.settings
	s3.Version = 3
	if _, _, err := c.Token(ctx, s3); err != nil {
		t.Fatal(err)
	}
	if _, fromCache, _ := c.Token(ctx, b.settings); fromCache {
		t.Error("version 1 should have been evicted")
	}
}

func TestTokenCacheErrors(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	c := NewTokenCache(TokenCacheOptions{})
	s := b.settings
	s.ClientSecret = b.srv.SecretID()
	_, _, err := c.Token(ctxT(t), s)
	var te *TokenError
	if !errors.As(err, &te) || Diagnose(err).Code != CodeInvalidClientSecret {
		t.Errorf("err = %v", err)
	}
	// A failure is not cached: fixing the secret (a new version) works.
	s.ClientSecret, s.Version = b.srv.ClientSecret(), 2
	if _, _, err := c.Token(ctxT(t), s); err != nil {
		t.Errorf("after fixing the secret: %v", err)
	}
	s.AuthMode = AuthPassword
	if _, _, err := c.Token(ctxT(t), s); err == nil {
		t.Error("Token in password mode succeeded")
	}
}

// The cache counts its requests to the token endpoint (not the tokens it
// serves from the cache), and the transport's stats and the Prometheus
// collector show them: many sends, one fetch; a rotation, one more; a
// failed request counts as a fetch and a failure.
func TestTokenFetchCounters(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	b := deliverySetup(t, exchangetest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	tokens := NewTokenCache(TokenCacheOptions{Logger: b.logger})
	t.Cleanup(func() { _ = tokens.Close() })
	first := b.transport(t, TransportOptions{PoolSize: 1, Tokens: tokens})
	reg := prometheus.NewRegistry()
	if err := reg.Register(NewStatsCollector(first.Stats)); err != nil {
		t.Fatal(err)
	}
	check := func(when string, fetches, failures int64) {
		t.Helper()
		if st := first.Stats(); st.TokenFetches != fetches || st.TokenFailures != failures {
			t.Errorf("%s: stats %+v, want %d token fetches, %d failures", when, st, fetches, failures)
		}
		if got := tokens.Stats(); got != (TokenStats{Fetches: fetches, Failures: failures}) {
			t.Errorf("%s: cache stats %+v", when, got)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if got := counterIn(mfs, "lobby_smtp_token_fetches_total"); got != float64(fetches) {
			t.Errorf("%s: lobby_smtp_token_fetches_total = %v, want %d", when, got, fetches)
		}
		if got := counterIn(mfs, "lobby_smtp_token_fetch_failures_total"); got != float64(failures) {
			t.Errorf("%s: lobby_smtp_token_fetch_failures_total = %v, want %d", when, got, failures)
		}
	}
	check("before any send", 0, 0)

	const n = 5
	for i := range n {
		if err := first.Send(ctxT(t), b.settings, testEmail(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	check(fmt.Sprintf("after %d sends", n), 1, 0)

	// Rotation: the server's clock passes the token's expiry, so a new
	// connection's AUTH is refused (535); the token is dropped and fetched
	// again. The cache and its counters are shared by both transports.
	skew.Store(int64(2 * time.Hour))
	second := b.transport(t, TransportOptions{PoolSize: 1, Tokens: tokens})
	if err := second.Send(ctxT(t), b.settings, testEmail("rotated")); err != nil {
		t.Fatal(err)
	}
	if st := second.Stats(); st.AuthRetries != 1 || st.TokenFetches != 2 {
		t.Errorf("second transport: stats %+v, want 1 auth retry and 2 token fetches", st)
	}
	check("after a rotation", 2, 0)

	// A failed request: the endpoint is down for a new settings version.
	b.srv.SetTokenEndpointDown(true)
	s := b.settings
	s.Version = 2
	if err := second.Send(ctxT(t), s, testEmail("no token")); Diagnose(err).Code != CodeTokenEndpointUnavailable {
		t.Fatalf("Send with the endpoint down: %v", err)
	}
	check("after a failed request", 3, 1)
	if got := b.srv.TokenRequests(); got != 3 {
		t.Errorf("emulator saw %d token requests, want 3", got)
	}
}

// A caller waiting for a fetch that hangs leaves when its own context ends,
// without starting a fetch of its own; the fetch goes on for the others.
func TestTokenCacheWaiterHonoursItsContext(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	b.srv.SetTokenLatency(10 * time.Second) // the endpoint hangs (until the emulator closes)
	s := b.settings
	s.ConnTimeout = 30 * time.Second
	c := NewTokenCache(TokenCacheOptions{})
	t.Cleanup(func() { _ = c.Close() })

	leaderCtx, cancelLeader := context.WithCancel(ctxT(t))
	leaderErr := make(chan error, 1)
	go func() { _, _, err := c.Token(leaderCtx, s); leaderErr <- err }()
	waitFor(t, "the first caller's fetch to reach the endpoint", func() bool { return b.srv.TokenRequests() == 1 })

	ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	_, _, err := c.Token(ctx, s)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter: err = %v, want its context's deadline", err)
	}
	var te *TokenError
	if !errors.As(err, &te) {
		t.Errorf("waiter: err %T is not a *TokenError", err)
	}
	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("first caller: err = %v, want its context's cancellation", err)
	}
	if n := b.srv.TokenRequests(); n != 1 || b.srv.TokensIssued() != 0 {
		t.Errorf("token requests %d, issued %d; want the one fetch, still in flight", n, b.srv.TokensIssued())
	}
}

// Callers that arrive together share one fetch and its failure, and callers
// right after it get the failure remembered: a dead endpoint is asked once.
func TestTokenCacheSharesAFailure(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	b.srv.SetTokenEndpointDown(true)
	var skew atomic.Int64
	c := NewTokenCache(TokenCacheOptions{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	t.Cleanup(func() { _ = c.Close() })

	const workers = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make(chan string, 2*workers)
	for range workers {
		wg.Go(func() {
			<-start
			for range 2 {
				_, _, err := c.Token(ctxT(t), b.settings)
				codes <- Diagnose(err).Code
			}
		})
	}
	close(start)
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != CodeTokenEndpointUnavailable {
			t.Errorf("a caller got %s, want %s", code, CodeTokenEndpointUnavailable)
		}
	}
	if n := b.srv.TokenRequests(); n != 1 {
		t.Errorf("%d callers asking twice made %d token requests, want 1", workers, n)
	}
	if st := c.Stats(); st.Fetches != 1 || st.Failures != 1 {
		t.Errorf("stats %+v, want 1 fetch, 1 failure", st)
	}

	// A new settings version is not held back by the old one's failure.
	b.srv.SetTokenEndpointDown(false)
	s2 := b.settings
	s2.Version = 2
	if _, _, err := c.Token(ctxT(t), s2); err != nil || b.srv.TokenRequests() != 2 {
		t.Fatalf("new version: err %v, token requests %d; want a fetch of its own", err, b.srv.TokenRequests())
	}
	// The same version asks again once the failure is old enough.
	if _, _, err := c.Token(ctxT(t), b.settings); err == nil || b.srv.TokenRequests() != 2 {
		t.Fatalf("right after the failure: err %v, token requests %d; want the remembered failure", err, b.srv.TokenRequests())
	}
	skew.Store(int64(tokenFailureTTL))
	if _, _, err := c.Token(ctxT(t), b.settings); err != nil || b.srv.TokenRequests() != 3 {
		t.Fatalf("after the failure expired: err %v, token requests %d; want a new fetch", err, b.srv.TokenRequests())
	}
}

// One entry's slow fetch does not hold up the others, even when a new entry
// evicts the slow one.
func TestTokenCacheSlowFetchDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	hang := silentListener(t) // a token endpoint that never answers
	c := NewTokenCache(TokenCacheOptions{MaxEntries: 1})
	t.Cleanup(func() { _ = c.Close() })

	slow := b.settings
	slow.Version, slow.TokenEndpointBase, slow.ConnTimeout = 7, "https://"+hang.addr.String(), 30*time.Second
	slowCtx, cancelSlow := context.WithCancel(ctxT(t))
	defer cancelSlow()
	slowDone := make(chan struct{})
	go func() { defer close(slowDone); _, _, _ = c.Token(slowCtx, slow) }()
	<-hang.accepted // its fetch is in flight and will not end by itself

	got := make(chan error, 1)
	go func() { _, _, err := c.Token(ctxT(t), b.settings); got <- err }() // evicts the slow entry
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("Token for another version: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Token for another version is stuck behind the slow fetch")
	}
	cancelSlow()
	<-slowDone
}
