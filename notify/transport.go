package notify

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// TransportOptions configure a [Transport].
type TransportOptions struct {
	// PoolSize is the most connections open at once, which is also the most
	// messages in flight at once; default DefaultWorkers (3: Exchange Online
	// allows 3 concurrent SMTP connections per mailbox). When the server refuses a
	// connection for too many (Exchange Online allows 3 per mailbox), the
	// transport lowers this limit by itself and grows it back slowly.
	PoolSize int
	// IdleTimeout closes a connection nobody used for this long; default 1 minute.
	IdleTimeout time.Duration
	// Tokens is the token cache to use (share one per process); default: a
	// new one logging to Logger.
	Tokens *TokenCache
	// Logger gets connection and send lines at Debug level; default: discard.
	Logger *slog.Logger
	// HELO is the name sent with EHLO; default: the machine's host name.
	HELO string
}

// TransportStats are counters of a [Transport].
type TransportStats struct {
	Opened      int64 // connections dialled and authenticated
	Closed      int64 // connections closed (idle, stale, broken or at Close)
	Open        int   // connections open now, idle or in use
	Idle        int   // connections open now and idle
	Sent        int64 // messages the server accepted
	Reused      int64 // of which on a connection that had already sent
	Redials     int64 // dials repeated after a broken connection
	AuthRetries int64 // tokens renewed and AUTH retried after the server refused a cached one
	// ConnLimit is the most connections the transport opens now: PoolSize,
	// or less after the server refused connections for too many.
	ConnLimit int
	PoolSize  int   // the most connections ever: TransportOptions.PoolSize
	TooMany   int64 // sends the server refused for too many connections
	// The token cache's counters (shared by every transport using the
	// cache): requests to the token endpoint, and of which failed.
	TokenFetches  int64
	TokenFailures int64
}

// Transport sends email over SMTP, keeping up to PoolSize connections open
// and reusing them (go-mail sends RSET after each message). A connection is
// used by one sender at a time, re-dialled when it broke, closed after
// IdleTimeout, and replaced when the access token rotates or the settings
// change. It is safe for concurrent use.
type Transport struct {
	opts      TransportOptions
	tokens    *TokenCache
	ownTokens bool // made by NewTransport, so closed by Close
	logger    *slog.Logger
	slots     *connLimiter

	mu       sync.Mutex
	idle     []*smtpConn // most recently used last
	open     int
	latest   string // key of the newest connection credentials asked for
	profiles map[string]*profile
	closed   bool

	stop chan struct{}
	done chan struct{}

	opened, closedConns, sent, reused, redials, authRetries, tooMany atomic.Int64

	// afterDial, when set (tests), sees each raw TCP connection.
	afterDial func(net.Conn)
	// now is the clock of the AUTH retry cool-down and of the connection
	// limit's growth (tests change it).
	now func() time.Time
}

// NewTransport returns a transport with an empty pool. Call Close when done.
func NewTransport(opts TransportOptions) *Transport {
	opts.PoolSize = max(cmp.Or(opts.PoolSize, DefaultWorkers), 1)
	opts.IdleTimeout = cmp.Or(opts.IdleTimeout, time.Minute)
	opts.Logger = cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	ownTokens := opts.Tokens == nil
	if ownTokens {
		opts.Tokens = NewTokenCache(TokenCacheOptions{Logger: opts.Logger})
	}
	t := &Transport{
		ownTokens: ownTokens,
		opts:      opts,
		tokens:    opts.Tokens,
		logger:    opts.Logger,
		slots:     newConnLimiter(opts.PoolSize),
		profiles:  make(map[string]*profile),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		now:       time.Now,
	}
	go t.janitor()
	return t
}

// Tokens is the token cache the transport uses.
func (t *Transport) Tokens() *TokenCache { return t.tokens }

