package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
	_, err := s.writer().ExecContext(ctx, `INSERT INTO alarms (id, key, severity, title, detail, count, raised_at, last_seen)
		VALUES (?, ?, ?, ?, ?, 1, ?, ?)
		ON CONFLICT (key) WHERE cleared_at IS NULL DO UPDATE SET count = alarms.count + 1, last_seen = excluded.last_seen,
			severity = excluded.severity, title = excluded.title, detail = excluded.detail`,
		id.String(), a.Key, string(a.Severity), a.Title, a.Detail, now, now)
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
	query := "SELECT id, key, severity, title, detail, count, raised_at, last_seen, cleared_at FROM alarms"
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
		var (
			a                     storage.Alarm
			sev                   string
			raised, seen, cleared sql.NullInt64
		)
		if err := rows.Scan(&a.ID, &a.Key, &sev, &a.Title, &a.Detail, &a.Count, &raised, &seen, &cleared); err != nil {
			return nil, fmt.Errorf("sqlite: list alarms: %w", err)
		}
		a.Severity = storage.Severity(sev)
		a.RaisedAt, a.LastSeen, a.ClearedAt = fromMicros(raised), fromMicros(seen), fromMicros(cleared)
		list = append(list, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list alarms: %w", err)
	}
	return list, nil
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
	query := "SELECT id, at, actor, action, subject, detail FROM audit WHERE subject = ?"
	args := []any{subject}
	if before > 0 {
		query += " AND id < ?"
		args = append(args, before)
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, storage.PageLimit(limit))
	return s.listAudit(ctx, "list audit for a subject", query, args...)
}

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
