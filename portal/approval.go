package portal

import (
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// approveData is the approval page's own data.
type approveData struct {
	Approve                             bool
	Name, Email, Company, PersonVisited string
	Reason, Registered                  string
}

// decision serves an approve (approve=true) or deny link. GET shows the
// guest and a button; only the POST decides, so that mail scanners that
// follow links change nothing.
func (p *Portal) decision(approve, post bool) http.HandlerFunc {
	signer, verb := p.deny, "deny"
	if approve {
		signer, verb = p.approve, "approve"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		payload, err := signer.Verify(r.PathValue("token"), p.now())
		if errors.Is(err, webkit.ErrTokenExpired) {
			p.message(w, r, http.StatusGone, "This link has expired", nil,
				"Approval links work for "+humanDuration(p.cfg.Policy.ApprovalLinkTTL)+". Find the guest in the sponsor portal to approve or deny them there.")
			return
		}
		gid, approver, ok := strings.Cut(payload, "|")
		id, perr := uuid.Parse(gid)
		if err != nil || !ok || perr != nil {
			p.message(w, r, http.StatusNotFound, "This link is not valid", nil,
				"Check that you opened the whole link from the email. You can also approve or deny the guest in the sponsor portal.")
			return
		}
		g, err := p.store.GetGuest(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			p.message(w, r, http.StatusNotFound, "This guest no longer exists", nil, "The registration was deleted; there is nothing to decide.")
			return
		} else if err != nil {
			p.fail(w, r, verb, err)
			return
		}
		if g.Status != storage.GuestPending {
			p.decided(w, r, g)
			return
		}
		if !post {
			p.page(w, r, http.StatusOK, "approve", p.view(r, strings.ToUpper(verb[:1])+verb[1:]+" guest access", nil, approveData{
				Approve: approve, Name: guestName(g), Email: g.Email, Company: g.Company, PersonVisited: g.PersonVisited,
				Reason: g.Reason, Registered: p.formatTime(g.CreatedAt),
			}))
			return
		}
		a := guest.LinkApprover(approver)
		a.Via = "by approval link, client " + p.clientIP(r)
		var res *guest.Result
		if approve {
			res, err = p.guests.Approve(ctx, a, id)
		} else {
			res, err = p.guests.Deny(ctx, a, id, "")
		}
		switch {
		case errors.Is(err, guest.ErrState), errors.Is(err, guest.ErrConflict):
			// Decided meanwhile (by another link, a sponsor): say what.
			if g, err = p.store.GetGuest(ctx, id); err != nil {
				p.fail(w, r, verb, err)
				return
			}
			p.decided(w, r, g)
			return
		case err != nil:
			p.fail(w, r, verb, err)
			return
		}
		g = res.Guest
		if approve && res.HandOver {
			p.message(w, r, http.StatusOK, "Guest approved", nil,
				guestName(g)+"'s access is valid until "+p.formatTime(g.ValidUntil)+". Guests are sent no email here, so we are not emailing them: "+
					"their registration page shows their credentials if they come back to it within a few minutes; otherwise a sponsor "+
					"resets their password on the sponsor pages and gives them the new one.")
			return
		}
		if !approve && !p.guests.GuestEmail() {
			p.message(w, r, http.StatusOK, "Guest denied", nil, "Guests are sent no email here, so we are not telling "+guestName(g)+"; let them know yourself if needed.")
			return
		}
		if approve {
			p.message(w, r, http.StatusOK, "Guest approved", nil,
				"We are emailing "+guestName(g)+" their credentials at "+g.Email+". Their access is valid until "+p.formatTime(g.ValidUntil)+".")
			return
		}
		p.message(w, r, http.StatusOK, "Guest denied", nil, "We are letting "+guestName(g)+" know at "+g.Email+".")
	}
}

// decided says that g was decided already (in the words of guest.Decided).
func (p *Portal) decided(w http.ResponseWriter, r *http.Request, g *storage.Guest) {
	title := "Already decided"
	switch g.Status {
	case storage.GuestDenied:
		title = "Already denied"
	case storage.GuestActive:
		title = "Already approved"
	case storage.GuestSuspended:
		title = "Access suspended"
	case storage.GuestExpired:
		title = "Access expired"
	}
	p.message(w, r, http.StatusOK, title, nil, guest.Decided(g))
}
