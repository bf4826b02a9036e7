package notify

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TokenError wraps a failure to get an access token from the token endpoint,
// so that [Diagnose] can tell it from an SMTP failure.
type TokenError struct {
	Err error
}

func (e *TokenError) Error() string { return "notify: token: " + e.Err.Error() }

// Unwrap returns the cause (an *oauth2.RetrieveError, a network or
// certificate error).
func (e *TokenError) Unwrap() error { return e.Err }

// TokenCacheOptions configure a [TokenCache].
type TokenCacheOptions struct {
	// Logger gets the token lines at Debug level; default: discard.
	Logger *slog.Logger
	// MaxEntries bounds the number of settings versions kept; default 4.
	MaxEntries int
	// Now is the clock that decides when a token is due for a refresh and
	// when a remembered failure is forgotten; default time.Now.
	Now func() time.Time
}

// tokenFailureTTL is how long a failed token request is remembered: Token
// calls for the same settings version get that failure meanwhile, without
// a request, so that every sender does not hammer an endpoint that is down.
// Each further failure in a row doubles it (with jitter that only shortens
// it), up to tokenFailureMaxTTL. A new settings version asks at once.
const (
	tokenFailureTTL    = 5 * time.Second
	tokenFailureMaxTTL = time.Minute
)

// tokenExpirySafety is how long before its expiry a cached token stops being
// handed out although its refresh failed: enough for a dial and an AUTH
// with it to end before Exchange would refuse it. For a token that lives
// shorter, half its refresh margin is used instead.
const tokenExpirySafety = time.Minute

// TokenCache hands out Exchange Online access tokens from the Entra ID
// client-credentials grant. It keeps one token per settings version (and
// credentials) and has at most one request to the token endpoint in flight
// per version: all callers that need a token meanwhile share its outcome,
// token or error. From TokenRefreshMargin before the token expires it is
// refreshed in the background while callers go on using it; when that
// refresh fails (the endpoint is down) the cached token is still handed out
// until shortly before it truly expires, and the refresh is tried again
// with backoff. A failure is remembered for a few seconds, longer when it
// repeats. It is safe for concurrent use.
type TokenCache struct {
	logger *slog.Logger
	max    int
	now    func() time.Time
	counts tokenCounts

	mu      sync.Mutex
	entries map[string]*tokenEntry
}

// TokenStats are counters of a [TokenCache].
type TokenStats struct {
	Fetches  int64 // requests to the token endpoint, failed or not
	Failures int64 // of which failed (refused, unreachable, timed out)
}

// tokenCounts count the requests of a cache's token sources.
type tokenCounts struct {
	fetches, failures atomic.Int64
}

// Stats returns the counters. They count requests to the endpoint, not
// Token calls: a token served from the cache counts nothing.
func (c *TokenCache) Stats() TokenStats {
	return TokenStats{Fetches: c.counts.fetches.Load(), Failures: c.counts.failures.Load()}
}

// NewTokenCache returns an empty cache.
func NewTokenCache(opts TokenCacheOptions) *TokenCache {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &TokenCache{
		logger:  cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		max:     cmp.Or(opts.MaxEntries, 4),
		now:     now,
		entries: make(map[string]*tokenEntry),
	}
}

// tokenEntry is the token of one settings version and the fetch that
// renews it.
type tokenEntry struct {
	client *http.Client
	src    *endpointSource
	margin time.Duration
	// lastUsed (Unix nanoseconds) is read by eviction without mu, so that
	// the cache lock never waits for an entry.
	lastUsed atomic.Int64

	// mu guards the fields below. It is never held during a request.
	mu          sync.Mutex
	tok         *oauth2.Token // the cached token; nil: none
	refreshAt   time.Time     // when tok is due for a refresh; zero: never
	usableUntil time.Time     // when tok stops being handed out; zero: never
	flight      *tokenFlight  // the request in flight; nil: none
	failErr     error         // the last request's failure, remembered
	failedUntil time.Time     // until then
	failures    int           // requests failed in a row
}

// usable reports whether the cached token may still be handed out at now.
func (e *tokenEntry) usable(now time.Time) bool {
	return e.tok != nil && (e.usableUntil.IsZero() || now.Before(e.usableUntil))
}

// due reports whether the cached token should be replaced at now.
func (e *tokenEntry) due(now time.Time) bool {
	return e.tok == nil || (!e.refreshAt.IsZero() && !now.Before(e.refreshAt))
}

// failing reports whether a failure is remembered at now: no request is
// made until it is forgotten.
func (e *tokenEntry) failing(now time.Time) bool {
	return e.failErr != nil && now.Before(e.failedUntil)
}

