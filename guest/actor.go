package guest

import (
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// Actor is who takes an action: a staff user with their sponsor group, or
// (the zero Actor) the system itself, which may do everything.
type Actor struct {
	Staff *storage.Staff
	Group *storage.SponsorGroup // the staff user's group; admins need none
	// Approver is the address an approval link was sent to, for an actor
	// that acts by such a link (see LinkApprover); empty otherwise.
	Approver string
	// Via says how the actor acts, for the audit log (e.g. "by approval
	// link, client 192.0.2.1"); optional.
	Via string
}

// System is the actor of the lifecycle jobs and of callers that checked
// permissions themselves.
func System() Actor { return Actor{} }

// LinkApprover is the holder of a signed approval link sent to address: it
// may approve or deny the guest the link names, and nothing else. The
// caller has checked the link.
func LinkApprover(address string) Actor { return Actor{Approver: address} }

// String is the actor as the audit log names it: "staff:<username>",
// "approver:<address>" or "system".
func (a Actor) String() string {
	switch {
	case a.Staff != nil:
		return "staff:" + a.Staff.Username
	case a.Approver != "":
		return "approver:" + a.Approver
	}
	return "system"
}

// withVia adds how the actor acts (Via) to an audit entry's detail.
func (a Actor) withVia(detail string) string {
	if a.Via == "" {
		return detail
	}
	return strings.TrimPrefix(detail+"; "+a.Via, "; ")
}

// replyTo is the address guests' replies to a message the actor caused
// should go to: the staff user's email, if any.
func (a Actor) replyTo() string {
	if a.Staff == nil {
		return ""
	}
	return strings.TrimSpace(a.Staff.Email)
}

// Allowed returns nil when a may take the action that needs p on g (nil g:
// an action on no guest yet, such as creating one), else an error that
// wraps ErrForbidden and says why. Admins may do everything; a disabled
// staff user nothing; a sponsor what their group grants, on the guests
// they sponsor, on every guest when the group manages all, and (approve
// and deny only) on the pending guests that name them as the person
// visited.
func (s *Service) Allowed(a Actor, p storage.Permission, g *storage.Guest) error {
	switch {
	case a.Staff == nil && a.Approver == "":
		return nil // the system
	case a.Staff == nil:
		if p == storage.PermApprove {
			return nil
		}
		return fmt.Errorf("%w: an approval link only approves or denies", ErrForbidden)
	}
	st := a.Staff
	if st.Disabled {
		return fmt.Errorf("%w: the account %q is disabled; ask an admin to enable it", ErrForbidden, st.Username)
	}
	if st.Role == storage.RoleAdmin {
		return nil
	}
	if a.Group == nil {
		return fmt.Errorf("%w: %q belongs to no sponsor group; ask an admin to put them in one", ErrForbidden, st.Username)
	}
	if !a.Group.May(p) {
		return fmt.Errorf("%w: the sponsor group %q does not allow %s; ask an admin if you need to", ErrForbidden, a.Group.Name, permWords(p))
	}
	if g == nil || a.Group.ManageAll || (g.SponsorID != uuid.Nil && g.SponsorID == st.ID) {
		return nil
	}
	if p == storage.PermApprove && g.Status == storage.GuestPending && st.Email != "" &&
		strings.EqualFold(strings.TrimSpace(g.PersonVisited), strings.TrimSpace(st.Email)) {
		return nil
	}
	return fmt.Errorf("%w: %s is not your guest; only their sponsor (or a group that manages every guest) may %s", ErrForbidden, guestRef(g), permVerb(p))
}

// guestRef names g in a message.
func guestRef(g *storage.Guest) string {
	if n := Name(g); n != "" {
		return n
	}
	return g.Username
}

// permWords says what p allows, for messages.
func permWords(p storage.Permission) string {
	switch p {
	case storage.PermCreate:
		return "creating guests"
	case storage.PermBatch:
		return "creating guest accounts in batches"
	case storage.PermResend:
		return "sending credentials again"
	case storage.PermResetPassword:
		return "resetting passwords"
	case storage.PermExtend:
		return "extending guests' access"
	case storage.PermSuspend:
		return "suspending and reinstating guests"
	case storage.PermDelete:
		return "deleting guests"
	case storage.PermApprove:
		return "approving and denying registrations"
	}
	return string(p)
}

// permVerb is p as a verb phrase.
func permVerb(p storage.Permission) string {
	switch p {
	case storage.PermResend:
		return "send their credentials again"
	case storage.PermResetPassword:
		return "reset their password"
	case storage.PermExtend:
		return "extend their access"
	case storage.PermSuspend:
		return "suspend or reinstate them"
	case storage.PermDelete:
		return "delete them"
	case storage.PermApprove:
		return "approve or deny them"
	}
	return "do that"
}
