package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lobbyhq/lobby/storage"
)

// The recent walks: how many guests, in list order, a search looks through
// before it turns to the trigram index (see recentWalkFor).
const (
	// recentWalkAll is the walk through the whole list: its newest guests
	// lie together, and so do, within weeks, those whose validity ends
	// soonest, so that 20,000 of them are a few thousand pages read in
	// order (about 10 ms). A query that one guest in 300 matches (a company
	// name) fills a page of 50 there; one that does not is rarer than one
	// in 400, which at a million guests is at most 2,500 matches for the
	// trigram index to fetch, each from a page of its own. Those fetches
	// are what made a common word slow after a walk of 5,000: up to 10,000
	// of them.
	recentWalkAll = 20000
	// recentWalkScoped is the walk through a sponsor's guests or those of a
	// status, which lie one to a page: a query that one of them in twenty
	// matches fills a page of 50 there. A rarer one is cheaper through the
	// trigram index, which Postgres intersects with the sponsor or status
	// index (a BitmapAnd) before it reads a row: at a million guests, the
	// busy sponsor's active guests with a surname took 79 ms to walk 5,000
	// (5,000 pages read) and 20 ms through the indexes.
	recentWalkScoped = 1000
)

// recentWalkFor is how many guests, in list order, a search with f looks
// through before it turns to the trigram index.
func recentWalkFor(f storage.GuestFilter) int {
	if f.SponsorID != uuid.Nil || len(f.Status) > 0 || !f.ValidUntilBefore.IsZero() || f.ExpiryNotNotified || f.PersonVisited != "" {
		return recentWalkScoped
	}
	return recentWalkAll
}

// searchQuery is the SELECT of a guest list for the parsed query sr among
// the guests of statuses (all when empty) under the other conditions where,
// in order by, limit+1 rows at most, with its arguments added by arg.
//
// A whole email address is looked up by the unique email and username
// indexes. Otherwise the query is a LIKE on search_key: with recent, among
// the first walk guests of the list (a page that fills there is the
// right one: those are the list's first matches); without, among the
// guests the trigram index (guests_search_key_trgm_idx) finds, which
// serves substrings of three characters or more and, through the separator
// before every field, the start of a field. The matches are gathered first
// (a MATERIALIZED CTE) and sorted after, so that the planner cannot trade
// the index for a walk of the whole list in order looking for rare ones.
//
// A list without a search, and the first guests a search looks through,
// walk an index in list order (inOrder).
func searchQuery(sr storage.Search, recent bool, walk int, statuses []storage.GuestStatus, where []string, by string, limit int, arg func(any) string) string {
	cond := func(where []string) string {
		if len(where) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(where, " AND ")
	}
	statuses = uniqueStatuses(statuses)
	if sr.Kind == storage.SearchNone {
		if len(statuses) < 2 {
			for _, st := range statuses {
				where = append(where, "status = "+arg(string(st)))
			}
			return `SELECT ` + guestListColumns + ` FROM guests` + cond(where) + ` ORDER BY ` + by + ` LIMIT ` + arg(limit+1)
		}
		return `SELECT ` + guestListColumns + ` FROM ` + inOrder(statuses, where, by, limit+1, arg) +
			` ORDER BY ` + by + ` LIMIT ` + arg(limit+1)
	}
	if recent && sr.Kind != storage.SearchEmail {
		like := "search_key LIKE " + arg("%"+storage.EscapeLike(sr.Text)+"%")
		return `SELECT ` + guestListColumns + ` FROM ` + inOrder(statuses, where, by, walk, arg) +
			` WHERE ` + like + ` ORDER BY ` + by + ` LIMIT ` + arg(limit+1)
	}
	if len(statuses) > 0 {
		st := make([]string, len(statuses))
		for i, v := range statuses {
			st[i] = string(v)
		}
		where = append(where, "status = ANY("+arg(st)+")")
	}
	if sr.Kind == storage.SearchEmail {
		p := arg(sr.Text)
		where = append(where, "(email = "+p+" OR username_key = "+p+")")
		return `SELECT ` + guestListColumns + ` FROM guests` + cond(where) + ` ORDER BY ` + by + ` LIMIT ` + arg(limit+1)
	}
	like := "search_key LIKE " + arg("%"+storage.EscapeLike(sr.Text)+"%")
	return `WITH hits AS MATERIALIZED (SELECT * FROM guests` + cond(append(where, like)) + `)
		SELECT ` + guestListColumns + ` FROM hits AS guests ORDER BY ` + by + ` LIMIT ` + arg(limit+1)
}