// Stats returns the counters.
func (t *Transport) Stats() TransportStats {
	t.mu.Lock()
	open, idle := t.open, len(t.idle)
	t.mu.Unlock()
	ts := t.tokens.Stats()
	return TransportStats{
		Opened:        t.opened.Load(),
		Closed:        t.closedConns.Load(),
		Open:          open,
		Idle:          idle,
		Sent:          t.sent.Load(),
		Reused:        t.reused.Load(),
		Redials:       t.redials.Load(),
		AuthRetries:   t.authRetries.Load(),
		ConnLimit:     t.slots.current(),
		PoolSize:      t.opts.PoolSize,
		TooMany:       t.tooMany.Load(),
		TokenFetches:  ts.Fetches,
		TokenFailures: ts.Failures,
	}
}

// Close closes the idle connections and stops the idle timer; connections in
// use close when their send ends. Sends after Close fail.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	close(t.stop)
	<-t.done
	for _, c := range idle {
		t.closeConn(c, true)
	}
	if t.ownTokens {
		_ = t.tokens.Close()
	}
	return nil
}

// ErrTransportClosed is returned by Send after Close.
var ErrTransportClosed = errors.New("notify: smtp: transport closed")

// Send sends e with the settings s over a pooled connection. It waits for a
// free connection slot (or ctx). When the server refuses the connection for
// too many open, Send lowers the transport's connection limit and tries
// again under it (a few times). Failures carry what [Diagnose] needs.
func (t *Transport) Send(ctx context.Context, s Settings, e *Email) error {
	s = s.WithDefaults()
	if err := refuseInsecure(s); err != nil {
		return err
	}
	p, err := t.profile(s)
	if err != nil {
		return err
	}
	msg, err := e.message(p.s)
	if err != nil {
		return err
	}
	start := time.Now()
	var reused bool
	for try := 1; ; try++ {
		if err := t.slots.acquire(ctx); err != nil {
			return fmt.Errorf("notify: smtp: waiting for a connection: %w", err)
		}
		reused, err = t.send(ctx, p, msg)
		var tm *tooManyError
		if !errors.As(err, &tm) {
			t.slots.release()
			break
		}
		t.tooMany.Add(1)
		limit := t.slots.lower(t.openConns(), t.now())
		t.trimIdle(limit)
		t.slots.release()
		t.logger.Info("notify: smtp: the server refused a connection for too many open; lowering the connection limit",
			slog.String("addr", p.s.Addr()), slog.Int("conn_limit", limit), slog.String("reply", tm.reply))
		if try == tooManyTries || ctx.Err() != nil {
			return tm.err
		}
	}
	if err != nil {
		return err
	}
	if limit, grew := t.slots.grow(t.now()); grew {
		t.logger.Info("notify: smtp: raising the connection limit again", slog.String("addr", p.s.Addr()), slog.Int("conn_limit", limit))
	}
	t.sent.Add(1)
	if reused {
		t.reused.Add(1)
	}
	t.logger.Debug("notify: smtp: message sent",
		slog.String("message_id", msg.GetMessageID()),
		slog.Int("recipients", len(e.To)),
		slog.Bool("reused_connection", reused),
		slog.Int64("took_ms", time.Since(start).Milliseconds()))
	return nil
}