// startLocked starts a request for e unless one is in flight, and returns
// the flight and whether this call started it. e.mu is held.
func (c *TokenCache) startLocked(e *tokenEntry, timeout time.Duration) (*tokenFlight, bool) {
	if e.flight != nil {
		return e.flight, false
	}
	f := &tokenFlight{done: make(chan struct{})}
	e.flight = f
	go c.fetch(e, f, timeout)
	return f, true
}

// tokenFlight is one request to the token endpoint; done is closed once
// tok or err is set.
type tokenFlight struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

// Token returns an access token for the settings (which must be in
// [AuthExchangeOnline] mode) and whether it came from the cache. Failures are
// a *[TokenError].
//
// When no valid token is cached, the first caller starts a request (bounded
// by the settings' ConnTimeout, and not ended by any caller's ctx) and every
// caller meanwhile waits for it, each until its own ctx ends. A failed
// request is remembered for a few seconds and handed to the callers of that
// time as well. A cached token that is due for a refresh but still valid is
// returned at once, and the first such caller starts the refresh in the
// background; nobody waits for it.
func (c *TokenCache) Token(ctx context.Context, s Settings) (token string, fromCache bool, err error) {
	s = s.WithDefaults()
	if s.AuthMode != AuthExchangeOnline {
		return "", false, fmt.Errorf("notify: token: auth mode is %q, not %q", s.AuthMode, AuthExchangeOnline)
	}
	if err := ctx.Err(); err != nil {
		return "", false, &TokenError{Err: err}
	}
	e, err := c.entry(s)
	if err != nil {
		return "", false, &TokenError{Err: err}
	}

	now := c.now()
	e.lastUsed.Store(now.UnixNano())
	e.mu.Lock()
	if e.usable(now) {
		t := e.tok
		background := false
		if e.due(now) && !e.failing(now) {
			_, background = c.startLocked(e, s.ConnTimeout)
		}
		e.mu.Unlock()
		if background {
			c.logger.Debug("notify: token: due for a refresh; fetching a new one in the background, using the cached one meanwhile", tokenAttrs(s, t)...)
		}
		c.logger.Debug("notify: token: from cache", tokenAttrs(s, t)...)
		return t.AccessToken, true, nil
	}
	if e.failing(now) {
		err := e.failErr
		e.mu.Unlock()
		return "", false, &TokenError{Err: err}
	}
	f, leader := c.startLocked(e, s.ConnTimeout)
	e.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return "", false, &TokenError{Err: fmt.Errorf("waiting for the token endpoint: %w", ctx.Err())}
	}
	if f.err != nil {
		return "", false, &TokenError{Err: f.err}
	}
	if !leader {
		c.logger.Debug("notify: token: from cache", tokenAttrs(s, f.tok)...)
	}
	return f.tok.AccessToken, !leader, nil
}

