package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/lobbyhq/lobby/storage"
)

// RaiseAlarm raises a, or counts it again if an alarm with a.Key is active
// (taking the new severity, title and detail). The store counts and stamps:
// a's Count, RaisedAt, LastSeen and ClearedAt are not taken.
func (s *Store) RaiseAlarm(ctx context.Context, a storage.Alarm) error {
	if a.Key == "" {
		return errors.New("sqlite: raise alarm: the key is empty")
	}
	id := a.ID
	if id == uuid.Nil {
		id = uuid.New()
	}
	now := micros(s.now())
	_, err := s.writer().ExecContext(ctx, `INSERT INTO alarms (id, key, severity, title, detail, count, raised_at, last_seen, level)
		VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)
		ON CONFLICT (key) WHERE cleared_at IS NULL DO UPDATE SET count = alarms.count + 1, last_seen = excluded.last_seen,
			severity = excluded.severity, title = excluded.title, detail = excluded.detail, level = excluded.level,
			acknowledged_by = CASE WHEN alarms.level = excluded.level THEN alarms.acknowledged_by ELSE '' END,
			acknowledged_at = CASE WHEN alarms.level = excluded.level THEN alarms.acknowledged_at END`,
		id.String(), a.Key, string(a.Severity), a.Title, a.Detail, now, now, a.Level)
	if err != nil {
		return fmt.Errorf("sqlite: raise alarm %q: %w", a.Key, err)
	}
	return nil
}

// ClearAlarm clears the active alarm with key, if there is one.
func (s *Store) ClearAlarm(ctx context.Context, key string) error {
	if _, err := s.writer().ExecContext(ctx, "UPDATE alarms SET cleared_at = ? WHERE key = ? AND cleared_at IS NULL",
		micros(s.now()), key); err != nil {
		return fmt.Errorf("sqlite: clear alarm %q: %w", key, err)
	}
	return nil
}

// ListAlarms lists active alarms (and cleared ones when asked), active first,
// most recently seen first.
func (s *Store) ListAlarms(ctx context.Context, includeCleared bool) ([]storage.Alarm, error) {
	query := "SELECT " + alarmCols + " FROM alarms"
	if !includeCleared {
		query += " WHERE cleared_at IS NULL"
	}
	query += " ORDER BY cleared_at IS NOT NULL, last_seen DESC, raised_at DESC, id"
	rows, err := s.reader().QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list alarms: %w", err)
	}
	defer rows.Close()
	list := []storage.Alarm{}
	for rows.Next() {
		a, err := scanAlarm(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list alarms: %w", err)
		}
		list = append(list, *a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list alarms: %w", err)
	}
	return list, nil
}

const alarmCols = `id, key, severity, title, detail, count, raised_at, last_seen, cleared_at,
	level, notified_level, acknowledged_by, acknowledged_at`

func scanAlarm(sc scanner) (*storage.Alarm, error) {
	var (
		a                            storage.Alarm
		sev                          string
		raised, seen, cleared, acked sql.NullInt64
		notified                     sql.NullString
	)
	if err := sc.Scan(&a.ID, &a.Key, &sev, &a.Title, &a.Detail, &a.Count, &raised, &seen, &cleared,
		&a.Level, &notified, &a.AcknowledgedBy, &acked); err != nil {
		return nil, err
	}
	a.Severity = storage.Severity(sev)
	a.RaisedAt, a.LastSeen, a.ClearedAt = fromMicros(raised), fromMicros(seen), fromMicros(cleared)
	a.AcknowledgedAt, a.NotifiedLevel = fromMicros(acked), notified.String
	return &a, nil
}

// GetAlarm returns the active alarm with key, or else the last one raised.
func (s *Store) GetAlarm(ctx context.Context, key string) (*storage.Alarm, error) {
	a, err := scanAlarm(s.reader().QueryRowContext(ctx, "SELECT "+alarmCols+
		" FROM alarms WHERE key = ? ORDER BY cleared_at IS NOT NULL, raised_at DESC LIMIT 1", key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get alarm %q: %w", key, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get alarm %q: %w", key, err)
	}
	return a, nil
}

// AckAlarm records that by saw the active alarm with key at at.
func (s *Store) AckAlarm(ctx context.Context, key, by string, at time.Time) error {
	res, err := s.writer().ExecContext(ctx, "UPDATE alarms SET acknowledged_by = ?, acknowledged_at = ? WHERE key = ? AND cleared_at IS NULL",
		by, micros(storage.Truncate(at)), key)
	if err != nil {
		return fmt.Errorf("sqlite: acknowledge alarm %q: %w", key, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: acknowledge alarm %q: no such active alarm: %w", key, storage.ErrNotFound)
	}
	return nil
}

// MarkAlarmNotified sets the active alarm's notified level to its level and
// reports whether that changed it.
func (s *Store) MarkAlarmNotified(ctx context.Context, key string) (bool, error) {
	res, err := s.writer().ExecContext(ctx, "UPDATE alarms SET notified_level = level WHERE key = ? AND cleared_at IS NULL AND notified_level IS NOT level",
		key)
	if err != nil {
		return false, fmt.Errorf("sqlite: mark alarm %q notified: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: mark alarm %q notified: %w", key, err)
	}
	return n > 0, nil
}

// Audit appends e to the audit log, stamped now when e.At is zero.
func (s *Store) Audit(ctx context.Context, e storage.AuditEntry) error {
	at := truncOrZero(e.At)
	if at.IsZero() {
		at = s.now()
	}
	if _, err := s.writer().ExecContext(ctx, "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
		micros(at), e.Actor, e.Action, e.Subject, e.Detail); err != nil {
		return fmt.Errorf("sqlite: audit: %w", err)
	}
	return nil
}

// ListAudit lists entries newest first, those with ID < before when before > 0.
func (s *Store) ListAudit(ctx context.Context, before int64, limit int) ([]storage.AuditEntry, error) {
	query := "SELECT id, at, actor, action, subject, detail FROM audit"
	var args []any
	if before > 0 {
		query += " WHERE id < ?"
		args = append(args, before)
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, storage.PageLimit(limit))
	return s.listAudit(ctx, "list audit", query, args...)
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
	query := "SELECT id, at, actor, action, subject, detail FROM audit WHERE id < ?"
	before := f.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	args := []any{before}
	if f.Actor != "" {
		query += " AND actor = ?"
		args = append(args, f.Actor)
	}
	if f.ActionPrefix != "" {
		query += ` AND action LIKE ? ESCAPE '\'` // ASCII case-insensitive, as on Postgres (ILIKE)
		args = append(args, storage.EscapeLike(f.ActionPrefix)+"%")
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, storage.PageLimit(f.Limit))
	return s.listAudit(ctx, "list audit (filtered)", query, args...)
}

// auditForSQL is ListAuditFor's statement: subject, before, limit.
const auditForSQL = "SELECT id, at, actor, action, subject, detail FROM audit WHERE subject = ? AND id < ? ORDER BY id DESC LIMIT ?"

func (s *Store) listAudit(ctx context.Context, op, query string, args ...any) ([]storage.AuditEntry, error) {
	rows, err := s.reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer rows.Close()
	list := []storage.AuditEntry{}
	for rows.Next() {
		var (
			e  storage.AuditEntry
			at sql.NullInt64
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Subject, &e.Detail); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", op, err)
		}
		e.At = fromMicros(at)
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return list, nil
}
