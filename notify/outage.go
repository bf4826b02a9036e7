package notify

import (
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// outageSummaryEvery is how often, while delivery keeps failing, the
// dispatcher logs one summary line instead of a warning per message.
const outageSummaryEvery = time.Minute

// outage follows whether delivery works, so that an outage of the SMTP
// server or the token endpoint logs its start, a summary every
// outageSummaryEvery and its end, instead of a warning for every message
// deferred meanwhile (thousands a minute under load). Each deferral is
// still logged at debug level, and counted in the metrics.
type outage struct {
	log *slog.Logger
	now func() time.Time

	mu          sync.Mutex
	failing     bool
	since       time.Time // first deferral of this outage
	code        string    // the diagnosis of the last deferral
	deferred    int       // deferrals since the outage began
	sinceReport int       // deferrals since the last line about it
	reportedAt  time.Time // when the last line about it was logged
	lastSent    time.Time // when a message was last delivered
}

// Outage is the state of mail delivery as this dispatcher saw it, for the
// delivery alarm: whether messages are being deferred with no delivery in
// between, since when and with which diagnosis, and when a message was last
// delivered.
type Outage struct {
	Failing  bool
	Since    time.Time // the first deferral of this outage; zero when not failing
	Code     string    // the diagnosis code of the last deferral
	Deferred int       // deferrals since the outage began
	LastSent time.Time // zero before the first delivery
}

// Outage reports the state of mail delivery as this dispatcher saw it.
func (d *Dispatcher) Outage() Outage {
	o := d.outage
	o.mu.Lock()
	defer o.mu.Unlock()
	return Outage{Failing: o.failing, Since: o.since, Code: o.code, Deferred: o.deferred, LastSent: o.lastSent}
}

// deferredTry records a message deferred with diag and logs the outage's
// start, a change of diagnosis, or a summary when one is due. It reports
// whether one of those lines was logged.
func (o *outage) deferredTry(id uuid.UUID, diag Diagnosis) bool {
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deferred++
	o.sinceReport++
	switch {
	case !o.failing:
		o.failing, o.since, o.code, o.reportedAt, o.sinceReport = true, now, diag.Code, now, 0
		o.log.Warn("mail delivery failing; messages are deferred and retried (one line a minute while it lasts)",
			"code", diag.Code, "diagnosis", diag.Message, "hint", diag.Hint, "since", now, "first_id", id)
		return true
	case diag.Code != o.code:
		o.log.Warn("mail delivery failing for another reason", "code", diag.Code, "previous_code", o.code,
			"diagnosis", diag.Message, "hint", diag.Hint, "since", o.since,
			"failing_for_ms", now.Sub(o.since).Milliseconds(), "deferred", o.deferred)
		o.code, o.reportedAt, o.sinceReport = diag.Code, now, 0
		return true
	case now.Sub(o.reportedAt) >= outageSummaryEvery:
		o.log.Warn("mail delivery still failing", "code", o.code, "since", o.since,
			"failing_for_ms", now.Sub(o.since).Milliseconds(), "deferred", o.deferred,
			"deferred_since_last_line", o.sinceReport)
		o.reportedAt, o.sinceReport = now, 0
		return true
	}
	return false
}

// delivered records a message sent and logs the end of an outage.
func (o *outage) delivered() {
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastSent = now
	if !o.failing {
		return
	}
	o.log.Info("mail delivery recovered", "code", o.code, "since", o.since,
		"failed_for_ms", now.Sub(o.since).Milliseconds(), "deferred", o.deferred)
	o.failing, o.since, o.code, o.deferred, o.sinceReport, o.reportedAt = false, time.Time{}, "", 0, 0, time.Time{}
}
