package exchangetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// faults holds the injected failures. All of it is safe for concurrent use.
type faults struct {
	tokenDown    atomic.Bool
	tokenLatency atomic.Int64 // time.Duration
	smtpLatency  atomic.Int64 // time.Duration
	dataLatency  atomic.Pointer[[2]time.Duration]
	drops        atomic.Int64
	logonFailure atomic.Bool
	expiringSoon atomic.Int64 // time.Duration

	connLimit    atomic.Int64 // authenticated connections per mailbox; 0: no limit
	limitRefusal atomic.Pointer[smtp.SMTPError]

	mu          sync.Mutex
	mailFails   int
	mailFailure *smtp.SMTPError
	authFails   int
	authFailure *smtp.SMTPError
}

// SetTokenEndpointDown makes the token endpoint answer 503 temporarily_unavailable
// (AADSTS90033) while down is true.
func (s *Server) SetTokenEndpointDown(down bool) { s.faults.tokenDown.Store(down) }

// SetTokenLatency delays every token endpoint answer by d.
func (s *Server) SetTokenLatency(d time.Duration) { s.faults.tokenLatency.Store(int64(d)) }

// SetSMTPLatency delays every SMTP reply (the greeting included) by d, on connections
// open and new. TLS handshakes are slowed by about as much.
func (s *Server) SetSMTPLatency(d time.Duration) { s.faults.smtpLatency.Store(int64(d)) }

// SetDataLatency delays the reply to the end of each message's DATA by a time
// drawn evenly from [lo, hi], on top of SetSMTPLatency: Exchange Online takes
// tens to hundreds of milliseconds to accept a message. lo <= 0 and hi <= 0
// turn it off; hi below lo is taken as lo.
func (s *Server) SetDataLatency(lo, hi time.Duration) {
	if lo <= 0 && hi <= 0 {
		s.faults.dataLatency.Store(nil)
		return
	}
	lo = max(lo, 0)
	s.faults.dataLatency.Store(&[2]time.Duration{lo, max(hi, lo)})
}

// acceptDelay is how long to wait before accepting one message (SetDataLatency).
func (f *faults) acceptDelay() time.Duration {
	r := f.dataLatency.Load()
	if r == nil {
		return 0
	}
	if r[1] == r[0] {
		return r[0]
	}
	return r[0] + rand.N(r[1]-r[0]+1)
}

// DropConnections closes the next n SMTP connections, on either port, right after accept,
// before any greeting or TLS handshake. They still count in SMTPConnections.
func (s *Server) DropConnections(n int) { s.faults.drops.Store(int64(n)) }

// FailNextMail makes the next n MAIL FROM commands of authenticated sessions fail with the
// given reply, such as 421 "4.3.2" "Service not available" or 451 "4.7.500" "Server busy.
// Please try again later.". The connection stays open. n <= 0 cancels.
func (s *Server) FailNextMail(n int, code int, enhanced, text string) {
	f := &s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mailFails = max(n, 0)
	f.mailFailure = replyOf(code, enhanced, text)
}

// FailNextAuth makes the next n AUTH XOAUTH2 commands fail with the given reply, whatever
// the token, such as 454 "4.7.0" "Temporary authentication failure". The session stays
// open, unauthenticated. n <= 0 cancels.
func (s *Server) FailNextAuth(n int, code int, enhanced, text string) {
	f := &s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.authFails = max(n, 0)
	f.authFailure = replyOf(code, enhanced, text)
}

// replyOf builds an SMTP reply; enhanced is "x.y.z".
func replyOf(code int, enhanced, text string) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: code, Message: text}
	fmt.Sscanf(enhanced, "%d.%d.%d", &e.EnhancedCode[0], &e.EnhancedCode[1], &e.EnhancedCode[2])
	return e
}

// SetConnectionLimit makes the server allow at most n authenticated connections per
// mailbox at once, as Exchange Online allows 3 for SMTP client submission; n <= 0 removes
// the limit (the default). A connection beyond the limit authenticates, but each MAIL FROM
// on it is refused with "432 4.3.2 Concurrent connections limit exceeded. Visit
// https://aka.ms/concurrent_sending for more information." until enough of the others have
// closed. The connections open when the limit is set are counted from their next AUTH.
func (s *Server) SetConnectionLimit(n int) { s.faults.connLimit.Store(int64(max(n, 0))) }

// SetConnectionLimitReply replaces the refusal of SetConnectionLimit, such as 421 "4.7.0"
// "Too many connections, try again later" as relays and other servers word it.
func (s *Server) SetConnectionLimitReply(code int, enhanced, text string) {
	s.faults.limitRefusal.Store(replyOf(code, enhanced, text))
}

// SetMailboxLogonFailure makes every message fail after DATA with
// "430 4.2.0 STOREDRV; mailbox logon failure;". While it is on, AUTH no longer checks the
// FullAccess permission: that is how a missing permission shows up in this case.
func (s *Server) SetMailboxLogonFailure(on bool) { s.faults.logonFailure.Store(on) }

// SetRejectExpiringTokens makes AUTH XOAUTH2 refuse a token that expires within d with
// "501 5.5.127 Invalid XOAUTH2 auth data - Token will expire soon", as Exchange Online's
// high-volume endpoint does. d <= 0 turns it off. The remaining lifetime is measured on
// Options.Now.
func (s *Server) SetRejectExpiringTokens(d time.Duration) { s.faults.expiringSoon.Store(int64(d)) }

func (f *faults) takeDrop() bool {
	for {
		n := f.drops.Load()
		if n <= 0 {
			return false
		}
		if f.drops.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// takeAuthFailure returns the injected reply for this AUTH, or nil.
func (f *faults) takeAuthFailure() *smtp.SMTPError {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.authFails == 0 {
		return nil
	}
	f.authFails--
	return f.authFailure
}

// takeMailFailure returns the reply for this MAIL FROM, or nil to accept it.
func (f *faults) takeMailFailure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mailFails == 0 {
		return nil
	}
	f.mailFails--
	return f.mailFailure
}

// sleepCtx waits d, or less if ctx ends first; it reports whether the full wait happened.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