// send runs one message through the pool, re-dialling once after a broken
// connection and re-authenticating once with a new token after the server
// refused a cached one at AUTH (any 4xx or 5xx reply that a token may
// cause).
func (t *Transport) send(ctx context.Context, p *profile, msg *mail.Msg) (reused bool, err error) {
	var authRetried, redialed bool
	for {
		cred, fromCache, err := t.credential(ctx, p)
		if err != nil {
			return false, err
		}
		if authRetried {
			fromCache = false // the token Renew just fetched
		}
		key := p.key + "/" + fingerprint(cred)
		// After a broken pooled connection, dial a new one: the next idle
		// one is likely as old and as dead.
		c, err := t.take(key, !redialed)
		if err != nil {
			return false, err
		}
		if c != nil && c.raw != nil {
			// go-mail checks a connection with NOOP before it extends the
			// deadline its last command left: one that idled longer than
			// ConnTimeout would fail that check although it is fine.
			_ = c.raw.SetDeadline(time.Now().Add(p.s.ConnTimeout))
		}
		fresh := c == nil
		if fresh {
			c, err = t.dial(ctx, p, cred, key)
			rejected := err != nil && p.s.AuthMode == AuthExchangeOnline && tokenMayCure(err)
			switch {
			case err == nil:
				p.freshRejected.Store(0)
			case rejected && !fromCache:
				now := t.now()
				if !p.recentlyRejectedFresh(now) {
					t.logger.Info("notify: smtp: the server rejected a new token too; not retrying rejected tokens with new ones for these settings for a while",
						slog.String("addr", p.s.Addr()), slog.Int64("cool_down_ms", authRetryCooldown.Milliseconds()))
				}
				p.freshRejected.Store(now.UnixNano())
			}
			if err != nil {
				switch {
				case !authRetried && fromCache && rejected && !p.recentlyRejectedFresh(t.now()):
					authRetried = true
					t.authRetries.Add(1)
					t.logger.Info("notify: smtp: the server rejected the cached token; retrying with a new one",
						slog.String("addr", p.s.Addr()), slog.String("reply", replyOf(err)))
					if _, rerr := t.tokens.Renew(ctx, p.s, cred); rerr != nil {
						// The token endpoint is down too: the message waits
						// for it (the cached token stays for the others).
						t.logger.Warn("notify: smtp: no new token to retry AUTH with",
							slog.String("addr", p.s.Addr()), slog.String("error", safeErrorText(rerr)))
						return false, fmt.Errorf("%w; retrying with a new token failed: %w", err, rerr)
					}
					continue
				case isTooMany(err):
					return false, &tooManyError{err: err, reply: replyOf(err)}
				case !redialed && isBrokenConn(err):
					redialed = true
					t.redials.Add(1)
					t.logger.Info("notify: smtp: connection closed during set-up; dialling again",
						slog.String("addr", p.s.Addr()), slog.String("error", err.Error()))
					continue
				}
				return false, err
			}
		}

		// go-mail's Send has no context: when ctx ends mid-send, closing the
		// socket ends it, and the connection is not used again.
		stop := context.AfterFunc(ctx, func() {
			if c.raw != nil {
				_ = c.raw.Close()
			}
		})
		err = c.mc.Send(msg)
		aborted := !stop()
		var se *mail.SendError
		isSendErr := errors.As(err, &se)
		if err == nil || (isSendErr && se.Reason == mail.ErrSMTPReset && msg.IsDelivered()) {
			c.sends++
			reused := c.sends > 1 // read before put hands c to another sender
			t.put(c, err == nil && !aborted)
			return reused, nil
		}
		if !aborted && isSendErr && isTooMany(err) {
			// This connection is one too many for the server: close it
			// and try again on one the server accepts.
			t.closeConn(c, true)
			return false, &tooManyError{err: fmt.Errorf("notify: smtp: send via %s: %w", p.s.Addr(), err), reply: replyOf(err)}
		}
		if !aborted && isSendErr && replyEndedTransaction(se) {
			// The server refused this message and the session goes on.
			t.put(c, true)
			return false, fmt.Errorf("notify: smtp: send via %s: %w", p.s.Addr(), err)
		}
		// A connection that failed is not trusted again.
		t.closeConn(c, false)
		if aborted {
			return false, fmt.Errorf("notify: smtp: send via %s: %w (%w)", p.s.Addr(), ctx.Err(), err)
		}
		if !fresh && !redialed && isSendErr && connLevel(se) {
			redialed = true
			t.redials.Add(1)
			t.logger.Info("notify: smtp: pooled connection broke; dialling again",
				slog.String("addr", p.s.Addr()), slog.String("error", se.Error()))
			continue
		}
		return false, fmt.Errorf("notify: smtp: send via %s: %w", p.s.Addr(), err)
	}
}

