package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lobbyhq/lobby/storage"
)

const mailColumns = `id, idempotency_key, kind, recipient, subject, payload, status, attempts, next_attempt_at,
	lease_owner, lease_until, last_error, diagnosis, created_at, sent_at, updated_at`

// mailListColumns are mailColumns without the payload: the mail log never
// needs it, so it is neither read nor opened.
const mailListColumns = `id, idempotency_key, kind, recipient, subject, NULL::bytea, status, attempts, next_attempt_at,
	lease_owner, lease_until, last_error, diagnosis, created_at, sent_at, updated_at`

// mailDue is the condition of a leasable message, with $n as now.
func mailDue(now string) string {
	return `((status IN ('queued', 'deferred') AND next_attempt_at <= ` + now + `)
		OR (status = 'sending' AND lease_until <= ` + now + `))`
}

// scanMailRow reads one row of mailColumns (or mailListColumns) without
// opening the payload, which it returns as stored.
func scanMailRow(r rowScanner) (*storage.OutboxMessage, []byte, error) {
	var (
		m                               storage.OutboxMessage
		key                             pgtype.Text
		sealed                          []byte
		status                          string
		next, until, created, sent, upd pgtype.Timestamptz
	)
	if err := r.Scan(&m.ID, &key, &m.Kind, &m.Recipient, &m.Subject, &sealed, &status, &m.Attempts, &next,
		&m.LeaseOwner, &until, &m.LastError, &m.Diagnosis, &created, &sent, &upd); err != nil {
		return nil, nil, err
	}
	m.IdempotencyKey = key.String
	m.Status = storage.MailStatus(status)
	m.NextAttemptAt, m.LeaseUntil = tsOut(next), tsOut(until)
	m.CreatedAt, m.SentAt, m.UpdatedAt = tsOut(created), tsOut(sent), tsOut(upd)
	return &m, sealed, nil
}

// scanMail reads one row of mailColumns and opens the payload.
func (s *Store) scanMail(r rowScanner) (*storage.OutboxMessage, error) {
	m, sealed, err := scanMailRow(r)
	if err != nil {
		return nil, err
	}
	if err := s.sealer.OpenMailPayload(m, sealed); err != nil {
		return nil, err
	}
	return m, nil
}

// markUnreadable marks the leased message id dead because its payload does
// not open: it can never be sent, and must not stop the others.
func (s *Store) markUnreadable(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.Exec(ctx, `UPDATE outbox SET status = 'dead', diagnosis = $2, last_error = $3, updated_at = $4,
		lease_owner = '', lease_until = NULL, lease_token = NULL WHERE id = $1`,
		id, storage.DiagnosisPayloadUnreadable, storage.PayloadUnreadableError, s.clock())
	if err != nil {
		return wrap("mark unreadable mail dead", err)
	}
	return s.RaiseAlarm(ctx, storage.PayloadUnreadableAlarm(id))
}

