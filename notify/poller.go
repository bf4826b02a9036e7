package notify

import (
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// watch handles a message Track could not lease. If it already shows an
// outcome (sent, dead, or deferred and not due yet), its future completes
// with it now; otherwise (another worker or node is sending it) the
// follower follows its status.
func (d *Dispatcher) watch(id uuid.UUID) {
	// The status read must come after the future was made, or a future
	// tracked meanwhile could get an outcome older than itself.
	f := d.reg.current(id)
	if f == nil {
		return
	}
	ctx, cancel := d.storeCtx()
	row, err := d.cfg.Store.GetMail(ctx, id)
	cancel()
	var (
		r    Result
		done bool
	)
	if err == nil {
		r, done = outcomeOf(row, d.cfg.Now())
	}
	d.reg.watchOrComplete(id, f, r, done)
}

// outcomeOf is the Result a stored message shows at now, if it shows one:
// sent, dead, or deferred and not due yet (a due one is about to be tried).
func outcomeOf(row *storage.OutboxMessage, now time.Time) (Result, bool) {
	stored := &Diagnosis{Code: row.Diagnosis, Message: "The last attempt failed; see the mail log.", Detail: row.LastError}
	switch row.Status {
	case storage.MailSent:
		return Result{Status: StatusSent, Attempts: row.Attempts}, true
	case storage.MailDead:
		return Result{Status: StatusFailed, Attempts: row.Attempts, Diagnosis: stored}, true
	case storage.MailDeferred:
		if !row.NextAttemptAt.After(now) {
			return Result{}, false
		}
		stored.Temporary = true
		return Result{Status: StatusDeferred, Attempts: row.Attempts, Diagnosis: stored}, true
	}
	return Result{}, false
}

// backlogChecks bounds the backlog futures the follower checks, at most
// every backlogCheckEvery (or PollInterval if longer), while the last poll
// left due messages behind (all workers busy): the check costs a read each.
const (
	backlogChecks     = 16
	backlogCheckEvery = time.Second
)

// poller leases due messages every PollInterval and hands them to workers.
// It does nothing else: a worker that is ready must not wait for status
// reads (see follower).
func (d *Dispatcher) poller() {
	defer d.wg.Done()
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		d.drained.Store(d.poll())
		select {
		case <-d.stopping:
			return
		case <-t.C:
		}
	}
}

// follower follows, every PollInterval, the status of futures whose message
// someone else holds, and of those Track could not queue. It is apart from
// the poller because its reads are many (one per followed message) and may
// be slow: done by the poller between its leases, they kept ready workers
// idle while due messages waited.
func (d *Dispatcher) follower() {
	defer d.wg.Done()
	d.reportHeld()
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	every := max(d.cfg.PollInterval, backlogCheckEvery)
	var checked time.Time
	for {
		d.checkWatched()
		switch {
		case d.drained.Load():
			// Nothing was due: the backlog's messages left are settled,
			// held elsewhere, or being sent here.
			d.checkBacklog(-1)
		case time.Since(checked) >= every:
			// Due messages wait: the poller leases the backlog's in turn.
			// Look now and then for those held elsewhere; more often
			// would only spend reads (and CPU the sends need) on queued
			// messages.
			d.checkBacklog(backlogChecks)
			checked = time.Now()
		}
		select {
		case <-d.stopping:
			return
		case <-t.C:
		}
	}
}

// poll leases due messages for the workers that are ready for one, as many
// as are ready, until none is due or ready. A worker busy sending is not
// counted. When every worker is busy it waits for the first one, up to one
// poll interval, so that due messages progress while Track keeps the
// workers busy. It reports whether it found no more due messages.
func (d *Dispatcher) poll() (drained bool) {
	timeout := time.NewTimer(d.cfg.PollInterval)
	defer timeout.Stop()
	for {
		ready := d.readyWorkers(timeout.C)
		if len(ready) == 0 {
			return false
		}
		leasedAt := time.Now()
		ctx, cancel := d.storeCtx()
		rows, err := d.cfg.Store.LeaseMail(ctx, d.cfg.Owner, len(ready), d.cfg.Lease)
		cancel()
		if err != nil {
			d.log.Warn("mail poll failed", "error", err.Error())
		} else if len(rows) > 0 {
			d.log.Debug("mail poll leased due messages", "count", len(rows))
		}
		for i, inbox := range ready {
			var j job // none: the worker goes back to waiting
			if i < len(rows) {
				j = job{id: rows[i].ID, row: rows[i], leasedAt: leasedAt}
			}
			inbox <- j
		}
		if err != nil || len(rows) < len(ready) {
			return err == nil
		}
	}
}

// readyWorkers collects the inboxes of the workers ready for work: it waits
// for the first until timeout fires or the dispatcher stops, then takes
// whoever else is ready without waiting. Each must get one answer.
func (d *Dispatcher) readyWorkers(timeout <-chan time.Time) []chan job {
	var ready []chan job
	select {
	case inbox := <-d.requests:
		ready = append(ready, inbox)
	case <-timeout:
		return nil
	case <-d.stopping:
		return nil
	}
	for {
		select {
		case inbox := <-d.requests:
			ready = append(ready, inbox)
		default:
			return ready
		}
	}
}

// checkWatched completes the watched futures whose message now shows an
// outcome. A future replaced meanwhile (completed, then tracked again) is
// left alone.
func (d *Dispatcher) checkWatched() {
	for id, f := range d.reg.watchedNow() {
		row, r, ok := d.status(id)
		if !ok && row == nil {
			continue
		}
		d.reg.settle(id, f, r, ok, false)
	}
}

// checkBacklog checks up to limit (all if negative) backlog futures, in no
// particular order: one whose message shows an outcome completes, one whose
// message is being sent (here or elsewhere) is watched from now on, one
// whose message is due stays for the poll.
func (d *Dispatcher) checkBacklog(limit int) {
	batch := d.reg.backlogBatch(limit)
	for id, f := range batch {
		row, r, ok := d.status(id)
		if !ok && row == nil {
			continue
		}
		d.reg.settle(id, f, r, ok, !ok && row.Status == storage.MailSending)
	}
}

// status reads the message of a followed future: its row (nil when it
// could not be read) and the outcome it shows, if any.
func (d *Dispatcher) status(id uuid.UUID) (*storage.OutboxMessage, Result, bool) {
	ctx, cancel := d.storeCtx()
	row, err := d.cfg.Store.GetMail(ctx, id)
	cancel()
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, Result{Status: StatusFailed, Diagnosis: &Diagnosis{
			Code: "not_in_outbox", Message: "The message is no longer in the outbox.",
			Hint: "It was removed; send it again if it is still needed.",
		}}, true
	case err != nil:
		d.log.Warn("mail status check failed", "id", id, "error", err.Error())
		return nil, Result{}, false
	}
	r, ok := outcomeOf(row, d.cfg.Now())
	return row, r, ok
}
