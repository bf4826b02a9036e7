package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/lobbyhq/lobby/storage"
)

const mailCols = `id, idempotency_key, kind, recipient, subject, payload, status, attempts, next_attempt_at,
	lease_owner, lease_until, last_error, diagnosis, created_at, sent_at, updated_at`

// mailListCols are mailCols without the payload: the mail log never needs
// it, so it is neither read nor opened.
const mailListCols = `id, idempotency_key, kind, recipient, subject, NULL, status, attempts, next_attempt_at,
	lease_owner, lease_until, last_error, diagnosis, created_at, sent_at, updated_at`

// leasable is the condition of a message a worker may lease at ? (given twice).
const leasable = `((status IN ('queued', 'deferred') AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until <= ?))`

// dueIDs selects the IDs of the first ? (given three times) messages due at
// ?, oldest due first: each branch walks an index in order and stops at the
// limit, so a large backlog costs a batch no more than a small one.
const dueIDs = `SELECT id FROM (
		SELECT * FROM (SELECT id, next_attempt_at, created_at FROM outbox INDEXED BY outbox_due_idx
			WHERE status IN ('queued', 'deferred') AND next_attempt_at <= ?1
			ORDER BY next_attempt_at, created_at, id LIMIT ?2)
		UNION ALL
		SELECT * FROM (SELECT id, next_attempt_at, created_at FROM outbox
			WHERE status = 'sending' AND lease_until <= ?1
			ORDER BY next_attempt_at, created_at, id LIMIT ?2)
	) ORDER BY next_attempt_at, created_at, id LIMIT ?2`

// scanMailRow reads one row of mailCols (or mailListCols) without opening
// the payload, which it returns as stored.
func scanMailRow(sc scanner) (*storage.OutboxMessage, []byte, error) {
	var (
		m                              storage.OutboxMessage
		key                            sql.NullString
		sealed                         []byte
		status                         string
		next, until, created, sent, up sql.NullInt64
	)
	if err := sc.Scan(&m.ID, &key, &m.Kind, &m.Recipient, &m.Subject, &sealed, &status, &m.Attempts, &next,
		&m.LeaseOwner, &until, &m.LastError, &m.Diagnosis, &created, &sent, &up); err != nil {
		return nil, nil, err
	}
	m.IdempotencyKey = key.String
	m.Status = storage.MailStatus(status)
	m.NextAttemptAt, m.LeaseUntil = fromMicros(next), fromMicros(until)
	m.CreatedAt, m.SentAt, m.UpdatedAt = fromMicros(created), fromMicros(sent), fromMicros(up)
	return &m, sealed, nil
}

// scanMail reads one row of mailCols and opens the payload.
func (s *Store) scanMail(sc scanner) (*storage.OutboxMessage, error) {
	m, sealed, err := scanMailRow(sc)
	if err != nil {
		return nil, err
	}
	if err := s.sealer.OpenMailPayload(m, sealed); err != nil {
		return nil, err
	}
	return m, nil
}

