package notify

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/textproto"
	"slices"
	"time"

	"github.com/wneessen/go-mail"
)

// smtpConn is one open, authenticated SMTP connection.
type smtpConn struct {
	mc        *mail.Client
	raw       net.Conn // the TCP connection under it, closed for sure at the end
	key       string   // settings and credential it was opened with
	addr      string
	sends     int
	idleSince time.Time
}

// take returns an idle connection opened with key, or nil (always nil when
// reuse is false). Idle connections opened with another key (the token
// rotated, the settings changed) are closed.
func (t *Transport) take(key string, reuse bool) (*smtpConn, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, ErrTransportClosed
	}
	t.latest = key
	var stale []*smtpConn
	n := 0
	for _, c := range t.idle {
		if c.key != key {
			stale = append(stale, c)
			continue
		}
		t.idle[n] = c
		n++
	}
	clear(t.idle[n:])
	t.idle = t.idle[:n]
	var found *smtpConn
	if n > 0 && reuse { // the most recently used one
		found = t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
	}
	t.mu.Unlock()

	for _, c := range stale {
		t.logger.Debug("notify: smtp: closing connection opened with an older token or settings", slog.String("addr", c.addr))
		t.closeConn(c, true)
	}
	return found, nil
}

// put returns a connection to the pool, or closes it when it is not healthy,
// not current, or the pool is full or closed.
func (t *Transport) put(c *smtpConn, healthy bool) {
	t.mu.Lock()
	if healthy && !t.closed && c.key == t.latest && len(t.idle) < t.opts.PoolSize && t.open <= t.slots.current() {
		c.idleSince = time.Now()
		t.idle = append(t.idle, c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	t.closeConn(c, healthy)
}

// openConns is the number of connections open now.
func (t *Transport) openConns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open
}

// trimIdle closes idle connections, the longest idle first, while more than
// limit are open.
func (t *Transport) trimIdle(limit int) {
	t.mu.Lock()
	n := min(max(t.open-limit, 0), len(t.idle))
	extra := slices.Clone(t.idle[:n])
	t.idle = slices.Delete(t.idle, 0, n)
	t.mu.Unlock()
	for _, c := range extra {
		t.logger.Debug("notify: smtp: closing idle connection beyond the connection limit", slog.String("addr", c.addr))
		t.closeConn(c, true)
	}
}

// dial opens and authenticates a new connection.
func (t *Transport) dial(ctx context.Context, p *profile, cred, key string) (*smtpConn, error) {
	var raw net.Conn
	d := *p.dialer
	d.afterDial = func(c net.Conn) {
		raw = c
		if t.afterDial != nil {
			t.afterDial(c)
		}
	}
	opts, auth := p.clientOptions(cred, t.opts.HELO, d.dial)
	mc, err := mail.NewClient(p.s.Host, opts...)
	if err != nil {
		return nil, wrapDialErr(p.s, err)
	}
	start := time.Now()
	if err := mc.DialWithContext(ctx); err != nil {
		if raw != nil {
			_ = raw.Close()
		}
		var reply *textproto.Error
		if auth != nil && auth.sent && errors.As(err, &reply) {
			err = &authReplyError{reply: reply, err: err}
		}
		err = d.noGreeting(ctx, err, p.tls)
		t.logger.Debug("notify: smtp: dial failed", slog.String("addr", p.s.Addr()),
			slog.Int64("took_ms", time.Since(start).Milliseconds()), slog.String("error", err.Error()))
		return nil, wrapDialErr(p.s, err)
	}
	t.opened.Add(1)
	t.mu.Lock()
	t.open++
	t.mu.Unlock()
	t.logger.Debug("notify: smtp: connected", slog.String("addr", p.s.Addr()),
		slog.String("security", string(p.s.Security)), slog.String("auth", string(p.s.AuthMode)),
		slog.Int64("took_ms", time.Since(start).Milliseconds()))
	return &smtpConn{mc: mc, raw: raw, key: key, addr: p.s.Addr()}, nil
}

// closeConn ends a connection: QUIT when it is healthy, then the socket.
func (t *Transport) closeConn(c *smtpConn, quit bool) {
	if quit {
		_ = c.mc.Close()
	}
	if c.raw != nil {
		_ = c.raw.Close()
	}
	t.closedConns.Add(1)
	t.mu.Lock()
	t.open--
	t.mu.Unlock()
}

// janitor closes connections idle longer than IdleTimeout.
func (t *Transport) janitor() {
	defer close(t.done)
	every := max(t.opts.IdleTimeout/4, 5*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case now := <-tick.C:
			t.closeIdle(now)
		}
	}
}

func (t *Transport) closeIdle(now time.Time) {
	t.mu.Lock()
	var old []*smtpConn
	keep := t.idle[:0]
	for _, c := range t.idle {
		if now.Sub(c.idleSince) >= t.opts.IdleTimeout {
			old = append(old, c)
		} else {
			keep = append(keep, c)
		}
	}
	clear(t.idle[len(keep):])
	t.idle = keep
	t.mu.Unlock()
	for _, c := range old {
		t.logger.Debug("notify: smtp: closing idle connection", slog.String("addr", c.addr))
		t.closeConn(c, true)
	}
}
