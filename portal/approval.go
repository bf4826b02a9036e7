package portal

import (
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// approveData is the approval page's own data.
type approveData struct {
	Approve                             bool
	Name, Email, Company, PersonVisited string
	Reason, Registered                  string
}

// errNotPending ends an approval transaction that found the guest decided.
var errNotPending = errors.New("portal: guest is not pending")

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
		g, mid, err := p.decide(r, id, approve, approver)
		switch {
		case errors.Is(err, errNotPending):
			p.decided(w, r, g)
			return
		case err != nil:
			p.fail(w, r, verb, err)
			return
		}
		p.track(mid)
		if approve {
			p.message(w, r, http.StatusOK, "Guest approved", nil,
				"We are emailing "+guestName(g)+" their credentials at "+g.Email+". Their access is valid until "+p.formatTime(g.ValidUntil)+".")
			return
		}
		p.message(w, r, http.StatusOK, "Guest denied", nil, "We are letting "+guestName(g)+" know at "+g.Email+".")
	}
}

// decide approves or denies pending guest id in one transaction with the
// email that tells them: their credentials, or the denial. An approved
// guest's validity starts now.
func (p *Portal) decide(r *http.Request, id uuid.UUID, approve bool, approver string) (*storage.Guest, uuid.UUID, error) {
	ctx := r.Context()
	var (
		g   *storage.Guest
		mid uuid.UUID
	)
	err := p.store.WithTx(ctx, func(tx storage.Store) error {
		cur, err := tx.GetGuest(ctx, id)
		if err != nil {
			return err
		}
		if cur.Status != storage.GuestPending {
			g = cur
			return errNotPending
		}
		u := storage.GuestUpdate{}
		action := "guest.deny"
		var m notify.Message
		if approve {
			gt, err := tx.GetGuestType(ctx, cur.GuestType)
			if err != nil {
				return err
			}
			now := storage.Truncate(p.now())
			until := now.Add(validity(gt))
			active := storage.GuestActive
			u = storage.GuestUpdate{Status: &active, ValidFrom: &now, ValidUntil: &until}
			action = "guest.approve"
		} else {
			denied := storage.GuestDenied
			u.Status = &denied
		}
		u.IfStatus = &cur.Status
		if g, err = tx.UpdateGuest(ctx, id, u); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				// Someone else decided meanwhile: say what they decided.
				if g, err = tx.GetGuest(ctx, id); err != nil {
					return err
				}
				return errNotPending
			}
			return err
		}
		if approve {
			m, err = p.guests.CredentialsMessage(g)
			m.IdempotencyKey = "portal:credentials:" + g.ID.String()
		} else {
			m, err = p.guests.DeniedMessage(g)
			m.IdempotencyKey = "portal:denied:" + g.ID.String()
		}
		if err != nil {
			return err
		}
		if mid, err = notify.Enqueue(ctx, tx, m); err != nil {
			return err
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: "approver:" + approver, Action: action, Subject: g.ID.String(),
			Detail: "by approval link, client " + p.clientIP(r)})
	})
	return g, mid, err
}

// decided says that g was decided already.
func (p *Portal) decided(w http.ResponseWriter, r *http.Request, g *storage.Guest) {
	name := guestName(g)
	switch g.Status {
	case storage.GuestDenied:
		p.message(w, r, http.StatusOK, "Already denied", nil, name+"'s registration was denied already.")
	case storage.GuestActive:
		p.message(w, r, http.StatusOK, "Already approved", nil, name+"'s registration was approved already; the guest has their credentials.")
	case storage.GuestSuspended:
		p.message(w, r, http.StatusOK, "Access suspended", nil,
			name+"'s registration was decided already, and their access is suspended now. A sponsor can reinstate it in the sponsor portal.")
	case storage.GuestExpired:
		p.message(w, r, http.StatusOK, "Access expired", nil,
			name+"'s registration was decided already, and their access has expired. A sponsor can extend it in the sponsor portal; the guest can also register again.")
	default:
		p.message(w, r, http.StatusOK, "Already decided", nil, name+"'s registration was decided already; their status is "+string(g.Status)+".")
	}
}
