package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// searchFrom is the FROM clause of a guest list, which joins the full-text
// index when there is a query. The CROSS JOIN makes SQLite start from the
// index's hits (it cannot tell how many a phrase has, and a walk of every
// guest in list order would be the scan the index is there to avoid), and
// NOT INDEXED makes it look each hit up by rowid, not through the status or
// sponsor index.
func searchFrom(sr storage.Search) string {
	if sr.Kind == storage.SearchSubstring || sr.Kind == storage.SearchPrefix {
		return "guest_search CROSS JOIN guests NOT INDEXED ON guests.rowid = guest_search.rowid"
	}
	return "guests"
}

// searchCondition is the WHERE condition for a parsed GuestFilter.Query
// and its arguments; "" for an empty query. A whole email address is looked
// up by the unique email and username indexes; anything else goes to the
// FTS5 trigram index guest_search (trigramQuery): a substring of three
// characters or more, or, through the separator before every field, the
// start of a field. Every hit is checked against guests.search_key, which
// both confirms the order of the trigrams and keeps a renumbered rowid
// (VACUUM) from bringing in a guest that does not match.
func searchCondition(sr storage.Search) (string, []any) {
	switch sr.Kind {
	case storage.SearchEmail:
		return "((guests.email = ? AND guests.email <> '') OR guests.username_key = ?)", []any{sr.Text, sr.Text}
	case storage.SearchSubstring, storage.SearchPrefix:
		return "guest_search MATCH ? AND instr(guests.search_key, ?) > 0", []any{trigramQuery(sr.Text), sr.Text}
	}
	return "", nil
}

// The recent walks: how many guests, in list order, a search looks through
// before it turns to the full-text index (see recentWalkFor).
const (
	// recentWalkAll is the walk through the whole list, whose newest
	// guests lie together (and those whose validity ends soonest, within
	// weeks): a query that one guest in 300 matches (a company name) fills
	// a page of 50 there, and one that does not is rarer than one in 400,
	// at most 2,500 hits in a million for the index to look up and sort.
	// After a walk of 5,000 that was up to 10,000.
	recentWalkAll = 20000
	// recentWalkScoped is the walk through a sponsor's guests or those of a
	// status, which lie apart: a query that one of them in a hundred
	// matches fills a page of 50 there.
	recentWalkScoped = 5000
)

// recentWalkFor is how many guests, in list order, a search with f looks
// through before it turns to the full-text index.
func recentWalkFor(f storage.GuestFilter) int {
	if f.SponsorID != uuid.Nil || len(f.Status) > 0 || !f.ValidUntilBefore.IsZero() || f.ExpiryNotNotified || f.PersonVisited != "" {
		return recentWalkScoped
	}
	return recentWalkAll
}

// listQuery is the SELECT of a guest list for the parsed query sr among the
// guests of statuses (all when empty) under the other conditions where
// (with args), in order by, limit+1 rows at most, and its arguments: with
// recent, a search among the list's first walk guests
// (recentSearchQuery); otherwise through the search index, or, without a
// search, a walk of an index in list order (inOrder).
func listQuery(sr storage.Search, recent bool, walk int, statuses []storage.GuestStatus, where []string, args []any, by string, limit int) (string, []any) {
	statuses = uniqueStatuses(statuses)
	if recent {
		return recentSearchQuery(sr, walk, statuses, where, args, by, limit)
	}
	if sr.Kind == storage.SearchNone {
		where, args = inOrder(statuses, where, args, by, limit+1)
	} else if len(statuses) > 0 {
		// The search's hits are few enough to check each one's status.
		where = append(where, "guests.status IN ("+placeholders(len(statuses))+")")
		for _, st := range statuses {
			args = append(args, string(st))
		}
	}
	if cond, a := searchCondition(sr); cond != "" {
		where = append(where, cond)
		args = append(args, a...)
	}
	query := `SELECT ` + guestListCols + ` FROM ` + searchFrom(sr)
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	return query + " ORDER BY " + by + " LIMIT ?", append(args, limit+1)
}

