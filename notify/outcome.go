package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// maxErrorText bounds the error text kept in the outbox.
const maxErrorText = 1000

// scrub removes secrets from error text before it is stored or logged, and
// bounds its length. Errors should carry no secrets; this is the second belt.
func scrub(text string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			text = strings.ReplaceAll(text, sec, redactedValue)
		}
	}
	if len(text) > maxErrorText {
		text = strings.ToValidUTF8(text[:maxErrorText], "") + "…"
	}
	return text
}

// joinSentences joins the non-empty parts with spaces.
func joinSentences(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

// sent records a delivery of a message leased at leasedAt.
func (d *Dispatcher) sent(row *storage.OutboxMessage, leasedAt time.Time, m Message, s Settings, took time.Duration) {
	d.metrics.Sent.Inc()
	d.metrics.SendSeconds.WithLabelValues(outcomeSent).Observe(took.Seconds())
	f := d.reg.take(row.ID)
	err := d.markSent(row, leasedAt)
	switch {
	case errors.Is(err, storage.ErrLeaseLost):
		d.log.Warn("mail sent after its lease ran out; another node may send it again", "id", row.ID)
	case err != nil:
		d.log.Error("mail sent but not recorded; it is sent again when its lease runs out", "id", row.ID, "error", err.Error())
	}
	d.outage.delivered()
	d.log.Info("mail sent", "id", row.ID, "kind", row.Kind, "to", m.To, "server", s.Host, "attempts", row.Attempts,
		"took_ms", took.Milliseconds())
	finish(f, Result{Status: StatusSent, Attempts: row.Attempts})
}

// Between tries to record a delivery the worker waits markSentRetry,
// doubled each time up to markSentMaxWait.
const (
	markSentRetry   = 250 * time.Millisecond
	markSentMaxWait = 5 * time.Second
)

// markSent records a delivery. A failure (the database briefly unavailable)
// is tried again, with backoff, for as long as the lease, measured on the
// real clock, still covers the wait and a whole write (storeTimeout):
// unrecorded, the message would be sent again when its lease runs out. The
// first failure is a warning, the tries after it are debug lines, so that a
// database outage does not log a line per message per try.
func (d *Dispatcher) markSent(row *storage.OutboxMessage, leasedAt time.Time) error {
	wait := d.markRetry
	start := time.Now()
	for try := 1; ; try++ {
		ctx, cancel := d.storeCtx()
		err := d.cfg.Store.MarkMailSent(ctx, row.ID, row.LeaseToken)
		cancel()
		if err == nil && try > 1 {
			d.log.Info("mail sent recorded after a failure", "id", row.ID, "tries", try,
				"took_ms", time.Since(start).Milliseconds())
		}
		if err == nil || errors.Is(err, storage.ErrLeaseLost) || d.cfg.Lease-d.since(leasedAt) < wait+storeTimeout {
			return err
		}
		level := slog.LevelDebug
		if try == 1 {
			level = slog.LevelWarn
		}
		d.log.Log(context.Background(), level, "mail sent but not recorded; trying again while its lease lasts",
			"id", row.ID, "try", try, "retry_in_ms", wait.Milliseconds(), "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.storeBase.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, markSentMaxWait)
	}
}

// failed records a failed attempt: deferred when the failure is temporary
// and the retry policy (see [DispatcherConfig]) allows another attempt,
// dead (with an alarm) otherwise.
func (d *Dispatcher) failed(row *storage.OutboxMessage, s Settings, sendErr error, diag Diagnosis, took time.Duration) {
	diag.Code = cmp.Or(diag.Code, CodeUnknown)
	lastErr := scrub(sendErr.Error(), s.Secrets())
	diag.Detail = scrub(diag.Detail, s.Secrets())
	interrupted := diag.Code == CodeCanceled && d.sendCtx.Err() != nil
	dec := decide(d.cfg.retryPolicy(), failedTry{
		Attempts:    row.Attempts,
		Created:     row.CreatedAt,
		Diagnosis:   diag,
		Interrupted: interrupted,
	}, d.cfg.Now(), d.cfg.Rand())
	if dec.Verdict != verdictDead {
		next := dec.Next
		d.metrics.Deferred.WithLabelValues(diag.Code).Inc()
		d.metrics.SendSeconds.WithLabelValues(outcomeDeferred).Observe(took.Seconds())
		f := d.reg.take(row.ID)
		ctx, cancel := d.storeCtx()
		record := d.cfg.Store.MarkMailDeferred
		if dec.Verdict == verdictPostpone {
			// Not a real attempt: waiting for settings or a restart must
			// not use up the message's attempts.
			record = d.cfg.Store.PostponeMail
		}
		err := record(ctx, row.ID, row.LeaseToken, next, lastErr, diag.Code)
		cancel()
		if err != nil {
			d.log.Warn("mail deferral not recorded; it is retried when its lease runs out", "id", row.ID, "error", err.Error())
		}
		// One line per message at debug level: the outage (its start, a
		// summary a minute, its end) is what is logged as a warning.
		if !interrupted {
			d.outage.deferredTry(row.ID, diag)
		}
		d.log.Debug("mail deferred", "id", row.ID, "kind", row.Kind, "to", row.Recipient, "attempts", row.Attempts,
			"code", diag.Code, "next_attempt", next, "took_ms", took.Milliseconds(), "error", lastErr)
		finish(f, Result{Status: StatusDeferred, Attempts: row.Attempts, Diagnosis: &diag})
		return
	}

	d.metrics.Failed.WithLabelValues(diag.Code).Inc()
	d.metrics.SendSeconds.WithLabelValues(outcomeFailed).Observe(took.Seconds())
	f := d.reg.take(row.ID)
	// The alarm first: whoever sees the message dead finds the alarm raised.
	// Each write has its own time: a slow alarm must not leave the mark none.
	ctx, cancel := d.storeCtx()
	d.raiseDeadAlarm(ctx, row, diag)
	cancel()
	ctx, cancel = d.storeCtx()
	err := d.cfg.Store.MarkMailDead(ctx, row.ID, row.LeaseToken, lastErr, diag.Code)
	cancel()
	switch {
	case errors.Is(err, storage.ErrLeaseLost):
		// Another node holds the message now and decides its outcome.
		d.log.Warn("mail failed after its lease ran out; another node retries it", "id", row.ID, "code", diag.Code,
			"error", lastErr)
		d.reg.follow(row.ID, f)
		return
	case err != nil:
		d.log.Error("mail failure not recorded; it is retried when its lease runs out", "id", row.ID, "error", err.Error())
	}
	d.log.Error("mail dead", "id", row.ID, "kind", row.Kind, "to", row.Recipient, "attempts", row.Attempts,
		"code", diag.Code, "temporary", diag.Temporary, "took_ms", took.Milliseconds(), "error", lastErr)
	finish(f, Result{Status: StatusFailed, Attempts: row.Attempts, Diagnosis: &diag})
}

// raiseDeadAlarm tells the admin a message was given up on. One alarm per
// diagnosis code; its detail says what to do and never holds a secret.
func (d *Dispatcher) raiseDeadAlarm(ctx context.Context, row *storage.OutboxMessage, diag Diagnosis) {
	key := "mail.dead"
	if diag.Code != CodeUnknown {
		key = "mail." + diag.Code
	}
	title := "Email could not be delivered"
	if diag.Temporary {
		title += " after " + strconv.Itoa(row.Attempts) + " attempts"
	}
	var evidence string
	if diag.Detail != "" {
		evidence = "(" + strings.TrimSuffix(diag.Detail, ".") + ")"
	}
	detail := joinSentences(diag.Message, evidence, diag.Hint,
		fmt.Sprintf("Last message: %s to %s (outbox ID %s); see the mail log.", row.Kind, row.Recipient, row.ID))
	err := d.cfg.Store.RaiseAlarm(ctx, storage.Alarm{
		Key:      key,
		Severity: storage.SeverityCritical,
		Title:    title + ": " + diag.Message,
		Detail:   detail,
	})
	if err != nil {
		d.log.Error("mail alarm not raised", "key", key, "error", err.Error())
	}
}

// settingsDiagnosis explains a failure to load the SMTP settings.
func settingsDiagnosis(err error) Diagnosis {
	if errors.Is(err, storage.ErrNotFound) {
		return Diagnosis{
			Code:      codeSMTPNotConfigured,
			Message:   "The SMTP server is not set up yet.",
			Hint:      "An admin must enter the SMTP settings, run Test Connection and save them; queued emails are sent then.",
			Temporary: true,
		}
	}
	return Diagnosis{
		Code:      codeSettingsUnavailable,
		Message:   "The SMTP settings could not be read.",
		Hint:      "Check that the database is reachable; the email is retried.",
		Temporary: true,
	}
}
