package portal

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
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
	var wait time.Duration
	mid, at, err := p.guests.Remind(ctx, owner, registrationKey(nonce, owner.Email)+":"+owner.ID.String(), func() bool {
		ok, w := p.limitRegAddress.Allow(p.addressKey(r, reg.Email))
		wait = w
		return ok
	})
	if errors.Is(err, guest.ErrLimited) {
		p.tooManyForAddress(w, r, wait)
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
