package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// maxShortLeases is how many times in a row a worker gives back a message
// whose lease is too short to send before it defers the message for
// shortLeaseDelay instead: a node that stalls between leasing and sending
// must not lease and give back the same message in a loop.
const (
	maxShortLeases  = 3
	shortLeaseDelay = 30 * time.Second
)

// codeLeaseTooShort is the diagnosis of a message deferred after
// maxShortLeases leases too short to send.
const codeLeaseTooShort = "lease_too_short"

// worker sends messages until Shutdown: those handed to Track, and those
// the poller leases for it when it says it is ready.
func (d *Dispatcher) worker() {
	defer d.wg.Done()
	inbox := make(chan job, 1) // one answer per request: the poller never blocks on it
	for {
		select {
		case <-d.stopping:
			return
		case j := <-d.queue:
			d.handle(j)
		case d.requests <- inbox:
			if j := <-inbox; j.row != nil {
				d.handle(j)
			}
		}
	}
}

// handle leases j's message if needed and attempts it, unless the
// dispatcher is stopping (then a leased message is given back).
func (d *Dispatcher) handle(j job) {
	if d.isStopping() {
		if j.row != nil {
			d.release(j.row)
		}
		return
	}
	row, leasedAt := j.row, j.leasedAt
	if row == nil {
		leasedAt = time.Now()
		ctx, cancel := d.storeCtx()
		r, err := d.cfg.Store.LeaseMailByID(ctx, j.id, d.cfg.Owner, d.cfg.Lease)
		cancel()
		switch {
		case errors.Is(err, storage.ErrConflict):
			// Another worker, node or the poller has it, or it is not due:
			// the follower follows its status.
			d.log.Debug("mail held elsewhere or not due; following its status", "id", j.id)
			d.watch(j.id)
			return
		case errors.Is(err, storage.ErrNotFound):
			d.log.Warn("mail not in the outbox (was Track called before the transaction committed?)", "id", j.id)
			d.reg.resolve(j.id, Result{Status: StatusFailed, Diagnosis: &Diagnosis{
				Code:    "not_in_outbox",
				Message: "The message is not in the outbox.",
				Hint:    "Hand a message to the dispatcher only after the transaction that enqueued it committed.",
			}})
			return
		case err != nil:
			d.log.Warn("mail lease failed; the poller will retry", "id", j.id, "error", err.Error())
			d.watch(j.id)
			return
		}
		row = r
		if d.isStopping() {
			d.release(row)
			return
		}
	}
	// A send may take SendTimeout: with less of the lease left, another
	// node (or this one) could lease the message again meanwhile and send
	// it twice. Give it back; it is leased again at once. What is left is
	// measured on the real clock from before the lease call (the lease
	// began after that), so a skew between the injected clock and the
	// store's cannot make every lease look short.
	if left := d.cfg.Lease - d.since(leasedAt); left < d.cfg.SendTimeout {
		d.shortLease(row, left)
		// Its future (tracked here) is not watched yet: another node may
		// send the message now, and nothing here would complete it.
		d.watch(row.ID)
		return
	}
	d.shortMu.Lock()
	delete(d.shortLeases, row.ID)
	d.shortMu.Unlock()
	d.attempt(row, leasedAt)
}

// shortLease gives back a message whose lease is too short to send, or
// defers it briefly when that happened maxShortLeases times in a row (the
// deferral counts the lease as an attempt).
func (d *Dispatcher) shortLease(row *storage.OutboxMessage, left time.Duration) {
	d.shortMu.Lock()
	if len(d.shortLeases) >= d.cfg.QueueSize {
		clear(d.shortLeases) // counts of messages settled elsewhere
	}
	d.shortLeases[row.ID]++
	n := d.shortLeases[row.ID]
	if n >= maxShortLeases {
		delete(d.shortLeases, row.ID)
	}
	d.shortMu.Unlock()
	if n < maxShortLeases {
		d.log.Warn("mail lease too short for a send; given back", "id", row.ID, "lease_left_ms", left.Milliseconds(),
			"send_timeout_ms", d.cfg.SendTimeout.Milliseconds(), "times", n)
		d.release(row)
		return
	}
	next := d.cfg.Now().Add(shortLeaseDelay)
	lastErr := fmt.Sprintf("notify: dispatcher: lease too short to send %d times in a row (%v left, send timeout %v)",
		n, left, d.cfg.SendTimeout)
	d.metrics.Deferred.WithLabelValues(codeLeaseTooShort).Inc()
	ctx, cancel := d.storeCtx()
	err := d.cfg.Store.PostponeMail(ctx, row.ID, row.LeaseToken, next, lastErr, codeLeaseTooShort)
	cancel()
	if err != nil {
		d.log.Warn("mail deferral not recorded; it is retried when its lease runs out", "id", row.ID, "error", err.Error())
		return
	}
	d.log.Warn("mail lease too short for a send too often; deferred (is this node stalling?)", "id", row.ID,
		"lease_left_ms", left.Milliseconds(), "send_timeout_ms", d.cfg.SendTimeout.Milliseconds(), "times", n, "next_attempt", next)
}

