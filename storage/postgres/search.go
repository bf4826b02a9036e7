package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lobbyhq/lobby/storage"
)

// searchCondition is the WHERE condition for GuestFilter.Query, with its
// arguments added by arg; "" for an empty query. A whole email address is
// looked up by the unique email and username indexes; anything else is a
// LIKE on search_key, which the trigram index (guests_search_key_trgm_idx)
// serves for substrings of three characters or more and, through the
// separator before every field, for the start of a field.
func searchCondition(q string, arg func(any) string) string {
	sr := storage.ParseSearch(q)
	switch sr.Kind {
	case storage.SearchNone:
		return ""
	case storage.SearchEmail:
		p := arg(sr.Text)
		return "(email = " + p + " OR username_key = " + p + ")"
	}
	return "search_key LIKE " + arg("%"+escapeLike(sr.Text)+"%")
}

// escapeLike makes s literal in a LIKE pattern (backslash is LIKE's
// default escape character).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
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