// EnqueueMail inserts m as queued and due now (or at m.NextAttemptAt), and
// fills it in as stored (see storage.QueuedMail). With an idempotency key
// already present it returns ErrDuplicate and sets m.ID to the existing
// message's ID, changing nothing else; the transaction stays usable. On any
// other error m is left as it was.
func (s *Store) EnqueueMail(ctx context.Context, m *storage.OutboxMessage) error {
	q := storage.QueuedMail(m, s.clock())
	sealed := s.sealer.Seal(q.Payload, storage.OutboxPayloadAD(q.ID))
	// The message holding the key may be purged between the insert and the
	// look-up; then the key is free and the insert is tried again.
	for range 3 {
		tag, err := s.db.Exec(ctx, `INSERT INTO outbox (id, idempotency_key, kind, recipient, subject, payload, status,
				attempts, next_attempt_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $8, $9)
			ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
			q.ID, textIn(q.IdempotencyKey), q.Kind, q.Recipient, q.Subject, sealed, q.NextAttemptAt, q.CreatedAt, q.UpdatedAt)
		if err != nil {
			return wrap("enqueue mail", err)
		}
		if tag.RowsAffected() > 0 {
			*m = q
			return nil
		}
		var existing uuid.UUID
		err = s.db.QueryRow(ctx, `SELECT id FROM outbox WHERE idempotency_key = $1`, q.IdempotencyKey).Scan(&existing)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return wrap("enqueue mail: find duplicate", err)
		}
		m.ID = existing
		return fmt.Errorf("postgres: enqueue mail: idempotency key already queued as %s: %w", existing, storage.ErrDuplicate)
	}
	return errors.New("postgres: enqueue mail: the message holding its idempotency key kept changing; try again")
}

// LeaseMail leases up to n due messages, oldest due first, to owner until
// now+lease. Concurrent callers skip each other's rows (FOR UPDATE SKIP
// LOCKED) and never get the same message. A leased message whose payload
// does not open is marked dead (storage.DiagnosisPayloadUnreadable) in the
// same transaction and not returned, so fewer than n may come back while
// more are due.
func (s *Store) LeaseMail(ctx context.Context, owner string, n int, lease time.Duration) ([]*storage.OutboxMessage, error) {
	if err := storage.CheckLease(owner, lease); err != nil {
		return nil, fmt.Errorf("postgres: lease mail: %w", err)
	}
	out := []*storage.OutboxMessage{}
	if n <= 0 {
		return out, nil
	}
	err := s.WithTx(ctx, func(tx storage.Store) error {
		ts := tx.(*Store)
		now, token := ts.clock(), storage.NewLeaseToken()
		rows, err := ts.db.Query(ctx, `UPDATE outbox SET status = 'sending', lease_owner = $1, lease_until = $2,
				attempts = attempts + 1, updated_at = $3, lease_token = $5
			WHERE id IN (SELECT id FROM outbox WHERE `+mailDue("$3")+`
				ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
			RETURNING `+mailColumns,
			owner, storage.Truncate(now.Add(lease)), now, n, token.String())
		if err != nil {
			return wrap("lease mail", err)
		}
		var (
			leased []*storage.OutboxMessage
			sealed [][]byte
		)
		for rows.Next() {
			m, p, err := scanMailRow(rows)
			if err != nil {
				rows.Close()
				return wrap("lease mail", err)
			}
			m.LeaseToken = token
			leased, sealed = append(leased, m), append(sealed, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return wrap("lease mail", err)
		}
		out = out[:0]
		for i, m := range leased {
			switch err := ts.sealer.OpenMailPayload(m, sealed[i]); {
			case errors.Is(err, storage.ErrUnreadable):
				if err := ts.markUnreadable(ctx, m.ID); err != nil {
					return err
				}
			case err != nil:
				return wrap("lease mail", err)
			default:
				out = append(out, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *storage.OutboxMessage) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out, nil
}

// LeaseMailByID leases one message if it is leasable; otherwise it returns
// ErrNotFound (gone) or ErrConflict (not leasable now, or being leased). A
// message whose payload does not open is marked dead
// (storage.DiagnosisPayloadUnreadable) and reported as ErrUnreadable.
func (s *Store) LeaseMailByID(ctx context.Context, id uuid.UUID, owner string, lease time.Duration) (*storage.OutboxMessage, error) {
	if err := storage.CheckLease(owner, lease); err != nil {
		return nil, fmt.Errorf("postgres: lease mail %s: %w", id, err)
	}
	now, token := s.clock(), storage.NewLeaseToken()
	m, sealed, err := scanMailRow(s.db.QueryRow(ctx, `UPDATE outbox SET status = 'sending', lease_owner = $2, lease_until = $3,
			attempts = attempts + 1, updated_at = $4, lease_token = $5
		WHERE id = (SELECT id FROM outbox WHERE id = $1 AND `+mailDue("$4")+` FOR UPDATE SKIP LOCKED)
		RETURNING `+mailColumns,
		id, owner, storage.Truncate(now.Add(lease)), now, token.String()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, s.notLeasable(ctx, "lease mail", id)
	}
	if err != nil {
		return nil, wrap("lease mail", err)
	}
	if err := s.sealer.OpenMailPayload(m, sealed); err != nil {
		// If marking fails, the lease runs out and the next lease tries again.
		if merr := s.markUnreadable(ctx, id); merr != nil {
			return nil, errors.Join(fmt.Errorf("postgres: lease mail %s: %w", id, err), merr)
		}
		return nil, fmt.Errorf("postgres: lease mail %s: marked dead: %w", id, err)
	}
	m.LeaseToken = token
	return m, nil
}

// notLeasable explains why a message could not be leased or marked:
// ErrNotFound when it is gone, else ErrConflict.
func (s *Store) notLeasable(ctx context.Context, op string, id uuid.UUID) error {
	var exists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE id = $1)`, id).Scan(&exists); err != nil {
		return wrap(op, err)
	}
	if !exists {
		return fmt.Errorf("postgres: %s %s: %w", op, id, storage.ErrNotFound)
	}
	return fmt.Errorf("postgres: %s %s: not leasable now: %w", op, id, storage.ErrConflict)
}

// MarkMailSent records a delivery and clears the payload, which may hold
// credentials; the kind, recipient and subject stay for the mail log.
func (s *Store) MarkMailSent(ctx context.Context, id uuid.UUID, token storage.LeaseToken) error {
	return s.settle(ctx, "mark mail sent", `status = 'sent', sent_at = $3, updated_at = $3, payload = ''::bytea`,
		id, token, s.clock())
}

// MarkMailDeferred records a transient failure and when to try again.
func (s *Store) MarkMailDeferred(ctx context.Context, id uuid.UUID, token storage.LeaseToken, next time.Time, lastErr, diagnosis string) error {
	return s.settle(ctx, "mark mail deferred", `status = 'deferred', next_attempt_at = $4, last_error = $5,
		diagnosis = $6, updated_at = $3`, id, token, s.clock(), storage.Truncate(next), lastErr, diagnosis)
}

// PostponeMail defers the message without counting the try as an attempt.
func (s *Store) PostponeMail(ctx context.Context, id uuid.UUID, token storage.LeaseToken, next time.Time, lastErr, diagnosis string) error {
	return s.settle(ctx, "postpone mail", `status = 'deferred', next_attempt_at = $4, last_error = $5,
		diagnosis = $6, updated_at = $3, attempts = greatest(attempts - 1, 0)`, id, token, s.clock(), storage.Truncate(next), lastErr, diagnosis)
}

// MarkMailDead records a permanent failure.
func (s *Store) MarkMailDead(ctx context.Context, id uuid.UUID, token storage.LeaseToken, lastErr, diagnosis string) error {
	return s.settle(ctx, "mark mail dead", `status = 'dead', last_error = $4, diagnosis = $5, updated_at = $3`,
		id, token, s.clock(), lastErr, diagnosis)
}

// ReleaseMail gives a leased message back unattempted: queued, due now,
// Attempts decremented.
func (s *Store) ReleaseMail(ctx context.Context, id uuid.UUID, token storage.LeaseToken) error {
	return s.settle(ctx, "release mail", `status = 'queued', next_attempt_at = $3, updated_at = $3,
		attempts = greatest(attempts - 1, 0)`, id, token, s.clock())
}

// settle ends the lease token holds on message id ($1 id, $2 token, $3 now,
// then args) with set. It returns ErrLeaseLost when that lease is not the
// message's current one, ErrNotFound when the message is gone.
func (s *Store) settle(ctx context.Context, op, set string, id uuid.UUID, token storage.LeaseToken, now time.Time, args ...any) error {
	args = append([]any{id, token.String(), now}, args...)
	tag, err := s.db.Exec(ctx, `UPDATE outbox SET `+set+`, lease_owner = '', lease_until = NULL, lease_token = NULL
		WHERE id = $1 AND status = 'sending' AND lease_token = $2`, args...)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var exists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE id = $1)`, id).Scan(&exists); err != nil {
		return wrap(op, err)
	}
	if !exists {
		return fmt.Errorf("postgres: %s %s: %w", op, id, storage.ErrNotFound)
	}
	return fmt.Errorf("postgres: %s %s: not under this lease any more (it ran out and the message was leased again, or it was settled): %w",
		op, id, storage.ErrLeaseLost)
}

// GetMail returns the message with id, or ErrNotFound.
func (s *Store) GetMail(ctx context.Context, id uuid.UUID) (*storage.OutboxMessage, error) {
	m, err := s.scanMail(s.db.QueryRow(ctx, `SELECT `+mailColumns+` FROM outbox WHERE id = $1`, id))
	return m, wrap("get mail", err)
}

// ListMail lists one page of the messages matching f, newest first, without
// their payloads. The status and kind filters walk their (x, created_at, id)
// indexes (010), the search outbox_search_trgm_idx, the rest
// outbox_created_at_id_idx.
func (s *Store) ListMail(ctx context.Context, f storage.MailFilter) ([]*storage.OutboxMessage, error) {
	sql, args, err := listMailSQL(f)
	if err != nil {
		return nil, wrap("list mail", err)
	}
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap("list mail", err)
	}
	defer rows.Close()
	out := []*storage.OutboxMessage{}
	for rows.Next() {
		m, err := s.scanMail(rows)
		if err != nil {
			return nil, wrap("list mail", err)
		}
		out = append(out, m)
	}
	return out, wrap("list mail", rows.Err())
}

// mailSearchText is the expression outbox_search_trgm_idx indexes.
const mailSearchText = `(lower(recipient) || E'\x1f' || lower(subject))`

// listMailSQL is ListMail's statement and arguments for f.
func listMailSQL(f storage.MailFilter) (string, []any, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.Status) > 0 {
		st := make([]string, len(f.Status))
		for i, v := range f.Status {
			st[i] = string(v)
		}
		where = append(where, "status = ANY("+arg(st)+")")
	}
	if f.Kind != "" {
		where = append(where, "kind = "+arg(f.Kind))
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		// A LIKE on the indexed expression (the separator cannot be typed
		// into a query of one line), then the exact check per field.
		q = strings.ToLower(strings.Map(func(r rune) rune {
			if r == 0x1f {
				return ' '
			}
			return r
		}, q))
		like := "%" + storage.EscapeLike(q) + "%"
		where = append(where, mailSearchText+" LIKE "+arg(like))
		p := arg(q)
		where = append(where, "(strpos(lower(recipient), "+p+") > 0 OR strpos(lower(subject), "+p+") > 0)")
	}
	if !f.CreatedFrom.IsZero() {
		where = append(where, "created_at >= "+arg(storage.Truncate(f.CreatedFrom)))
	}
	if !f.CreatedBefore.IsZero() {
		where = append(where, "created_at < "+arg(storage.Truncate(f.CreatedBefore)))
	}
	if f.After != "" {
		c, err := storage.DecodeCursor(f.After)
		if err != nil {
			return "", nil, err
		}
		where = append(where, "(created_at, id) < ("+arg(c.CreatedAt)+", "+arg(c.ID)+")")
	}
	sql := `SELECT ` + mailListColumns + ` FROM outbox`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY created_at DESC, id DESC LIMIT " + arg(storage.PageLimit(f.Limit))
	return sql, args, nil
}

// RetryDeadMail puts the dead message id back in the queue, due now, with
// its attempts reset.
func (s *Store) RetryDeadMail(ctx context.Context, id uuid.UUID) error {
	tag, err := s.db.Exec(ctx, `UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = $2, updated_at = $2,
		last_error = '', diagnosis = '' WHERE id = $1 AND status = 'dead' AND length(payload) > 0`, id, s.clock())
	if err != nil {
		return wrap("retry dead mail", err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var exists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE id = $1)`, id).Scan(&exists); err != nil {
		return wrap("retry dead mail", err)
	}
	if !exists {
		return fmt.Errorf("postgres: retry dead mail %s: %w", id, storage.ErrNotFound)
	}
	return fmt.Errorf("postgres: retry dead mail %s: not a dead letter with a payload to send: %w", id, storage.ErrConflict)
}

// DeadMail counts the dead messages and gives when the last one died
// (outbox_dead_idx).
func (s *Store) DeadMail(ctx context.Context) (int, time.Time, error) {
	var (
		n    int
		last pgtype.Timestamptz
	)
	err := s.db.QueryRow(ctx, `SELECT count(*), max(updated_at) FROM outbox WHERE status = 'dead'`).Scan(&n, &last)
	return n, tsOut(last), wrap("count dead mail", err)
}

// CountMail counts messages by status; a status with no message is absent.
func (s *Store) CountMail(ctx context.Context) (map[storage.MailStatus]int, error) {
	counts := map[storage.MailStatus]int{}
	rows, err := s.db.Query(ctx, `SELECT status, count(*) FROM outbox GROUP BY status`)
	if err != nil {
		return nil, wrap("count mail", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			status string
			n      int
		)
		if err := rows.Scan(&status, &n); err != nil {
			return nil, wrap("count mail", err)
		}
		counts[storage.MailStatus(status)] = n
	}
	return counts, wrap("count mail", rows.Err())
}
