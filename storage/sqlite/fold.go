package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lobbyhq/lobby/storage"
)

// afterMigration runs, in the migration's transaction, the part of
// migration version that SQL cannot do.
func afterMigration(ctx context.Context, tx *sql.Tx, version int) error {
	switch version {
	case 3: // 003_fold_keys
		return refoldKeys(ctx, tx)
	case 6: // 006_guest_search
		return fillSearchKeys(ctx, tx)
	}
	return nil
}

// refoldKeys sets every folded key that SQLite's lower() (ASCII only) got
// wrong to storage.FoldKey, in two passes (first to a placeholder unique to
// the row) so that no intermediate state collides.
func refoldKeys(ctx context.Context, tx *sql.Tx) error {
	// The unique columns kept as storage.FoldKey folds them.
	for _, c := range []struct{ what, table, value, key string }{
		{"guests.username", "guests", "username", "username_key"},
		{"guests.email", "guests", "email", "email"},
		{"staff.username", "staff", "username", "username_key"},
	} {
		all, err := foldRows(ctx, tx, "SELECT id, "+c.value+", "+c.key+" FROM "+c.table)
		if err != nil {
			return fmt.Errorf("refold %s: %w", c.what, err)
		}
		changed, err := storage.PlanFold(c.what, all)
		if err != nil {
			return err
		}
		for _, pass := range []string{"char(1) || id", "?"} {
			for _, f := range changed {
				args := []any{f.ID}
				if pass == "?" {
					args = []any{f.Key, f.ID}
				}
				if _, err := tx.ExecContext(ctx, "UPDATE "+c.table+" SET "+c.key+" = "+pass+" WHERE id = ?", args...); err != nil {
					return fmt.Errorf("refold %s: %w", c.what, err)
				}
			}
		}
	}
	return nil
}

func foldRows(ctx context.Context, tx *sql.Tx, query string) ([]storage.FoldRow, error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []storage.FoldRow
	for rows.Next() {
		var f storage.FoldRow
		if err := rows.Scan(&f.ID, &f.Value, &f.Key); err != nil {
			return nil, err
		}
		all = append(all, f)
	}
	return all, rows.Err()
}
