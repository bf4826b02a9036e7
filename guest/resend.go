package guest

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// ResendByEmail is "email me my credentials again", asked by whoever knows
// the address: it queues the credentials of the guest with email if there
// is one who may sign in now, at most once a minute per guest however
// often it is asked, and otherwise does nothing (a nil Result). A page must
// answer alike either way, and not in a time that tells them apart. While
// guest email is off it does nothing either.
func (s *Service) ResendByEmail(ctx context.Context, email string) (*Result, error) {
	g, err := s.store.GetGuestByEmail(ctx, email)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("guest: resend: look up: %w", err)
	}
	now := s.now()
	if !g.CanLogIn(now) || !s.GuestEmail() {
		return nil, nil
	}
	m, err := s.CredentialsMessage(g)
	if err != nil {
		return nil, err
	}
	m.IdempotencyKey = fmt.Sprintf("portal:resend:%s:%d", g.ID, now.Unix()/60)
	var mid uuid.UUID
	err = s.store.WithTx(ctx, func(tx storage.Store) error {
		if mid, err = notify.Enqueue(ctx, tx, m); err != nil {
			return err
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: "guest:" + g.Username, Action: "guest.resend", Subject: g.ID.String()})
	})
	if err != nil {
		return nil, fmt.Errorf("guest: resend: queue: %w", err)
	}
	return &Result{Guest: g, Mail: mid, Future: s.track(mid)}, nil
}
