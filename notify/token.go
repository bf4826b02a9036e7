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
}

// TokenCache hands out Exchange Online access tokens from the Entra ID
// client-credentials grant. It keeps one token source per settings version
// (and credentials), reuses a token until TokenRefreshMargin before it
// expires, and fetches at most one token at a time per source however many
// senders ask. It is safe for concurrent use.
type TokenCache struct {
	logger *slog.Logger
	max    int
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
	return &TokenCache{
		logger:  cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		max:     cmp.Or(opts.MaxEntries, 4),
		entries: make(map[string]*tokenEntry),
	}
}

// tokenEntry is the token source of one settings version.
type tokenEntry struct {
	client *http.Client
	base   oauth2.TokenSource // fetches from the endpoint on every call
	margin time.Duration

	// mu serialises Token calls, so one fetch is in flight at a time and
	// every caller knows whether its token came from the cache.
	mu       sync.Mutex
	src      oauth2.TokenSource // oauth2.ReuseTokenSourceWithExpiry(nil, base, margin)
	last     *oauth2.Token
	lastUsed time.Time
}

// Token returns an access token for the settings (which must be in
// [AuthExchangeOnline] mode) and whether it came from the cache. Failures are
// a *[TokenError].
//
// A caller that finds a fetch in flight waits for it (bounded by the
// settings' ConnTimeout) and then gets the new token from the cache.
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

	e.mu.Lock()
	t, err := e.src.Token()
	if err == nil {
		fromCache = t == e.last
		e.last = t
	}
	e.lastUsed = time.Now()
	e.mu.Unlock()
	if err != nil {
		return "", false, &TokenError{Err: err}
	}
	if fromCache {
		c.logger.Debug("notify: token: from cache", tokenAttrs(s, t)...)
	}
	return t.AccessToken, fromCache, nil
}

// Invalidate drops the cached token of the settings if it is still token, so
// that the next Token call fetches a new one. Senders call it after the SMTP
// server rejected token (535); when several do for the same token, only the
// first one drops it. It reports whether it dropped anything.
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
	if e.last == nil || e.last.AccessToken != token {
		return false
	}
	e.src = oauth2.ReuseTokenSourceWithExpiry(nil, e.base, e.margin)
	e.last = nil
	c.logger.Info("notify: token: dropped from cache after the server rejected it", tokenAttrs(s, nil)...)
	return true
}

// Close releases the idle HTTP connections of every entry and empties the cache.
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
	base := &endpointSource{
		cfg: &clientcredentials.Config{
			ClientID:     s.ClientID,
			ClientSecret: s.ClientSecret,
			TokenURL:     s.TokenURL(),
			Scopes:       []string{ExchangeOnlineScope},
			AuthStyle:    oauth2.AuthStyleInParams,
		},
		// The token source keeps this context for its whole life: it carries
		// the HTTP client and must never be cancelled.
		ctx:      context.WithValue(context.Background(), oauth2.HTTPClient, client),
		settings: s,
		logger:   c.logger,
		counts:   &c.counts,
	}
	e := &tokenEntry{
		client:   client,
		base:     base,
		margin:   s.TokenRefreshMargin,
		src:      oauth2.ReuseTokenSourceWithExpiry(nil, base, s.TokenRefreshMargin),
		lastUsed: time.Now(),
	}
	c.entries[key] = e
	c.evictLocked()
	return e, nil
}

// evictLocked drops the least recently used entries beyond the bound.
func (c *TokenCache) evictLocked() {
	for len(c.entries) > c.max {
		var oldKey string
		var oldest time.Time
		for k, e := range c.entries {
			e.mu.Lock()
			used := e.lastUsed
			e.mu.Unlock()
			if oldKey == "" || used.Before(oldest) {
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

// endpointSource fetches a new token on every call and logs it (never the
// token), counting the requests when counts is set.
type endpointSource struct {
	cfg      *clientcredentials.Config
	ctx      context.Context
	settings Settings
	logger   *slog.Logger
	counts   *tokenCounts // nil: not counted (TestConnection)
}

func (s *endpointSource) Token() (*oauth2.Token, error) {
	start := time.Now()
	t, err := s.cfg.Token(s.ctx)
	took := time.Since(start)
	if s.counts != nil {
		s.counts.fetches.Add(1)
		if err != nil {
			s.counts.failures.Add(1)
		}
	}
	if err != nil {
		s.logger.Warn("notify: token: request to the token endpoint failed",
			append(tokenAttrs(s.settings, nil), slog.Duration("took", took), slog.String("error", safeErrorText(err)))...)
		return nil, err
	}
	attrs := append(tokenAttrs(s.settings, t), slog.Duration("took", took))
	s.logger.Debug("notify: token: acquired from endpoint, putting it in the token cache", attrs...)
	if lifetime := time.Until(t.Expiry); !t.Expiry.IsZero() && lifetime <= s.settings.TokenRefreshMargin {
		s.logger.Warn("notify: token: lifetime is shorter than the refresh margin, so every send fetches a new token; lower token_refresh_margin",
			append(tokenAttrs(s.settings, t), slog.Duration("margin", s.settings.TokenRefreshMargin))...)
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
		attrs = append(attrs, slog.Time("expiry", t.Expiry), slog.Duration("expires_in", time.Until(t.Expiry).Round(time.Second)))
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
	src := &endpointSource{
		cfg: &clientcredentials.Config{
			ClientID:     s.ClientID,
			ClientSecret: s.ClientSecret,
			TokenURL:     s.TokenURL(),
			Scopes:       []string{ExchangeOnlineScope},
			AuthStyle:    oauth2.AuthStyleInParams,
		},
		ctx:      context.WithValue(ctx, oauth2.HTTPClient, client),
		settings: s,
		logger:   logger,
	}
	t, err := src.Token()
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