// release gives a leased, unattempted message back to the outbox.
func (d *Dispatcher) release(row *storage.OutboxMessage) {
	ctx, cancel := d.storeCtx()
	defer cancel()
	if err := d.cfg.Store.ReleaseMail(ctx, row.ID, row.LeaseToken); err != nil {
		d.log.Warn("mail release failed; it is retried when its lease runs out", "id", row.ID, "error", err.Error())
		return
	}
	d.log.Debug("mail released unattempted", "id", row.ID)
}

// attempt sends a message leased at leasedAt (real clock) once and records
// the outcome.
func (d *Dispatcher) attempt(row *storage.OutboxMessage, leasedAt time.Time) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(d.sendCtx, d.cfg.SendTimeout)
	defer cancel()

	s, err := d.cfg.Settings(ctx)
	if err != nil {
		d.failed(row, Settings{}, err, settingsDiagnosis(err), time.Since(start))
		return
	}
	msg, err := decodePayload(row.Payload)
	if err != nil {
		d.failed(row, s, err, Diagnosis{
			Code:    "bad_payload",
			Message: "The queued message cannot be read.",
			Hint:    "It was written by another version of Lobby or damaged; send it again.",
		}, time.Since(start))
		return
	}
	err = d.cfg.Sender.Send(ctx, s, d.email(row.ID, msg, s))
	took := time.Since(start)
	if err == nil {
		d.sent(row, leasedAt, msg, s, took)
		return
	}
	var diag Diagnosis
	// Only a send that ended because the shutdown cancelled it was
	// interrupted; a server's answer that came in meanwhile stands.
	if errors.Is(err, context.Canceled) && d.sendCtx.Err() != nil {
		diag = Diagnosis{
			Code:      CodeCanceled,
			Message:   "Sending was interrupted because Lobby was shutting down.",
			Hint:      "Nothing to do: it is sent again after the restart.",
			Temporary: true,
		}
	} else {
		diag = Diagnose(err)
	}
	d.failed(row, s, err, diag, took)
}

// email builds what the Sender gets. The Message-ID is derived from the
// outbox ID so that a message sent twice (at least once) is recognisable.
func (d *Dispatcher) email(id uuid.UUID, m Message, s Settings) *Email {
	e := &Email{
		From:      s.From,
		To:        m.To,
		Subject:   m.Subject,
		Text:      m.Text,
		HTML:      m.HTML,
		MessageID: id.String() + "@" + messageIDDomain(s),
		Headers: map[string]string{
			// RFC 3834: no auto-replies to automated mail; the second is
			// Exchange's own switch for out-of-office replies.
			"Auto-Submitted":           "auto-generated",
			"X-Auto-Response-Suppress": "All",
		},
	}
	if m.ReplyTo != "" {
		e.Headers["Reply-To"] = m.ReplyTo
	}
	e.From = fromWithName(s.From, m.FromName)
	return e
}

// fromWithName is the sender from (an address, with or without a display
// name) with its display name replaced by name; from itself when name is
// empty or from cannot be parsed (the send reports that).
func fromWithName(from, name string) string {
	if name == "" {
		return from
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return from
	}
	return (&mail.Address{Name: name, Address: a.Address}).String()
}

// messageIDDomain is the domain of the sender address, for Message-IDs.
func messageIDDomain(s Settings) string {
	addr := s.From
	if a, err := mail.ParseAddress(s.From); err == nil {
		addr = a.Address
	}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i+1 < len(addr) {
		return addr[i+1:]
	}
	return "lobby.invalid"
}
