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
		loc := p.loc(r)
		payload, err := signer.Verify(r.PathValue("token"), p.now())
		if errors.Is(err, webkit.ErrTokenExpired) {
			p.message(w, r, http.StatusGone, loc.T("portal.approve.expired_title"), nil,
				loc.T("portal.approve.expired", "Duration", loc.Duration(p.cfg.Policy.ApprovalLinkTTL)))
			return
		}
		gid, approver, ok := strings.Cut(payload, "|")
		id, perr := uuid.Parse(gid)
		if err != nil || !ok || perr != nil {
			p.message(w, r, http.StatusNotFound, loc.T("portal.approve.invalid_title"), nil, loc.T("portal.approve.invalid"))
			return
		}
		g, err := p.store.GetGuest(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			p.message(w, r, http.StatusNotFound, loc.T("portal.approve.gone_title"), nil, loc.T("portal.approve.gone"))
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
			p.page(w, r, http.StatusOK, "approve", p.view(r, map[bool]string{true: loc.T("portal.approve.title"), false: loc.T("portal.deny.title")}[approve], nil, approveData{
				Approve: approve, Name: guestName(g), Email: g.Email, Company: g.Company, PersonVisited: g.PersonVisited,
				Reason: g.Reason, Registered: p.formatTime(r, g.CreatedAt),
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
			p.message(w, r, http.StatusOK, loc.T("portal.approve.approved_title"), nil, loc.T("portal.approve.approved_off",
				"Name", guestName(g), "ValidUntil", p.formatTime(r, g.ValidUntil)))
			return
		}
		if !approve && !p.guests.GuestEmail() {
			p.message(w, r, http.StatusOK, loc.T("portal.approve.denied_title"), nil, loc.T("portal.approve.denied_off", "Name", guestName(g)))
			return
		}
		if approve {
			p.message(w, r, http.StatusOK, loc.T("portal.approve.approved_title"), nil, loc.T("portal.approve.approved",
				"Name", guestName(g), "Email", g.Email, "ValidUntil", p.formatTime(r, g.ValidUntil)))
			return
		}
		p.message(w, r, http.StatusOK, loc.T("portal.approve.denied_title"), nil, loc.T("portal.approve.denied", "Name", guestName(g), "Email", g.Email))
	}
}

// decided says that g was decided already (in the words of guest.Decided).
func (p *Portal) decided(w http.ResponseWriter, r *http.Request, g *storage.Guest) {
	loc := p.loc(r)
	name := guestName(g)
	if name == "" {
		name = g.Username
	}
	title, msg := loc.T("portal.decided.title"), loc.T("portal.decided.other", "Name", name, "Status", string(g.Status))
	switch g.Status {
	case storage.GuestDenied:
		title, msg = loc.T("portal.decided.denied_title"), loc.T("portal.decided.denied", "Name", name)
	case storage.GuestActive:
		title, msg = loc.T("portal.decided.approved_title"), loc.T("portal.decided.approved", "Name", name)
	case storage.GuestSuspended:
		title, msg = loc.T("portal.decided.suspended_title"), loc.T("portal.decided.suspended", "Name", name)
	case storage.GuestExpired:
		title, msg = loc.T("portal.decided.expired_title"), loc.T("portal.decided.expired", "Name", name)
	}
	p.message(w, r, http.StatusOK, title, nil, msg)
}
