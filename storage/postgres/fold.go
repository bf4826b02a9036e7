package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lobbyhq/lobby/storage"
)

// afterMigration runs, in the migration's transaction, the part of
// migration version that SQL cannot do.
func afterMigration(ctx context.Context, tx pgx.Tx, version int) error {
	switch version {
	case 3: // 003_fold_keys
		return refoldKeys(ctx, tx)
	case 6: // 006_guest_search
		return fillSearchKeys(ctx, tx)
	}
	return nil
}

// refoldKeys sets every folded key that SQL's lower() got wrong to
// storage.FoldKey, in two passes (first to a placeholder unique to the row)
// so that no intermediate state collides.
func refoldKeys(ctx context.Context, tx pgx.Tx) error {
	// The unique columns kept as storage.FoldKey folds them.
	for _, c := range []struct{ what, table, value, key string }{
		{"guests.username", "guests", "username", "username_key"},
		{"guests.email", "guests", "email", "email"},
		{"staff.username", "staff", "username", "username_key"},
	} {
		rows, err := tx.Query(ctx, `SELECT id::text, `+c.value+`, `+c.key+` FROM `+c.table)
		if err != nil {
			return fmt.Errorf("refold %s: %w", c.what, err)
		}
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.FoldRow, error) {
			var f storage.FoldRow
			err := r.Scan(&f.ID, &f.Value, &f.Key)
			return f, err
		})
		if err != nil {
			return fmt.Errorf("refold %s: %w", c.what, err)
		}
		changed, err := storage.PlanFold(c.what, all)
		if err != nil {
			return err
		}
		for _, pass := range []string{`chr(1) || id::text`, `$2`} {
			for _, f := range changed {
				args := []any{f.ID}
				if pass == `$2` {
					args = append(args, f.Key)
				}
				if _, err := tx.Exec(ctx, `UPDATE `+c.table+` SET `+c.key+` = `+pass+` WHERE id = $1::uuid`, args...); err != nil {
					return fmt.Errorf("refold %s: %w", c.what, err)
				}
			}
		}
	}
	return nil
}