// inOrder is where and args with the conditions that keep the guests of
// statuses (all when empty) among the first n of the list: one status is an
// equality, which the status indexes of 009_sponsor_list walk in list order;
// several are one such walk of n guests at most each, whose rowids the
// list then sorts (at most n for each status), where status IN would have
// SQLite either walk the whole list skipping the other statuses or sort
// every guest of those statuses.
func inOrder(statuses []storage.GuestStatus, where []string, args []any, by string, n int) ([]string, []any) {
	switch len(statuses) {
	case 0:
		return where, args
	case 1:
		return append(slices.Clip(where), "guests.status = ?"), append(slices.Clip(args), string(statuses[0]))
	}
	arms := make([]string, len(statuses))
	var armArgs []any
	for i, st := range statuses {
		arms[i] = `SELECT rid FROM (SELECT guests.rowid AS rid FROM guests WHERE ` +
			strings.Join(append(slices.Clip(where), "guests.status = ?"), " AND ") + ` ORDER BY ` + by + ` LIMIT ?)`
		armArgs = append(append(armArgs, args...), string(st), n)
	}
	return []string{"guests.rowid IN (" + strings.Join(arms, " UNION ALL ") + ")"}, armArgs
}

// uniqueStatuses is statuses without repeats, in their first order.
func uniqueStatuses(statuses []storage.GuestStatus) []storage.GuestStatus {
	var out []storage.GuestStatus
	for _, st := range statuses {
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out
}

// recentSearchQuery is the query that looks for sr's matches among the
// first walk guests of the list (of statuses, under the conditions
// where, with args, in order by), limit+1 of them at most. Its page is the
// right one only if it is full: then the guests it holds are the list's
// first matches.
func recentSearchQuery(sr storage.Search, walk int, statuses []storage.GuestStatus, where []string, args []any, by string, limit int) (string, []any) {
	where, args = inOrder(statuses, where, args, by, walk)
	inner := `SELECT guests.rowid AS rid, guests.search_key AS search_key FROM guests`
	if len(where) > 0 {
		inner += " WHERE " + strings.Join(where, " AND ")
	}
	inner += " ORDER BY " + by + " LIMIT ?"
	args = append(args, walk, sr.Text, limit+1)
	return `SELECT ` + guestListCols + ` FROM (` + inner + `) AS recent CROSS JOIN guests NOT INDEXED ON guests.rowid = recent.rid
		WHERE instr(recent.search_key, ?) > 0 ORDER BY ` + by + ` LIMIT ?`, args
}

// noEnd stands for a guest without valid_until in the expiry order
// (guests_expiry_order_idx): after every time.
const noEnd = math.MaxInt64

// listOrder is f's ORDER BY, the condition and arguments that start it
// after the filter's cursor ("" on the first page), and the function that
// makes the next page's cursor from the last guest of a page.
func listOrder(f storage.GuestFilter) (by, after string, args []any, next func(*storage.Guest) string, err error) {
	switch f.Sort {
	case storage.SortNewest:
		by = "guests.created_at DESC, guests.id DESC"
		if f.After != "" {
			c, err := storage.DecodeCursor(f.After)
			if err != nil {
				return "", "", nil, nil, err
			}
			// The first bound is the range of the index walk (SQLite
			// does not take one from the OR): without it a page deep
			// down a list walked every guest before it.
			after = "guests.created_at <= ? AND (guests.created_at < ? OR (guests.created_at = ? AND guests.id < ?))"
			args = []any{micros(c.CreatedAt), micros(c.CreatedAt), micros(c.CreatedAt), c.ID.String()}
		}
		return by, after, args, func(g *storage.Guest) string {
			return storage.EncodeCursor(storage.Cursor{CreatedAt: g.CreatedAt, ID: g.ID})
		}, nil
	case storage.SortExpiry:
		const until = "coalesce(guests.valid_until, 9223372036854775807)"
		by = until + ", guests.id"
		if f.After != "" {
			c, err := storage.DecodeExpiryCursor(f.After)
			if err != nil {
				return "", "", nil, nil, err
			}
			v := int64(noEnd)
			if !c.ValidUntil.IsZero() {
				v = micros(c.ValidUntil)
			}
			after = until + " >= ? AND (" + until + " > ? OR (" + until + " = ? AND guests.id > ?))" // the range, as above
			args = []any{v, v, v, c.ID.String()}
		}
		return by, after, args, func(g *storage.Guest) string {
			return storage.EncodeExpiryCursor(storage.ExpiryCursor{ValidUntil: g.ValidUntil, ID: g.ID})
		}, nil
	}
	return "", "", nil, nil, fmt.Errorf("unknown sort order %d", f.Sort)
}

// fillSearchKeys sets search_key (storage.SearchKey) on every guest, for
// 006_guest_search, in the migration's transaction, and then indexes them
// all at once: the update trigger, which would flush the index to disk
// after every row, is off meanwhile.
func fillSearchKeys(ctx context.Context, tx *sql.Tx) error {
	return bulkSearchKeys(ctx, tx, "guests_search_update", func() error {
		const batch = 5000
		after := int64(math.MinInt64)
		for {
			rows, err := tx.QueryContext(ctx, `SELECT rowid, username, email, first_name, last_name, company, phone
				FROM guests WHERE rowid > ? ORDER BY rowid LIMIT ?`, after, batch)
			if err != nil {
				return fmt.Errorf("fill search keys: %w", err)
			}
			type row struct {
				rowid int64
				key   string
			}
			var todo []row
			for rows.Next() {
				var (
					r row
					g storage.Guest
				)
				if err := rows.Scan(&r.rowid, &g.Username, &g.Email, &g.FirstName, &g.LastName, &g.Company, &g.Phone); err != nil {
					rows.Close()
					return fmt.Errorf("fill search keys: %w", err)
				}
				r.key = storage.SearchKey(&g)
				todo = append(todo, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("fill search keys: %w", err)
			}
			if len(todo) == 0 {
				return nil
			}
			for _, r := range todo {
				if _, err := tx.ExecContext(ctx, "UPDATE guests SET search_key = ? WHERE rowid = ?", r.key, r.rowid); err != nil {
					return fmt.Errorf("fill search keys: %w", err)
				}
			}
			after = todo[len(todo)-1].rowid
		}
	})
}

// bulkSearchKeys runs fill, which writes many guests' search keys, with the
// trigger that would index each one dropped, and then rebuilds the index
// from guests and puts the trigger back as it was, all in tx.
func bulkSearchKeys(ctx context.Context, tx *sql.Tx, trigger string, fill func() error) error {
	var ddl string
	if err := tx.QueryRowContext(ctx, "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = ?", trigger).Scan(&ddl); err != nil {
		return fmt.Errorf("read trigger %s: %w", trigger, err)
	}
	if _, err := tx.ExecContext(ctx, "DROP TRIGGER "+trigger); err != nil {
		return fmt.Errorf("drop trigger %s: %w", trigger, err)
	}
	if err := fill(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO guest_search (guest_search) VALUES ('rebuild')"); err != nil {
		return fmt.Errorf("rebuild the search index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("restore trigger %s: %w", trigger, err)
	}
	return nil
}

// trigramQuery is the FTS5 query for text (three characters or more): the
// trigrams that cover it without overlap, and the last one, each quoted,
// joined by AND. The index then reads a third of the trigrams a phrase
// would, and no positions; instr on search_key checks the order.
func trigramQuery(text string) string {
	r := []rune(text)
	var terms []string
	add := func(i int) {
		terms = append(terms, `"`+strings.ReplaceAll(string(r[i:i+3]), `"`, `""`)+`"`)
	}
	for i := 0; i+3 <= len(r); i += 3 {
		add(i)
	}
	if len(r)%3 != 0 {
		add(len(r) - 3)
	}
	return strings.Join(terms, " AND ")
}