// inOrder is a FROM item named guests: the first n guests of the list (in
// order by) among those of statuses (all when empty) that meet where. One
// status is an equality, which the status indexes of 009_sponsor_list walk
// in list order; several are one such walk each, merged (a Merge Append of
// n rows at most from each), where status = ANY would have the planner
// either walk the whole list skipping the other statuses or fetch every
// guest of those statuses and sort them.
func inOrder(statuses []storage.GuestStatus, where []string, by string, n int, arg func(any) string) string {
	walk := func(where []string) string {
		q := `SELECT * FROM guests`
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		return q + ` ORDER BY ` + by + ` LIMIT ` + arg(n)
	}
	switch len(statuses) {
	case 0:
		return `(` + walk(where) + `) AS guests`
	case 1:
		return `(` + walk(append(slices.Clip(where), "status = "+arg(string(statuses[0])))) + `) AS guests`
	}
	arms := make([]string, len(statuses))
	for i, st := range statuses {
		arms[i] = `(` + walk(append(slices.Clip(where), "status = "+arg(string(st)))) + `)`
	}
	return `(SELECT * FROM (` + strings.Join(arms, " UNION ALL ") + `) AS arms ORDER BY ` + by + ` LIMIT ` + arg(n) + `) AS guests`
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

// fillSearchKeys sets search_key (storage.SearchKey) on every guest, for
// 006_guest_search, in batches in the migration's transaction.
func fillSearchKeys(ctx context.Context, tx pgx.Tx) error {
	const batch = 5000
	var after uuid.UUID // the nil UUID sorts first
	for {
		rows, err := tx.Query(ctx, `SELECT id, username, email, first_name, last_name, company, phone
			FROM guests WHERE id > $1 ORDER BY id LIMIT $2`, after, batch)
		if err != nil {
			return fmt.Errorf("fill search keys: %w", err)
		}
		var (
			ids  []uuid.UUID
			keys []string
		)
		for rows.Next() {
			var g storage.Guest
			if err := rows.Scan(&g.ID, &g.Username, &g.Email, &g.FirstName, &g.LastName, &g.Company, &g.Phone); err != nil {
				rows.Close()
				return fmt.Errorf("fill search keys: %w", err)
			}
			ids, keys = append(ids, g.ID), append(keys, storage.SearchKey(&g))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("fill search keys: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE guests AS g SET search_key = v.key
			FROM unnest($1::uuid[], $2::text[]) AS v(id, key) WHERE g.id = v.id`, ids, keys); err != nil {
			return fmt.Errorf("fill search keys: %w", err)
		}
		after = ids[len(ids)-1]
	}
}

// guestOrder is the ORDER BY of a guest list and the condition that starts
// it after the filter's cursor ("" on the first page).
type guestOrder struct {
	by, after string
}

// listOrder is f's order, the condition for its cursor (arguments added by
// arg) and the function that makes the next page's cursor from the last
// guest of a page.
func listOrder(f storage.GuestFilter, arg func(any) string) (guestOrder, func(*storage.Guest) string, error) {
	switch f.Sort {
	case storage.SortNewest:
		o := guestOrder{by: "created_at DESC, id DESC"}
		if f.After != "" {
			c, err := storage.DecodeCursor(f.After)
			if err != nil {
				return o, nil, err
			}
			o.after = "(created_at, id) < (" + arg(c.CreatedAt) + ", " + arg(c.ID) + ")"
		}
		return o, func(g *storage.Guest) string {
			return storage.EncodeCursor(storage.Cursor{CreatedAt: g.CreatedAt, ID: g.ID})
		}, nil
	case storage.SortExpiry:
		// guests_expiry_order_idx: no end is the end of time.
		const until = "coalesce(valid_until, 'infinity'::timestamptz)"
		o := guestOrder{by: until + ", id"}
		if f.After != "" {
			c, err := storage.DecodeExpiryCursor(f.After)
			if err != nil {
				return o, nil, err
			}
			v := pgtype.Timestamptz{Time: c.ValidUntil, Valid: true}
			if c.ValidUntil.IsZero() {
				v = pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
			}
			o.after = "(" + until + ", id) > (" + arg(v) + ", " + arg(c.ID) + ")"
		}
		return o, func(g *storage.Guest) string {
			return storage.EncodeExpiryCursor(storage.ExpiryCursor{ValidUntil: g.ValidUntil, ID: g.ID})
		}, nil
	}
	return guestOrder{}, nil, fmt.Errorf("unknown sort order %d", f.Sort)
}
