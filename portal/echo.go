package portal

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// echo answers a registration for an address whose registration is not
// renewable (active, suspended, pending within the approval window, or
// denied within DeniedCooloff) exactly as it answers a new registration,
// so that the register form does not tell which addresses are registered:
// the same redirect (to the success page of a guest ID the nonce gives,
// which does not exist) and a success page that repeats what was typed and
// reads nothing stored.
//
// Nothing stored changes. The address's owner gets their credentials again
// (active) or the pending note again (pending), subject to the per-address
// limit of registrations (per address and client, as many as "email me my
// credentials again" allows, in a bucket of their own): over it nothing is
// sent and the answer is 429, as for a new address over the limit
// (tooManyForAddress). For a suspended or denied guest nothing is
// sent, and the page shows at once what a new registration's shows once
// its email went.
func (p *Portal) echo(w http.ResponseWriter, r *http.Request, id uuid.UUID, nonce string, reg registration, owner *storage.Guest, gt *storage.GuestType, approval bool) {
	ctx := r.Context()
	now := p.now()
	mid, at, err := p.remind(ctx, owner, nonce, p.addressKey(r, reg.Email), now)
	var limited *limitedError
	if errors.As(err, &limited) {
		p.tooManyForAddress(w, r, limited.wait)
		return
	}
	if err != nil {
		p.fail(w, r, "register: registered address", err)
		return
	}
	t := ticket{
		Kind: ticketEcho, Guest: id, Mail: mid, Status: storage.GuestActive,
		Until: storage.Truncate(now).Add(validity(gt)).Unix(),
		Name:  strings.TrimSpace(reg.First + " " + reg.Last), Email: reg.Email,
	}
	if approval {
		t.Status = storage.GuestPending
	}
	p.log.InfoContext(ctx, "registration for a registered address", "guest_id", owner.ID, "status", owner.Status, "mail_id", mid)
	if now.Sub(at) < repeatWindow { // as redirectRegistered does for a form sent again
		p.setRegisteredCookie(w, r, id)
	}
	webkit.SeeOther(w, p.successURL(r, t))
}

// limitedError ends a reminder's transaction over the per-address limit.
type limitedError struct{ wait time.Duration }

func (e *limitedError) Error() string { return "portal: over the per-address limit" }

// remind queues owner's credentials (or pending note) again for a
// registration with nonce, once per form, within the per-address limit
// (its key: limitKey). It returns the message's ID, or uuid.Nil when
// nothing was queued, and when this form first reminded them (now, unless
// it is sent again); over the limit, a *limitedError.
func (p *Portal) remind(ctx context.Context, owner *storage.Guest, nonce, limitKey string, now time.Time) (uuid.UUID, time.Time, error) {
	var (
		m   notify.Message
		err error
	)
	switch {
	case owner.Status == storage.GuestActive && now.Before(owner.ValidUntil):
		m, err = p.guests.CredentialsMessage(owner)
	case owner.Status == storage.GuestPending:
		m, err = p.guests.PendingMessage(owner)
	default:
		return uuid.Nil, now, nil // suspended or denied: nothing to send
	}
	if err != nil {
		return uuid.Nil, now, err
	}
	m.IdempotencyKey = registrationKey(nonce, owner.Email) + ":" + owner.ID.String()
	var (
		mid uuid.UUID
		dup bool
		at  = now
	)
	err = p.store.WithTx(ctx, func(tx storage.Store) error {
		spy := &enqueueSpy{Store: tx}
		var err error
		if mid, err = notify.Enqueue(ctx, spy, m); err != nil {
			return err
		}
		if dup = spy.duplicate; dup { // this form reminded the owner already
			if first, err := tx.GetMail(ctx, mid); err == nil {
				at = first.CreatedAt
			}
			return nil
		}
		if ok, wait := p.limitRegAddress.Allow(limitKey); !ok {
			return &limitedError{wait: wait}
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: "guest:" + owner.Username, Action: "guest.register_known", Subject: owner.ID.String(),
			Detail: "registration form for a registered address (" + string(owner.Status) + "); emailed them again"})
	})
	if err != nil {
		return uuid.Nil, now, err
	}
	if !dup {
		p.track(mid)
	}
	return mid, at, nil
}

// enqueueSpy notes whether an enqueue found its idempotency key taken.
type enqueueSpy struct {
	storage.Store
	duplicate bool
}

func (s *enqueueSpy) EnqueueMail(ctx context.Context, m *storage.OutboxMessage) error {
	err := s.Store.EnqueueMail(ctx, m)
	if errors.Is(err, storage.ErrDuplicate) {
		s.duplicate = true
	}
	return err
}