// tooManyError is a refusal for too many connections open, which Send
// answers by lowering the connection limit and trying again.
type tooManyError struct {
	err   error
	reply string
}

func (e *tooManyError) Error() string { return e.err.Error() }
func (e *tooManyError) Unwrap() error { return e.err }

// isTooMany reports a server's refusal for too many connections.
func isTooMany(err error) bool {
	code, enh, text, ok := smtpReply(err)
	return ok && tooManyConnections(code, enh, text)
}

// replyOf is the server's reply in err, for logs.
func replyOf(err error) string {
	_, _, text, _ := smtpReply(err)
	return text
}

// connLevel reports a failure of the connection itself before the message
// could have been accepted (no SMTP reply code, before the final dot), which
// is safe to retry on a new connection.
func connLevel(se *mail.SendError) bool {
	if se.ErrorCode() != 0 {
		return false
	}
	switch se.Reason {
	case mail.ErrConnCheck, mail.ErrSMTPMailFrom, mail.ErrSMTPRcptTo, mail.ErrSMTPData, mail.ErrWriteContent:
		return true
	}
	return false
}

// replyEndedTransaction reports a refusal after which the session is clean
// for the next message: go-mail sent RSET after MAIL FROM or RCPT TO, or the
// reply to the end of DATA ended the transaction. 421 closes the session.
func replyEndedTransaction(se *mail.SendError) bool {
	if code := se.ErrorCode(); code == 0 || code == 421 {
		return false
	}
	switch se.Reason {
	case mail.ErrSMTPMailFrom, mail.ErrSMTPRcptTo, mail.ErrSMTPDataClose:
		return true
	}
	return false
}

// tokenMayCure reports a refusal of AUTH itself (a reply to the AUTH
// command, 4xx or 5xx) that a new token may cure: a 535 5.7.3, 501 5.5.127
// "Token will expire soon", 454 4.7.0 and the like. Not 5.7.139 or 5.7.30
// (SMTP AUTH is switched off in Exchange) nor a connection limit: those say
// what is wrong, and it is not the token.
func tokenMayCure(err error) bool {
	var are *authReplyError
	if !errors.As(err, &are) {
		return false
	}
	code, enh, text := are.reply.Code, enhancedCode(are.reply.Msg), are.reply.Msg
	switch {
	case code < 400 || code > 599:
		return false
	case enh == "5.7.139" || enh == "5.7.30":
		return false
	case tooManyConnections(code, enh, text):
		return false
	}
	return true
}

// authReplyError is the server's refusal of the AUTH command (as opposed
// to a failure before it, such as a refused STARTTLS or the greeting).
type authReplyError struct {
	reply *textproto.Error
	err   error
}

func (e *authReplyError) Error() string { return e.err.Error() }
func (e *authReplyError) Unwrap() error { return e.err }

// trackedAuth is an smtp.Auth that remembers whether it got as far as
// sending the AUTH command.
type trackedAuth struct {
	smtp.Auth
	sent bool
}

func (a *trackedAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	mech, resp, err := a.Auth.Start(si)
	a.sent = err == nil
	return mech, resp, err
}

// authRetryCooldown is how long, after the server rejected a token fresh
// from the endpoint, a rejected cached token is not replaced and retried:
// when the app's permissions are broken every token is rejected, and
// retrying would cost a token request and a connection per message.
const authRetryCooldown = 5 * time.Minute

// credential is the secret the connection authenticates with: the access
// token, the password, or nothing.
func (t *Transport) credential(ctx context.Context, p *profile) (string, bool, error) {
	switch p.s.AuthMode {
	case AuthExchangeOnline:
		return t.tokens.Token(ctx, p.s)
	case AuthPassword:
		return p.s.Password, true, nil
	}
	return "", true, nil
}

// fingerprint identifies a credential without keeping it.
func fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:8])
}