func (s *Store) scanMails(rows *sql.Rows) ([]*storage.OutboxMessage, error) {
	defer rows.Close()
	ms := []*storage.OutboxMessage{}
	for rows.Next() {
		m, err := s.scanMail(rows)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// markUnreadable marks the leased message id dead because its payload does
// not open: it can never be sent, and must not stop the others.
func (s *Store) markUnreadable(ctx context.Context, id uuid.UUID) error {
	if _, err := s.writer().ExecContext(ctx, `UPDATE outbox SET status = 'dead', diagnosis = ?, last_error = ?, updated_at = ?,
		lease_owner = '', lease_until = NULL, lease_token = NULL WHERE id = ?`,
		storage.DiagnosisPayloadUnreadable, storage.PayloadUnreadableError, micros(s.now()), id.String()); err != nil {
		return fmt.Errorf("mark unreadable message %s dead: %w", id, err)
	}
	return s.RaiseAlarm(ctx, storage.PayloadUnreadableAlarm(id))
}

// EnqueueMail inserts m as queued, due at m.NextAttemptAt or now, and fills
// it in as stored (see storage.QueuedMail). A message whose idempotency key
// is already present is not inserted: m.ID becomes the existing message's ID
// (nothing else changes) and the error is ErrDuplicate. On any other error m
// is left as it was.
func (s *Store) EnqueueMail(ctx context.Context, m *storage.OutboxMessage) error {
	q := storage.QueuedMail(m, s.now())
	sealed := s.sealer.Seal(q.Payload, storage.OutboxPayloadAD(q.ID))
	w := s.writer()
	// The message holding the key may be purged (by another process)
	// between the insert and the look-up; then the key is free and the
	// insert is tried again.
	for range 3 {
		res, err := w.ExecContext(ctx, `INSERT INTO outbox (`+mailCols+`) VALUES (`+placeholders(16)+`)
			ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
			q.ID.String(), nullString(q.IdempotencyKey), q.Kind, q.Recipient, q.Subject, sealed,
			string(storage.MailQueued), 0, micros(q.NextAttemptAt), "", nil, "", "", micros(q.CreatedAt), nil, micros(q.UpdatedAt))
		if err != nil {
			if _, ok := uniqueViolation(err); ok {
				return fmt.Errorf("sqlite: enqueue mail: the message id is taken: %w", storage.ErrConflict)
			}
			return fmt.Errorf("sqlite: enqueue mail: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			*m = q
			return nil
		}
		// Only the idempotency key can have been in the way.
		var dup uuid.UUID
		err = w.QueryRowContext(ctx, "SELECT id FROM outbox WHERE idempotency_key = ?", q.IdempotencyKey).Scan(&dup)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlite: enqueue mail: find the queued duplicate: %w", err)
		}
		m.ID = dup
		return fmt.Errorf("sqlite: enqueue mail: idempotency key already queued as %s: %w", dup, storage.ErrDuplicate)
	}
	return errors.New("sqlite: enqueue mail: the message holding its idempotency key kept changing; try again")
}

// LeaseMail leases up to n due messages, oldest due first, to owner for lease.
// The select and the update are one statement in one immediate transaction on
// the single writer, so concurrent callers (in this process or another) never
// get the same message. A leased message whose payload does not open is
// marked dead (storage.DiagnosisPayloadUnreadable) in the same transaction
// and not returned, so fewer than n may come back while more are due.
func (s *Store) LeaseMail(ctx context.Context, owner string, n int, lease time.Duration) ([]*storage.OutboxMessage, error) {
	if err := storage.CheckLease(owner, lease); err != nil {
		return nil, fmt.Errorf("sqlite: lease mail: %w", err)
	}
	ms := []*storage.OutboxMessage{}
	if n <= 0 {
		return ms, nil
	}
	err := s.WithTx(ctx, func(tx storage.Store) error {
		ts := tx.(*Store)
		now, token := ts.now(), storage.NewLeaseToken()
		rows, err := ts.writer().QueryContext(ctx, `UPDATE outbox
			SET status = 'sending', lease_owner = ?3, lease_until = ?4, attempts = attempts + 1, updated_at = ?1,
				lease_token = ?5
			WHERE id IN (`+dueIDs+`) RETURNING `+mailCols,
			micros(now), n, owner, micros(now.Add(lease)), token.String())
		if err != nil {
			return err
		}
		var (
			leased []*storage.OutboxMessage
			sealed [][]byte
		)
		for rows.Next() {
			m, p, err := scanMailRow(rows)
			if err != nil {
				rows.Close()
				return err
			}
			m.LeaseToken = token
			leased, sealed = append(leased, m), append(sealed, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		ms = ms[:0]
		for i, m := range leased {
			switch err := ts.sealer.OpenMailPayload(m, sealed[i]); {
			case errors.Is(err, storage.ErrUnreadable):
				if err := ts.markUnreadable(ctx, m.ID); err != nil {
					return err
				}
			case err != nil:
				return err
			default:
				ms = append(ms, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: lease mail: %w", err)
	}
	slices.SortFunc(ms, func(a, b *storage.OutboxMessage) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID.String(), b.ID.String())
	})
	return ms, nil
}

// LeaseMailByID leases one message if it is leasable now; otherwise
// ErrNotFound (no such message) or ErrConflict (not leasable now). A message
// whose payload does not open is marked dead
// (storage.DiagnosisPayloadUnreadable) and reported as ErrUnreadable.
func (s *Store) LeaseMailByID(ctx context.Context, id uuid.UUID, owner string, lease time.Duration) (*storage.OutboxMessage, error) {
	if err := storage.CheckLease(owner, lease); err != nil {
		return nil, fmt.Errorf("sqlite: lease mail %s: %w", id, err)
	}
	now, token := s.now(), storage.NewLeaseToken()
	q := s.writer()
	m, sealed, err := scanMailRow(q.QueryRowContext(ctx, `UPDATE outbox
		SET status = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?, lease_token = ?
		WHERE id = ? AND `+leasable+` RETURNING `+mailCols,
		owner, micros(now.Add(lease)), micros(now), token.String(), id.String(), micros(now), micros(now)))
	if errors.Is(err, sql.ErrNoRows) {
		err = missingOr(ctx, q, id, storage.ErrConflict, "is not due or is leased by another worker")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: lease mail %s: %w", id, err)
	}
	if err := s.sealer.OpenMailPayload(m, sealed); err != nil {
		// If marking fails, the lease runs out and the next lease tries again.
		if merr := s.markUnreadable(ctx, id); merr != nil {
			return nil, fmt.Errorf("sqlite: lease mail %s: %w", id, errors.Join(err, merr))
		}
		return nil, fmt.Errorf("sqlite: lease mail %s: marked dead: %w", id, err)
	}
	m.LeaseToken = token
	return m, nil
}

// missingOr tells a message that is gone (ErrNotFound) from one in another
// state (sentinel, explained by why).
func missingOr(ctx context.Context, q querier, id uuid.UUID, sentinel error, why string) error {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM outbox WHERE id = ?", id.String()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("no such message: %w", storage.ErrNotFound)
	case err != nil:
		return err
	}
	return fmt.Errorf("the message %s: %w", why, sentinel)
}

// settle records the outcome of an attempt if token is the message's
// current lease: ErrLeaseLost if not, ErrNotFound if the message is gone.
func (s *Store) settle(ctx context.Context, op string, id uuid.UUID, token storage.LeaseToken, set string, args ...any) error {
	args = append(args, id.String(), token.String())
	q := s.writer()
	res, err := q.ExecContext(ctx, "UPDATE outbox SET "+set+", lease_owner = '', lease_until = NULL, lease_token = NULL "+
		"WHERE id = ? AND status = 'sending' AND lease_token = ?", args...)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = missingOr(ctx, q, id, storage.ErrLeaseLost,
				"is not under this lease any more (it ran out and the message was leased again, or it was settled)")
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: %s %s: %w", op, id, err)
	}
	return nil
}

// MarkMailSent records a successful send and clears the payload, which may
// hold credentials (the kind, recipient and subject stay). The lease must
// still be the
// message's current one: a lease that ran out but was not taken over still
// counts.
func (s *Store) MarkMailSent(ctx context.Context, id uuid.UUID, token storage.LeaseToken) error {
	now := micros(s.now())
	return s.settle(ctx, "mark mail sent", id, token, "status = 'sent', sent_at = ?, updated_at = ?, payload = x''", now, now)
}

// MarkMailDeferred records a transient failure; the message is due again at next.
func (s *Store) MarkMailDeferred(ctx context.Context, id uuid.UUID, token storage.LeaseToken, next time.Time, lastErr, diagnosis string) error {
	return s.settle(ctx, "mark mail deferred", id, token,
		"status = 'deferred', next_attempt_at = ?, last_error = ?, diagnosis = ?, updated_at = ?",
		micros(next), lastErr, diagnosis, micros(s.now()))
}

// PostponeMail defers the message without counting the try as an attempt.
func (s *Store) PostponeMail(ctx context.Context, id uuid.UUID, token storage.LeaseToken, next time.Time, lastErr, diagnosis string) error {
	return s.settle(ctx, "postpone mail", id, token,
		"status = 'deferred', next_attempt_at = ?, last_error = ?, diagnosis = ?, updated_at = ?, attempts = max(attempts - 1, 0)",
		micros(next), lastErr, diagnosis, micros(s.now()))
}

// MarkMailDead records a permanent failure; the message is not tried again.
func (s *Store) MarkMailDead(ctx context.Context, id uuid.UUID, token storage.LeaseToken, lastErr, diagnosis string) error {
	return s.settle(ctx, "mark mail dead", id, token,
		"status = 'dead', last_error = ?, diagnosis = ?, updated_at = ?", lastErr, diagnosis, micros(s.now()))
}

// ReleaseMail gives a leased message back unattempted: queued, due now.
func (s *Store) ReleaseMail(ctx context.Context, id uuid.UUID, token storage.LeaseToken) error {
	now := micros(s.now())
	return s.settle(ctx, "release mail", id, token,
		"status = 'queued', next_attempt_at = ?, attempts = max(attempts - 1, 0), updated_at = ?", now, now)
}

// GetMail returns one message with its payload opened, or ErrNotFound.
func (s *Store) GetMail(ctx context.Context, id uuid.UUID) (*storage.OutboxMessage, error) {
	m, err := s.scanMail(s.reader().QueryRowContext(ctx, "SELECT "+mailCols+" FROM outbox WHERE id = ?", id.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get mail %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get mail %s: %w", id, err)
	}
	return m, nil
}

// ListMail lists one page of the messages matching f, newest first, without
// their payloads. Each filter walks an index in (created_at, id) order: the
// status and kind filters their own (010), the search the mail_search
// trigram table, the rest outbox_created_at_id_idx.
func (s *Store) ListMail(ctx context.Context, f storage.MailFilter) ([]*storage.OutboxMessage, error) {
	query, args, err := listMailSQL(f)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list mail: %w", err)
	}
	rows, err := s.reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list mail: %w", err)
	}
	ms, err := s.scanMails(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list mail: %w", err)
	}
	return ms, nil
}

// listMailSQL is ListMail's statement and arguments for f.
func listMailSQL(f storage.MailFilter) (string, []any, error) {
	var (
		where []string
		args  []any
	)
	if len(f.Status) > 0 {
		for _, st := range f.Status {
			args = append(args, string(st))
		}
		where = append(where, "status IN ("+placeholders(len(f.Status))+")")
	}
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, f.Kind)
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		if utf8.RuneCountInString(q) >= storage.SearchMinSubstring {
			// The trigram table finds the candidates; the check against
			// the row keeps a stale rowid (after VACUUM) from matching.
			where = append(where, "rowid IN (SELECT rowid FROM mail_search WHERE mail_search MATCH ?)")
			args = append(args, `"`+strings.ReplaceAll(q, `"`, `""`)+`"`)
		}
		where = append(where, "(instr(lower(recipient), lower(?)) > 0 OR instr(lower(subject), lower(?)) > 0)")
		args = append(args, q, q)
	}
	if !f.CreatedFrom.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, micros(storage.Truncate(f.CreatedFrom)))
	}
	if !f.CreatedBefore.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, micros(storage.Truncate(f.CreatedBefore)))
	}
	if f.After != "" {
		c, err := storage.DecodeCursor(f.After)
		if err != nil {
			return "", nil, err
		}
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		at := micros(c.CreatedAt)
		args = append(args, at, at, c.ID.String())
	}
	query := "SELECT " + mailListCols + " FROM outbox"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, storage.PageLimit(f.Limit))
	return query, args, nil
}

