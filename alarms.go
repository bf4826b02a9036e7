package lobby

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// Alarm keys the watcher raises besides notify.AlarmSecretExpiry.
const (
	// AlarmDeliveryFailing: mail delivery has failed for longer than
	// Config.DeliveryAlarmAfter; cleared once a message is delivered.
	AlarmDeliveryFailing = "mail.delivery_failing"
	// AlarmDeadLetters: messages were given up on; cleared when none is
	// left dead (retried or purged) or an admin acknowledged the alarm.
	AlarmDeadLetters = "mail.dead_letters"
)

// DefaultDeliveryAlarmAfter is Config.DeliveryAlarmAfter's default.
const DefaultDeliveryAlarmAfter = 15 * time.Minute

// Intervals of the alarm watcher: the mail alarms are checked every
// alarmCheckInterval, the client secret's expiry every
// secretCheckInterval (its levels are days apart).
const (
	alarmCheckInterval  = time.Minute
	secretCheckInterval = time.Hour
)

// alarmWatch raises and clears the alarms that no single event decides:
// the client secret's expiry, delivery failing for too long, dead letters.
// Every node may run it: alarms dedupe by key, and notify.Alarms emails
// each alarm and level once between them.
type alarmWatch struct {
	alarms    *notify.Alarms
	store     storage.Store
	settings  notify.SettingsSource
	outage    func() notify.Outage // nil: no delivery alarm
	threshold time.Duration
	now       func() time.Time
	log       *slog.Logger

	secretCheckedAt time.Time // zero: check at the next run
}

// run checks at start, then every alarmCheckInterval, until ctx ends.
func (w *alarmWatch) run(ctx context.Context) error {
	tick := time.NewTicker(alarmCheckInterval)
	defer tick.Stop()
	for {
		w.check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// check runs every check that is due; failures are logged and tried again
// at the next check.
func (w *alarmWatch) check(ctx context.Context) {
	now := w.now()
	warn := func(what string, err error) {
		if err != nil && ctx.Err() == nil {
			w.log.Warn("alarm check: "+what, "err", err)
		}
	}
	if w.secretCheckedAt.IsZero() || now.Sub(w.secretCheckedAt) >= secretCheckInterval {
		err := w.checkSecretExpiry(ctx, now)
		warn("client secret expiry", err)
		if err == nil {
			w.secretCheckedAt = now
		}
	}
	if w.outage != nil {
		warn("mail delivery", w.checkDelivery(ctx, now))
	}
	warn("dead letters", w.checkDeadLetters(ctx))
}

// checkSecretExpiry raises the client-secret expiry alarm at its level
// (30, 15, 7, 1 days, expired), or clears it.
func (w *alarmWatch) checkSecretExpiry(ctx context.Context, now time.Time) error {
	s, err := w.settings(ctx)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // no SMTP settings saved yet: nothing can expire
	}
	if err != nil {
		return fmt.Errorf("read the SMTP settings: %w", err)
	}
	return w.alarms.CheckSecretExpiry(ctx, s, now)
}

// checkDelivery raises AlarmDeliveryFailing once this node's deliveries
// have failed for the threshold, and clears it once this node has delivered
// a message after the alarm was raised (mail flows again).
func (w *alarmWatch) checkDelivery(ctx context.Context, now time.Time) error {
	o := w.outage()
	if o.Failing {
		if now.Sub(o.Since) < w.threshold {
			return nil
		}
		_, err := w.alarms.Raise(ctx, storage.Alarm{
			Key:      AlarmDeliveryFailing,
			Severity: storage.SeverityCritical,
			Title:    fmt.Sprintf("Email delivery has been failing since %s", o.Since.UTC().Format("2 January 2006 15:04 MST")),
			Detail: fmt.Sprintf("No email has gone out for %s: %d sends were deferred, the last with diagnosis %q. "+
				"The messages are kept and retried; nothing is lost. Open the mail log for the diagnosis and its fix, "+
				"and run Test Connection on the SMTP settings page. This alarm clears itself when mail flows again.",
				now.Sub(o.Since).Round(time.Minute), o.Deferred, o.Code),
		})
		return err
	}
	a, err := w.store.GetAlarm(ctx, AlarmDeliveryFailing)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return err
	case a.Active() && o.LastSent.After(a.RaisedAt):
		return w.alarms.Clear(ctx, AlarmDeliveryFailing)
	}
	return nil
}

// checkDeadLetters raises AlarmDeadLetters when a message died since the
// alarm was last cleared, keeps its count up to date while it is active,
// and clears it when no message is dead or an admin acknowledged it.
func (w *alarmWatch) checkDeadLetters(ctx context.Context) error {
	n, last, err := w.store.DeadMail(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return w.alarms.Clear(ctx, AlarmDeadLetters)
	}
	a, err := w.store.GetAlarm(ctx, AlarmDeadLetters)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		a = nil
	case err != nil:
		return err
	}
	if a != nil && a.Active() && a.Acknowledged() {
		return w.alarms.Clear(ctx, AlarmDeadLetters)
	}
	if a != nil && !a.Active() && !last.After(a.ClearedAt) {
		return nil // none died since the admin saw the alarm
	}
	title := "1 email could not be delivered and was given up on"
	if n != 1 {
		title = fmt.Sprintf("%d emails could not be delivered and were given up on", n)
	}
	_, err = w.alarms.Raise(ctx, storage.Alarm{
		Key:      AlarmDeadLetters,
		Severity: storage.SeverityWarning,
		Title:    title,
		Detail: "Open the mail log and filter on Dead: each message shows why it failed and what to do. " +
			"Once the cause is fixed, retry them; acknowledging this alarm clears it until another message is given up on.",
	})
	return err
}

// buildAlarms makes l.alarms and the watcher Run runs.
func (l *Lobby) buildAlarms(renderer *notify.Renderer) error {
	al, err := notify.NewAlarms(notify.AlarmsConfig{
		Store:      l.store,
		Renderer:   renderer,
		Recipients: l.cfg.AlarmRecipients,
		SiteName:   l.cfg.Portal.SiteName,
		AlarmsURL:  strings.TrimRight(l.cfg.BaseURL, "/") + "/admin/alarms",
		Track:      func(id uuid.UUID) { l.mail.Track(id) },
		Logger:     l.logger,
	})
	if err != nil {
		return err
	}
	l.alarms = al
	l.alarmWatch = &alarmWatch{
		alarms:    al,
		store:     l.store,
		settings:  l.settings,
		outage:    l.mail.Outage,
		threshold: cmp.Or(l.cfg.DeliveryAlarmAfter, DefaultDeliveryAlarmAfter),
		now:       l.cfg.Now,
		log:       l.logger,
	}
	return nil
}

// Alarms raises and clears alarms and emails the admin recipients once per
// alarm and level; the admin pages use it (saving the SMTP settings checks
// the client secret's expiry at once).
func (l *Lobby) Alarms() *notify.Alarms { return l.alarms }