// profile is what a send with some settings needs prepared once: the
// validated settings, TLS configuration and dialer.
type profile struct {
	s      Settings
	key    string
	tls    *tls.Config
	dialer *smtpDialer
	// freshRejected is when (Unix nanoseconds) the server last rejected a
	// token fresh from the endpoint with these settings; 0: not since the
	// last successful AUTH.
	freshRejected atomic.Int64
}

// recentlyRejectedFresh reports whether a fresh token was rejected less
// than authRetryCooldown before now.
func (p *profile) recentlyRejectedFresh(now time.Time) bool {
	at := p.freshRejected.Load()
	return at != 0 && now.Sub(time.Unix(0, at)) < authRetryCooldown
}

// profile returns the prepared settings, building them on first use.
func (t *Transport) profile(s Settings) (*profile, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("notify: settings: %w", err)
	}
	sum := sha256.Sum256(raw)
	key := hex.EncodeToString(sum[:16])

	t.mu.Lock()
	p := t.profiles[key]
	t.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err = newProfile(s, key)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if len(t.profiles) >= 8 {
		clear(t.profiles)
	}
	t.profiles[key] = p
	t.mu.Unlock()
	return p, nil
}

func newProfile(s Settings, key string) (*profile, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	roots, err := rootCAs(s.TrustedCAPEM)
	if err != nil {
		return nil, err
	}
	pu, err := proxyURL(s.ProxyURL)
	if err != nil {
		return nil, err
	}
	p := &profile{s: s, key: key, tls: smtpTLSConfig(s.Host, roots)}
	p.dialer = &smtpDialer{timeout: s.ConnTimeout, proxy: pu, roots: roots}
	if s.Security == SecurityTLS {
		p.dialer.implicit = p.tls
	}
	return p, nil
}

// clientOptions are the go-mail options for a connection with the profile,
// and the authentication they use (nil: none).
func (p *profile) clientOptions(cred, helo string, dial mail.DialContextFunc) ([]mail.Option, *trackedAuth) {
	opts := []mail.Option{
		mail.WithPort(p.s.Port),
		mail.WithTimeout(p.s.ConnTimeout),
		mail.WithTLSConfig(p.tls),
		mail.WithDialContextFunc(dial),
	}
	if helo != "" {
		opts = append(opts, mail.WithHELO(helo))
	}
	switch p.s.Security {
	case SecurityStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		// Implicit TLS is done by the dialer; none is none.
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	var auth *trackedAuth
	switch p.s.AuthMode {
	case AuthExchangeOnline:
		auth = &trackedAuth{Auth: &xoauth2Auth{user: p.s.AuthUser(), token: cred}}
	case AuthPassword:
		auth = &trackedAuth{Auth: &passwordAuth{user: p.s.AuthUser(), pass: cred}}
	}
	if auth != nil {
		opts = append(opts, mail.WithSMTPAuthCustom(auth))
	}
	return opts, auth
}

// wrapDialErr names the address, remembers the auth mode and marks a
// missing STARTTLS.
func wrapDialErr(s Settings, err error) error {
	// go-mail reports a missing STARTTLS only in prose; give it a sentinel.
	if strings.Contains(err.Error(), "does not support STARTTLS") {
		err = fmt.Errorf("%w: %w", ErrStartTLSUnavailable, err)
	}
	return &authModeError{mode: s.AuthMode, err: fmt.Errorf("notify: smtp: dial %s: %w", s.Addr(), err)}
}

// SendNaive sends one message the way the product Lobby follows does: a new
// token and a new connection for every message, closed afterwards. It exists
// as the benchmark baseline; use a [Transport].
func SendNaive(ctx context.Context, s Settings, e *Email) error {
	tokens := NewTokenCache(TokenCacheOptions{})
	defer tokens.Close()
	t := NewTransport(TransportOptions{PoolSize: 1, Tokens: tokens})
	defer t.Close()
	return t.Send(ctx, s, e)
}
