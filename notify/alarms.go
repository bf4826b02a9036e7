package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// KindAlarm is the outbox kind of an alarm email to the admins.
const KindAlarm = "admin.alarm"

// AlarmsConfig configures [Alarms].
type AlarmsConfig struct {
	// Store keeps the alarms and the outbox. Required.
	Store storage.Store
	// Renderer renders the alarm email (TemplateAlarm). Required.
	Renderer *Renderer
	// Recipients are addresses that get every alarm email besides the
	// admins (staff with the admin role and an email address, not
	// disabled).
	Recipients []string
	// SiteName and AlarmsURL go into the email: the name of this Lobby
	// and the link to its Alarms page.
	SiteName  string
	AlarmsURL string
	// Track, when set, is called with the ID of each alarm email after its
	// transaction commits, so that it is sent at once (Dispatcher.Track);
	// otherwise the dispatcher's poller sends it.
	Track func(uuid.UUID)
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Alarms raises and clears alarms and emails the admin recipients once per
// alarm and level, not once per failure: in the transaction that raises the
// alarm, the one caller that moves its notified level to its level
// (storage.AlarmStore.MarkAlarmNotified) queues the email, so that two
// nodes raising the same alarm at once send one email between them, and an
// email is queued if and only if the raise commits.
type Alarms struct {
	cfg AlarmsConfig
	log *slog.Logger
}

// NewAlarms checks cfg and returns Alarms.
func NewAlarms(cfg AlarmsConfig) (*Alarms, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("notify: alarms: Store is required"))
	}
	if cfg.Renderer == nil {
		errs = append(errs, errors.New("notify: alarms: Renderer is required"))
	}
	for _, r := range cfg.Recipients {
		if _, err := normalizeMessage(Message{Kind: KindAlarm, To: []string{r}, Subject: "x", Text: "x"}); err != nil {
			errs = append(errs, fmt.Errorf("notify: alarms: recipient %q: %w", r, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.SiteName == "" {
		cfg.SiteName = "Lobby"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Alarms{cfg: cfg, log: log}, nil
}

// Raise raises a (see storage.AlarmStore.RaiseAlarm) and, when a is new or
// at a level not emailed yet, queues one email to the admin recipients in
// the same transaction. It reports whether it queued one.
func (al *Alarms) Raise(ctx context.Context, a storage.Alarm) (emailed bool, err error) {
	var id uuid.UUID
	err = al.cfg.Store.WithTx(ctx, func(tx storage.Store) error {
		if err := tx.RaiseAlarm(ctx, a); err != nil {
			return err
		}
		changed, err := tx.MarkAlarmNotified(ctx, a.Key)
		if err != nil || !changed {
			return err
		}
		to, err := al.recipients(ctx, tx)
		if err != nil {
			return err
		}
		if len(to) == 0 {
			al.log.Warn("alarm not emailed: there is no admin with an email address and no alarm recipient configured",
				"key", a.Key, "level", a.Level)
			return nil
		}
		stored, err := tx.GetAlarm(ctx, a.Key)
		if err != nil {
			return err
		}
		subject, text, html, err := al.cfg.Renderer.Render(TemplateAlarm, map[string]any{
			"SiteName": al.cfg.SiteName, "Severity": string(stored.Severity), "Title": stored.Title,
			"Detail": stored.Detail, "RaisedAt": stored.RaisedAt, "AlarmsURL": al.cfg.AlarmsURL,
		})
		if err != nil {
			return err
		}
		id, err = Enqueue(ctx, tx, Message{
			Kind: KindAlarm, To: to, Subject: subject, Text: text, HTML: html,
			IdempotencyKey: "alarm:" + stored.ID.String() + ":" + stored.Level,
		})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("notify: raise alarm %s: %w", a.Key, err)
	}
	if id != uuid.Nil && al.cfg.Track != nil {
		al.cfg.Track(id)
	}
	return id != uuid.Nil, nil
}

// Clear clears the active alarm with key, if there is one.
func (al *Alarms) Clear(ctx context.Context, key string) error {
	if err := al.cfg.Store.ClearAlarm(ctx, key); err != nil {
		return fmt.Errorf("notify: clear alarm %s: %w", key, err)
	}
	return nil
}

// recipients are the admins' addresses and the configured ones, each once
// (compared without case), in a stable order.
func (al *Alarms) recipients(ctx context.Context, st storage.Store) ([]string, error) {
	staff, err := st.ListStaff(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the admins: %w", err)
	}
	var to []string
	seen := map[string]bool{}
	add := func(addr string) {
		addr = strings.TrimSpace(addr)
		if k := strings.ToLower(addr); addr != "" && !seen[k] {
			seen[k] = true
			to = append(to, addr)
		}
	}
	for _, s := range staff {
		if s.Role == storage.RoleAdmin && !s.Disabled {
			add(s.Email)
		}
	}
	slices.Sort(to)
	for _, r := range al.cfg.Recipients {
		add(r)
	}
	return to, nil
}

// CheckSecretExpiry raises the client-secret expiry alarm for s at now at
// its level (emailing each level once), or clears it; see SecretExpiryAlarm.
// Run it hourly and right after saving the settings.
func (al *Alarms) CheckSecretExpiry(ctx context.Context, s Settings, now time.Time) error {
	a, raise := SecretExpiryAlarm(s, now)
	if !raise {
		return al.Clear(ctx, AlarmSecretExpiry)
	}
	_, err := al.Raise(ctx, a)
	return err
}