// RetryDeadMail puts the dead message id back in the queue, due now, with
// its attempts reset.
func (s *Store) RetryDeadMail(ctx context.Context, id uuid.UUID) error {
	q := s.writer()
	now := micros(s.now())
	res, err := q.ExecContext(ctx, `UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?, updated_at = ?,
		last_error = '', diagnosis = '' WHERE id = ? AND status = 'dead' AND length(payload) > 0`, now, now, id.String())
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = missingOr(ctx, q, id, storage.ErrConflict, "is not a dead letter with a payload to send")
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: retry dead mail %s: %w", id, err)
	}
	return nil
}

// DeadMail counts the dead messages and gives when the last one died
// (outbox_dead_idx).
func (s *Store) DeadMail(ctx context.Context) (int, time.Time, error) {
	var (
		n    int
		last sql.NullInt64
	)
	if err := s.reader().QueryRowContext(ctx, "SELECT count(*), max(updated_at) FROM outbox WHERE status = 'dead'").
		Scan(&n, &last); err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlite: count dead mail: %w", err)
	}
	return n, fromMicros(last), nil
}

// CountMail counts messages by status; statuses with none are absent.
func (s *Store) CountMail(ctx context.Context) (map[storage.MailStatus]int, error) {
	rows, err := s.reader().QueryContext(ctx, "SELECT status, count(*) FROM outbox GROUP BY status")
	if err != nil {
		return nil, fmt.Errorf("sqlite: count mail: %w", err)
	}
	defer rows.Close()
	counts := map[storage.MailStatus]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("sqlite: count mail: %w", err)
		}
		counts[storage.MailStatus(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: count mail: %w", err)
	}
	return counts, nil
}
