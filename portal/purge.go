package portal

import (
	"context"
	"errors"
	"fmt"

	"github.com/lobbyhq/lobby/storage"
)

// purge deletes the guests whose registration ended more than PurgeAfter
// ago: expired ones by ValidUntil, denied ones by their last change (the
// denial). Each goes in its own transaction with an audit entry, and only
// if it is still as read (a renewal or a sponsor may have changed it
// meanwhile). It returns how many it deleted.
func (p *Portal) purge(ctx context.Context) (int, error) {
	keep := p.cfg.Policy.PurgeAfter
	if keep < 0 {
		return 0, nil
	}
	cutoff := p.now().Add(-keep)
	due := func(g *storage.Guest) bool {
		switch g.Status {
		case storage.GuestExpired:
			return g.ValidUntil.Before(cutoff)
		case storage.GuestDenied:
			return g.UpdatedAt.Before(cutoff)
		}
		return false
	}
	count := 0
	purgeOne := func(g *storage.Guest) error {
		if !due(g) {
			return nil
		}
		err := p.store.WithTx(ctx, func(tx storage.Store) error {
			cur, err := tx.GetGuest(ctx, g.ID)
			if err != nil {
				return err
			}
			if !due(cur) {
				return errSkip
			}
			// Claim the row as read (a renewal or a sponsor may change it
			// meanwhile: then ErrConflict, and the next run sees it anew).
			if _, err := tx.UpdateGuest(ctx, cur.ID, storage.GuestUpdate{IfStatus: &cur.Status, IfUpdatedAt: &cur.UpdatedAt}); err != nil {
				return err
			}
			if err := tx.DeleteGuest(ctx, cur.ID); err != nil {
				return err
			}
			return tx.Audit(ctx, storage.AuditEntry{Actor: "system", Action: "guest.purge", Subject: cur.ID.String(),
				Detail: fmt.Sprintf("%s, kept %s", cur.Status, keep)})
		})
		switch {
		case errors.Is(err, errSkip), errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrConflict):
			return nil
		case err != nil:
			return fmt.Errorf("guest %s: %w", g.ID, err)
		}
		count++
		return nil
	}
	err := p.eachGuest(ctx, storage.GuestFilter{Status: []storage.GuestStatus{storage.GuestExpired}, ValidUntilBefore: cutoff}, purgeOne)
	if err == nil {
		err = p.eachGuest(ctx, storage.GuestFilter{Status: []storage.GuestStatus{storage.GuestDenied}}, purgeOne)
	}
	return count, err
}

// purgeMail deletes sent and dead emails last changed more than PurgeAfter
// ago (the outbox keeps queued and retrying ones whatever their age).
func (p *Portal) purgeMail(ctx context.Context) (int, error) {
	keep := p.cfg.Policy.PurgeAfter
	if keep < 0 {
		return 0, nil
	}
	return p.store.PurgeMail(ctx, p.now().Add(-keep))
}