// fetch runs the request of flight f for e and records its outcome.
func (c *TokenCache) fetch(e *tokenEntry, f *tokenFlight, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	asked := c.now()
	t, err := e.src.fetch(ctx)
	now := c.now()
	if err == nil && t.ExpiresIn > 0 {
		// On the cache's clock, counted from the request (x/oauth2 counts
		// from its answer on the wall clock).
		t.Expiry = asked.Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	e.mu.Lock()
	e.flight = nil
	var keep *oauth2.Token // the valid token kept after a failed refresh
	var retryIn time.Duration
	if err != nil {
		e.failures++
		retryIn = failureTTL(e.failures, rand.Float64())
		e.failErr, e.failedUntil = err, now.Add(retryIn)
		if e.usable(now) {
			keep = e.tok
		}
	} else {
		margin := effectiveMargin(t, e.margin)
		e.tok, e.refreshAt, e.usableUntil = t, refreshTime(t, margin), refreshTime(t, min(tokenExpirySafety, margin/2))
		e.failErr, e.failures = nil, 0
	}
	f.tok, f.err = t, err
	e.mu.Unlock()
	close(f.done)
	if keep != nil {
		c.logger.Warn("notify: token: refresh failed; still using the cached token until it expires, and trying again",
			append(tokenAttrs(e.src.settings, keep), slog.Int64("retry_in_ms", retryIn.Milliseconds()))...)
	}
}

// failureTTL is how long the failures-th failed request in a row is
// remembered: tokenFailureTTL doubled per failure, at most
// tokenFailureMaxTTL, shortened by up to 20 % (r in [0, 1)) so that the
// nodes of a cluster do not ask in step.
func failureTTL(failures int, r float64) time.Duration {
	d := tokenFailureTTL
	for i := 1; i < failures && d < tokenFailureMaxTTL; i++ {
		d *= 2
	}
	d = min(d, tokenFailureMaxTTL)
	return d - time.Duration(float64(d)*backoffJitter*r)
}

// effectiveMargin is how long before t expires it is refreshed: margin, or
// half of t's lifetime when margin is longer than that (else a token that
// lives shorter than the margin would be fetched anew for every message).
func effectiveMargin(t *oauth2.Token, margin time.Duration) time.Duration {
	if lifetime := tokenLifetime(t); lifetime > 0 {
		return min(margin, lifetime/2)
	}
	return margin
}

// tokenLifetime is how long t was valid for when it was issued: expires_in,
// or what is left of it now when the endpoint did not say; 0 when unknown.
func tokenLifetime(t *oauth2.Token) time.Duration {
	if t.ExpiresIn > 0 {
		return time.Duration(t.ExpiresIn) * time.Second
	}
	if t.Expiry.IsZero() {
		return 0
	}
	return max(time.Until(t.Expiry), 0)
}

// refreshTime is when t is due for a refresh: margin before it expires.
// The zero time (a token without expiry) means never.
func refreshTime(t *oauth2.Token, margin time.Duration) time.Time {
	if t.Expiry.IsZero() {
		return time.Time{}
	}
	return t.Expiry.Add(-margin)
}

// Renew fetches a new token for the settings to replace rejected, a token
// the SMTP server refused at AUTH, caches it and returns it. When the cache
// already holds another valid token (another sender renewed it, or a
// refresh brought it), that one is returned without a request; a request in
// flight is joined. When the request fails, the cached token stays: a
// refusal such as 454 4.7.0 may be the server's own hiccup while the token
// is fine, and mail must not stop because the endpoint is down too. The
// failure is remembered as any other, so a dead endpoint is not asked for
// every refused AUTH. Failures are a *[TokenError].
func (c *TokenCache) Renew(ctx context.Context, s Settings, rejected string) (string, error) {
	s = s.WithDefaults()
	if s.AuthMode != AuthExchangeOnline {
		return "", fmt.Errorf("notify: token: auth mode is %q, not %q", s.AuthMode, AuthExchangeOnline)
	}
	e, err := c.entry(s)
	if err != nil {
		return "", &TokenError{Err: err}
	}
	now := c.now()
	e.lastUsed.Store(now.UnixNano())
	e.mu.Lock()
	if e.usable(now) && e.tok.AccessToken != rejected {
		t := e.tok
		e.mu.Unlock()
		return t.AccessToken, nil
	}
	if e.failing(now) {
		err := e.failErr
		e.mu.Unlock()
		return "", &TokenError{Err: err}
	}
	f, _ := c.startLocked(e, s.ConnTimeout)
	e.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return "", &TokenError{Err: fmt.Errorf("waiting for the token endpoint: %w", ctx.Err())}
	}
	if f.err != nil {
		return "", &TokenError{Err: f.err}
	}
	return f.tok.AccessToken, nil
}

// Invalidate drops the cached token of the settings if it is still token, so
// that the next Token call fetches a new one (and waits for it); when
// several callers do it for the same token, only the first one drops it. It
// reports whether it dropped anything. The transport uses [TokenCache.Renew]
// instead, which keeps a valid token when no new one can be had.
func (c *TokenCache) Invalidate(s Settings, token string) bool {
	s = s.WithDefaults()
	c.mu.Lock()
	e := c.entries[tokenKey(s)]
	c.mu.Unlock()
	if e == nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tok == nil || e.tok.AccessToken != token {
		return false
	}
	e.tok = nil
	c.logger.Info("notify: token: dropped from cache after the server rejected it", tokenAttrs(s, nil)...)
	return true
}

// Close releases the idle HTTP connections of every entry and empties the
// cache. A request in flight ends by itself (within ConnTimeout).
func (c *TokenCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		e.client.CloseIdleConnections()
		delete(c.entries, k)
	}
	return nil
}

