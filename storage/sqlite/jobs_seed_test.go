package sqlite

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Seeding for the job plan tests and benchmarks: a realistic spread of
// guests and mail, with nothing due at now (every job, PurgeAfter 90 days,
// a 24-hour notice) and a few per cent of each job's guests due two days
// later:
//
//   - 60 % expired, their end in the last 1 to 89 days;
//   - 30 % active and 2 % suspended, ending in the next hour to 30 days; the
//     active ones ending within a day are told already, or (every other
//     one) valid for less than the notice;
//   - 3 % pending, 5 % denied in the last 1 to 89 days;
//   - mail: 96 % sent, 2 % dead, 2 % queued, last changed in the last 88 days.
//
// Created and updated at their validity's start (denied: at the denial).
// One INSERT ... SELECT per table, in one transaction each.

const (
	usDay  = int64(24 * time.Hour / time.Microsecond)
	usHour = int64(time.Hour / time.Microsecond)
)

// seedGuestsSQL takes ?1 now (unix microseconds) and ?2 how many; DAY and
// HOUR stand for those in microseconds.
const seedGuestsSQL = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2),
s AS MATERIALIZED (
	SELECT i, (abs(random()) % 1000000) / 1000000.0 AS r,
		CASE WHEN i % 100 < 60 THEN 'expired' WHEN i % 100 < 90 THEN 'active' WHEN i % 100 < 92 THEN 'suspended'
			WHEN i % 100 < 95 THEN 'pending' ELSE 'denied' END AS st
	FROM n
),
t AS (
	SELECT i, st, r, CASE WHEN st = 'expired' THEN ?1 - DAY - CAST(r * 88 * DAY AS INTEGER)
		ELSE ?1 + HOUR + CAST(r * 30 * DAY AS INTEGER) END AS vu
	FROM s
),
u AS (
	SELECT i, st, r, vu,
		CASE WHEN st = 'active' AND vu < ?1 + DAY AND i % 2 = 1 THEN vu - 12 * HOUR ELSE vu - 31 * DAY END AS vf,
		CASE WHEN st = 'active' AND vu < ?1 + DAY AND i % 2 = 0 THEN ?1 - HOUR END AS told
	FROM t
)
INSERT INTO guests (id, username, username_key, email, status, valid_from, valid_until, expiry_notified_at, created_at, updated_at)
SELECT printf('%08x-%04x-4%03x-8%03x-%012x', abs(random()) % 4294967296, abs(random()) % 65536, abs(random()) % 4096, abs(random()) % 4096, i),
	'g' || i, 'g' || i, 'g' || i || '@example.com', st, vf, vu, told, vf,
	CASE WHEN st = 'denied' THEN ?1 - DAY - CAST(r * 88 * DAY AS INTEGER) ELSE vf END
FROM u`

// seedMailSQL takes ?1 now and ?2 how many.
const seedMailSQL = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2),
s AS MATERIALIZED (SELECT i, ?1 - 60000000 - abs(random()) % (88 * DAY) AS ts FROM n)
INSERT INTO outbox (id, kind, recipient, subject, payload, status, next_attempt_at, created_at, updated_at)
SELECT printf('%08x-%04x-4%03x-8%03x-%012x', abs(random()) % 4294967296, abs(random()) % 65536, abs(random()) % 4096, abs(random()) % 4096, i),
	'guest.credentials', 'g' || i || '@example.com', 'Your credentials', x'',
	CASE WHEN i % 50 = 0 THEN 'dead' WHEN i % 50 = 1 THEN 'queued' ELSE 'sent' END, ts, ts, ts
FROM s`

// seedJobs fills the store's database with guests and mail as above. The
// tables' secondary indexes are dropped for the load and built again after
// it (sorting once beats a million random inserts into each), with a large
// page cache on the writer meanwhile.
func seedJobs(ctx context.Context, s *Store, now time.Time, guests, mail int) error {
	rows, err := s.w.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema
		WHERE type = 'index' AND tbl_name IN ('guests', 'outbox') AND sql IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	var names, creates []string
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			rows.Close()
			return fmt.Errorf("seed: %w", err)
		}
		names, creates = append(names, name), append(creates, create)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, "PRAGMA cache_size = -262144"); err != nil { // 256 MiB
		return fmt.Errorf("seed: %w", err)
	}
	defer s.w.ExecContext(ctx, "PRAGMA cache_size = -2000") //nolint:errcheck // the default again
	for _, name := range names {
		if _, err := s.w.ExecContext(ctx, "DROP INDEX "+name); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	for _, q := range []struct {
		sql string
		n   int
	}{{seedGuestsSQL, guests}, {seedMailSQL, mail}} {
		q.sql = strings.NewReplacer("DAY", strconv.FormatInt(usDay, 10), "HOUR", strconv.FormatInt(usHour, 10)).Replace(q.sql)
		if _, err := s.w.ExecContext(ctx, q.sql, micros(now), q.n); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	for _, create := range creates {
		if _, err := s.w.ExecContext(ctx, create); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}
