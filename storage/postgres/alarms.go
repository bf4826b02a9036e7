package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lobbyhq/lobby/storage"
)

const alarmColumns = `id, key, severity, title, detail, count, raised_at, last_seen, cleared_at,
	level, notified_level, acknowledged_by, acknowledged_at`

// RaiseAlarm raises a, or counts it again when an alarm with a.Key is active.
// The store counts and stamps: a's Count, RaisedAt, LastSeen and ClearedAt
// are not taken.
func (s *Store) RaiseAlarm(ctx context.Context, a storage.Alarm) error {
	if a.Key == "" {
		return errors.New("postgres: raise alarm: key is empty")
	}
	if a.ID == uuid.Nil {
		a.ID = uuid.New()
	}
	now := s.clock()
	_, err := s.db.Exec(ctx, `INSERT INTO alarms (id, key, severity, title, detail, count, raised_at, last_seen, level)
		VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $7)
		ON CONFLICT (key) WHERE cleared_at IS NULL DO UPDATE SET count = alarms.count + 1,
			last_seen = EXCLUDED.last_seen, severity = EXCLUDED.severity, title = EXCLUDED.title, detail = EXCLUDED.detail,
			level = EXCLUDED.level,
			acknowledged_by = CASE WHEN alarms.level = EXCLUDED.level THEN alarms.acknowledged_by ELSE '' END,
			acknowledged_at = CASE WHEN alarms.level = EXCLUDED.level THEN alarms.acknowledged_at END`,
		a.ID, a.Key, string(a.Severity), a.Title, a.Detail, now, a.Level)
	return wrap("raise alarm "+a.Key, err)
}

// ClearAlarm clears the active alarm with key; none active is not an error.
func (s *Store) ClearAlarm(ctx context.Context, key string) error {
	_, err := s.db.Exec(ctx, `UPDATE alarms SET cleared_at = $2 WHERE key = $1 AND cleared_at IS NULL`, key, s.clock())
	return wrap("clear alarm "+key, err)
}

// ListAlarms lists active alarms (and cleared ones when asked), the most
// recently seen first, active before cleared.
func (s *Store) ListAlarms(ctx context.Context, includeCleared bool) ([]storage.Alarm, error) {
	rows, err := s.db.Query(ctx, `SELECT `+alarmColumns+` FROM alarms WHERE $1 OR cleared_at IS NULL
		ORDER BY cleared_at IS NOT NULL, last_seen DESC, id`, includeCleared)
	if err != nil {
		return nil, wrap("list alarms", err)
	}
	defer rows.Close()
	out := []storage.Alarm{}
	for rows.Next() {
		a, err := scanAlarm(rows)
		if err != nil {
			return nil, wrap("list alarms", err)
		}
		out = append(out, *a)
	}
	return out, wrap("list alarms", rows.Err())
}

func scanAlarm(r rowScanner) (*storage.Alarm, error) {
	var (
		a                            storage.Alarm
		severity                     string
		raised, seen, cleared, acked pgtype.Timestamptz
		notified                     pgtype.Text
	)
	if err := r.Scan(&a.ID, &a.Key, &severity, &a.Title, &a.Detail, &a.Count, &raised, &seen, &cleared,
		&a.Level, &notified, &a.AcknowledgedBy, &acked); err != nil {
		return nil, err
	}
	a.Severity = storage.Severity(severity)
	a.RaisedAt, a.LastSeen, a.ClearedAt = tsOut(raised), tsOut(seen), tsOut(cleared)
	a.AcknowledgedAt, a.NotifiedLevel = tsOut(acked), notified.String
	return &a, nil
}

// GetAlarm returns the active alarm with key, or else the last one raised.
func (s *Store) GetAlarm(ctx context.Context, key string) (*storage.Alarm, error) {
	a, err := scanAlarm(s.db.QueryRow(ctx, `SELECT `+alarmColumns+` FROM alarms WHERE key = $1
		ORDER BY cleared_at IS NOT NULL, raised_at DESC LIMIT 1`, key))
	return a, wrap("get alarm "+key, err)
}

// AckAlarm records that by saw the active alarm with key at at.
func (s *Store) AckAlarm(ctx context.Context, key, by string, at time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE alarms SET acknowledged_by = $2, acknowledged_at = $3 WHERE key = $1 AND cleared_at IS NULL`,
		key, by, storage.Truncate(at))
	if err != nil {
		return wrap("acknowledge alarm "+key, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: acknowledge alarm %s: no such active alarm: %w", key, storage.ErrNotFound)
	}
	return nil
}

// MarkAlarmNotified sets the active alarm's notified level to its level and
// reports whether that changed it. The update locks the row: of two racing
// callers, the second sees the first's level and changes nothing.
func (s *Store) MarkAlarmNotified(ctx context.Context, key string) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE alarms SET notified_level = level
		WHERE key = $1 AND cleared_at IS NULL AND notified_level IS DISTINCT FROM level`, key)
	if err != nil {
		return false, wrap("mark alarm notified "+key, err)
	}
	return tag.RowsAffected() > 0, nil
}

// Audit appends e to the audit log, stamped now when e.At is zero.
func (s *Store) Audit(ctx context.Context, e storage.AuditEntry) error {
	if e.At.IsZero() {
		e.At = s.clock()
	}
	_, err := s.db.Exec(ctx, `INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)`,
		storage.Truncate(e.At), e.Actor, e.Action, e.Subject, e.Detail)
	return wrap("audit", err)
}

// ListAudit lists entries newest first, those with ID < before when before > 0.
func (s *Store) ListAudit(ctx context.Context, before int64, limit int) ([]storage.AuditEntry, error) {
	return s.listAudit(ctx, "list audit", `SELECT id, at, actor, action, subject, detail FROM audit
		WHERE $1 <= 0 OR id < $1 ORDER BY id DESC LIMIT $2`, before, storage.PageLimit(limit))
}

// ListAuditFor lists the entries about subject newest first, those with
// ID < before when before > 0 (audit_subject_id_idx).
func (s *Store) ListAuditFor(ctx context.Context, subject string, before int64, limit int) ([]storage.AuditEntry, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	return s.listAudit(ctx, "list audit for a subject", auditForSQL, subject, before, storage.PageLimit(limit))
}

// ListAuditWhere lists the entries matching f newest first, those with
// ID < f.Before when f.Before > 0.
func (s *Store) ListAuditWhere(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEntry, error) {
	before := f.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	pattern := ""
	if f.ActionPrefix != "" {
		pattern = storage.EscapeLike(f.ActionPrefix) + "%"
	}
	return s.listAudit(ctx, "list audit (filtered)", `SELECT id, at, actor, action, subject, detail FROM audit
		WHERE id < $1 AND ($2 = '' OR actor = $2) AND ($3 = '' OR action ILIKE $3)
		ORDER BY id DESC LIMIT $4`, before, f.Actor, pattern, storage.PageLimit(f.Limit))
}

// auditForSQL is ListAuditFor's statement: subject, before, limit.
const auditForSQL = `SELECT id, at, actor, action, subject, detail FROM audit WHERE subject = $1 AND id < $2 ORDER BY id DESC LIMIT $3`

func (s *Store) listAudit(ctx context.Context, op, sql string, args ...any) ([]storage.AuditEntry, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	out := []storage.AuditEntry{}
	for rows.Next() {
		var (
			e  storage.AuditEntry
			at pgtype.Timestamptz
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Subject, &e.Detail); err != nil {
			return nil, wrap(op, err)
		}
		e.At = tsOut(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	return out, nil
}