// entry finds or builds the token source of the settings.
func (c *TokenCache) entry(s Settings) (*tokenEntry, error) {
	key := tokenKey(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil {
		return e, nil
	}
	roots, err := rootCAs(s.TrustedCAPEM)
	if err != nil {
		return nil, err
	}
	client, err := tokenHTTPClient(s, roots)
	if err != nil {
		return nil, err
	}
	e := &tokenEntry{
		client: client,
		src:    newEndpointSource(s, client, c.logger, &c.counts),
		margin: s.TokenRefreshMargin,
	}
	e.lastUsed.Store(c.now().UnixNano())
	c.entries[key] = e
	c.evictLocked()
	return e, nil
}

// evictLocked drops the least recently used entries beyond the bound. It
// takes no entry's lock.
func (c *TokenCache) evictLocked() {
	for len(c.entries) > c.max {
		var oldKey string
		var oldest int64
		for k, e := range c.entries {
			if used := e.lastUsed.Load(); oldKey == "" || used < oldest {
				oldKey, oldest = k, used
			}
		}
		c.entries[oldKey].client.CloseIdleConnections()
		delete(c.entries, oldKey)
	}
}

// tokenKey identifies a token source: the settings version plus everything
// that changes which token the endpoint gives (hashed, so the secret is not
// kept in the key).
func tokenKey(s Settings) string {
	h := sha256.New()
	for _, v := range []string{
		strconv.FormatInt(s.Version, 10), s.TokenURL(), s.ClientID, s.ClientSecret,
		s.ProxyURL, s.TrustedCAPEM, s.TokenRefreshMargin.String(), s.ConnTimeout.String(),
	} {
		_, _ = io.WriteString(h, v)
		_, _ = h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// endpointSource requests a new token on every call and logs it (never the
// token), counting the requests when counts is set.
type endpointSource struct {
	cfg      *clientcredentials.Config
	client   *http.Client
	settings Settings
	logger   *slog.Logger
	counts   *tokenCounts // nil: not counted (TestConnection)
}

func newEndpointSource(s Settings, client *http.Client, logger *slog.Logger, counts *tokenCounts) *endpointSource {
	return &endpointSource{
		cfg: &clientcredentials.Config{
			ClientID:     s.ClientID,
			ClientSecret: s.ClientSecret,
			TokenURL:     s.TokenURL(),
			Scopes:       []string{ExchangeOnlineScope},
			AuthStyle:    oauth2.AuthStyleInParams,
		},
		client:   client,
		settings: s,
		logger:   logger,
		counts:   counts,
	}
}

// fetch makes one request, bounded by ctx.
func (s *endpointSource) fetch(ctx context.Context) (*oauth2.Token, error) {
	start := time.Now()
	t, err := s.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, s.client))
	took := time.Since(start)
	if s.counts != nil {
		s.counts.fetches.Add(1)
		if err != nil {
			s.counts.failures.Add(1)
		}
	}
	if err != nil {
		s.logger.Warn("notify: token: request to the token endpoint failed",
			append(tokenAttrs(s.settings, nil), slog.Int64("took_ms", took.Milliseconds()), slog.String("error", safeErrorText(err)))...)
		return nil, err
	}
	if t.ExpiresIn == 0 {
		// x/oauth2's client-credentials source keeps expires_in only
		// among the extra fields.
		switch v := t.Extra("expires_in").(type) {
		case float64:
			t.ExpiresIn = int64(v)
		case string:
			t.ExpiresIn, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	attrs := append(tokenAttrs(s.settings, t), slog.Int64("took_ms", took.Milliseconds()))
	s.logger.Debug("notify: token: acquired from endpoint, putting it in the token cache", attrs...)
	if margin := effectiveMargin(t, s.settings.TokenRefreshMargin); margin < s.settings.TokenRefreshMargin {
		s.logger.Warn("notify: token: the refresh margin is more than half the token's lifetime; refreshing halfway through its lifetime instead; lower token_refresh_margin",
			append(tokenAttrs(s.settings, t), slog.Int64("margin_ms", s.settings.TokenRefreshMargin.Milliseconds()), slog.Int64("refresh_before_expiry_ms", margin.Milliseconds()))...)
	}
	return t, nil
}

// tokenAttrs describe a token without showing it.
func tokenAttrs(s Settings, t *oauth2.Token) []any {
	attrs := []any{
		slog.String("tenant", s.TenantID),
		slog.String("client_id", s.ClientID),
		slog.Int64("settings_version", s.Version),
	}
	if t != nil && !t.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", t.Expiry), slog.Int64("expires_in_ms", time.Until(t.Expiry).Milliseconds()))
	}
	return attrs
}

// fetchToken gets a new token without any cache (for TestConnection and the
// naive path), honouring ctx.
func fetchToken(ctx context.Context, s Settings, logger *slog.Logger) (*oauth2.Token, error) {
	roots, err := rootCAs(s.TrustedCAPEM)
	if err != nil {
		return nil, &TokenError{Err: err}
	}
	client, err := tokenHTTPClient(s, roots)
	if err != nil {
		return nil, &TokenError{Err: err}
	}
	defer client.CloseIdleConnections()
	t, err := newEndpointSource(s, client, logger, nil).fetch(ctx)
	if err != nil {
		return nil, &TokenError{Err: err}
	}
	return t, nil
}

// safeErrorText is err's text, for logs. The errors of this package never
// carry a secret; the oauth2 ones carry the endpoint's reply, which does not
// echo the secret either.
func safeErrorText(err error) string {
	if err == nil {
		return ""
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		if re.ErrorCode != "" {
			return fmt.Sprintf("%s: %s: %s", re.Response.Status, re.ErrorCode, firstLine(re.ErrorDescription))
		}
		return "token endpoint replied " + re.Response.Status
	}
	return err.Error()
}
