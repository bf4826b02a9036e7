package storage

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Role is what a staff user may do.
type Role string

// Staff roles.
const (
	RoleSponsor Role = "sponsor"
	RoleAdmin   Role = "admin"
)

// Staff is a sponsor or an admin.
type Staff struct {
	ID                uuid.UUID
	Username          string // as typed; unique as FoldKey folds it
	Email             string
	DisplayName       string
	Role              Role
	PasswordHash      string // a bcrypt or argon2id hash, never a plaintext
	PasswordChangedAt time.Time
	Disabled          bool
	// Group names the SponsorGroup whose permissions a sponsor has; empty
	// is DefaultSponsorGroup. Admins may do everything whatever their group.
	Group     string
	CreatedAt time.Time

	// Sign-in state, kept by the store (CreateStaff does not take it).
	FailedLogins int       // failed sign-ins since the last good one
	LockedUntil  time.Time // sign-in is refused until then; zero: not locked
	LastLoginAt  time.Time // the last good sign-in; zero: never
	// SessionsValidAfter ends sessions: those issued at or before it (and
	// at or before PasswordChangedAt) no longer count. It only moves forward.
	SessionsValidAfter time.Time
}

// SessionCutoff is the time a session of s must be issued after to count:
// the later of SessionsValidAfter and PasswordChangedAt.
func (s *Staff) SessionCutoff() time.Time {
	if s.SessionsValidAfter.After(s.PasswordChangedAt) {
		return s.SessionsValidAfter
	}
	return s.PasswordChangedAt
}

// Permission is an action a sponsor group may take on guests.
type Permission string

// Permissions of sponsor groups, as ISE's sponsor groups have them.
const (
	PermCreate        Permission = "create"         // create one known guest
	PermBatch         Permission = "batch"          // create a batch of random accounts, import a CSV
	PermResend        Permission = "resend"         // send a guest's credentials again
	PermResetPassword Permission = "reset_password" // give a guest a new password and send it
	PermExtend        Permission = "extend"         // extend a guest's validity within its type's maximum
	PermSuspend       Permission = "suspend"        // suspend and reinstate
	PermDelete        Permission = "delete"         // delete a guest (the audit log keeps its history)
	PermApprove       Permission = "approve"        // approve and deny pending registrations
)

// AllPermissions lists every Permission, in the order pages show them.
var AllPermissions = []Permission{PermCreate, PermBatch, PermResend, PermResetPassword, PermExtend, PermSuspend, PermDelete, PermApprove}

// DefaultSponsorGroup is the group of sponsors that have none; a fresh
// store has it, with every permission on the guests its members sponsor.
const DefaultSponsorGroup = "default"

// SponsorGroup is what its member sponsors may do.
type SponsorGroup struct {
	Name        string // key
	Description string
	// GuestTypes are the guest types members may create; empty: all.
	GuestTypes []string
	// ManageAll lets members manage every guest; otherwise only the
	// guests they sponsor (Guest.SponsorID), and, with PermApprove, the
	// pending guests that name them as the person visited.
	ManageAll   bool
	Permissions []Permission
	UpdatedAt   time.Time
}

// CheckPermissions returns ps in the order of AllPermissions without
// duplicates, or an error naming the first permission it does not know.
func CheckPermissions(ps []Permission) ([]Permission, error) {
	out := []Permission{}
	for _, p := range AllPermissions {
		for _, q := range ps {
			if q == p {
				out = append(out, p)
				break
			}
		}
	}
	for _, q := range ps {
		known := false
		for _, p := range AllPermissions {
			known = known || p == q
		}
		if !known {
			return nil, fmt.Errorf("storage: unknown sponsor permission %q", q)
		}
	}
	return out, nil
}

// May reports whether the group grants p.
func (g *SponsorGroup) May(p Permission) bool {
	for _, q := range g.Permissions {
		if q == p {
			return true
		}
	}
	return false
}

// MayUseType reports whether members may create guests of type name.
func (g *SponsorGroup) MayUseType(name string) bool {
	if len(g.GuestTypes) == 0 {
		return true
	}
	for _, t := range g.GuestTypes {
		if t == name {
			return true
		}
	}
	return false
}
