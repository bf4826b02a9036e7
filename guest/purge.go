package guest

import (
	"context"
	"fmt"

	"github.com/lobbyhq/lobby/storage"
)

// purge deletes the guests whose registration ended more than PurgeAfter
// ago: expired ones by ValidUntil, denied ones by their last change (the
// denial). They go in batches of storage.MaxPurgeBatch, each one statement
// that checks every row as it deletes it (a renewal or a sponsor may have
// changed a guest meanwhile: then it stays), in a transaction with an
// audit entry per guest. It returns how many it deleted.
func (s *Service) purge(ctx context.Context) (int, error) {
	keep := s.pol.PurgeAfter
	if keep < 0 {
		return 0, nil
	}
	cutoff := s.now().Add(-keep)
	count := 0
	for _, job := range []storage.GuestJob{storage.DuePurgeExpired, storage.DuePurgeDenied} {
		for {
			var gone []*storage.Guest
			err := s.store.WithTx(ctx, func(tx storage.Store) error {
				var err error
				if gone, err = tx.PurgeGuests(ctx, job, cutoff, storage.MaxPurgeBatch); err != nil {
					return err
				}
				for _, g := range gone {
					if err := tx.Audit(ctx, storage.AuditEntry{Actor: "system", Action: "guest.purge", Subject: g.ID.String(),
						Detail: fmt.Sprintf("%s, kept %s", g.Status, keep)}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return count, fmt.Errorf("%s: %w", job, err)
			}
			count += len(gone)
			if len(gone) < storage.MaxPurgeBatch {
				break
			}
		}
	}
	return count, nil
}

// purgeMail deletes sent and dead emails last changed more than PurgeAfter
// ago (the outbox keeps queued and retrying ones whatever their age).
func (s *Service) purgeMail(ctx context.Context) (int, error) {
	keep := s.pol.PurgeAfter
	if keep < 0 {
		return 0, nil
	}
	return s.store.PurgeMail(ctx, s.now().Add(-keep))
}
