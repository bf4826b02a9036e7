package guest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// StaffActor is staff user st as an actor, with their sponsor group read
// from the store (admins need none). A group that went away leaves its
// members with the least: their own guests, and no permissions. via says
// how they act, for the audit log (see Actor.Via).
func (s *Service) StaffActor(ctx context.Context, st *storage.Staff, via string) (Actor, error) {
	a := Actor{Staff: st, Via: via}
	if st.Role == storage.RoleAdmin {
		return a, nil
	}
	g, err := s.store.GetSponsorGroup(ctx, st.Group)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		g = &storage.SponsorGroup{Name: st.Group}
	case err != nil:
		return Actor{}, fmt.Errorf("guest: read the sponsor group of %q: %w", st.Username, err)
	}
	a.Group = g
	return a, nil
}

// SeesAll reports whether a sees every guest: the system, admins, and
// sponsors whose group manages all.
func SeesAll(a Actor) bool {
	switch {
	case a.Staff == nil:
		return a.Approver == ""
	case a.Staff.Disabled:
		return false
	case a.Staff.Role == storage.RoleAdmin:
		return true
	}
	return a.Group != nil && a.Group.ManageAll
}

// Sees reports whether a may see guest g, as the sponsor pages show
// guests: every guest (SeesAll), those a sponsors, and the pending guests
// that name a as the person visited when a's group may approve.
func Sees(a Actor, g *storage.Guest) bool {
	if SeesAll(a) {
		return true
	}
	st := a.Staff
	if st == nil || st.Disabled {
		return false
	}
	if g.SponsorID != uuid.Nil && g.SponsorID == st.ID {
		return true
	}
	return g.Status == storage.GuestPending && a.Group != nil && a.Group.May(storage.PermApprove) &&
		st.Email != "" && strings.EqualFold(strings.TrimSpace(g.PersonVisited), strings.TrimSpace(st.Email))
}
