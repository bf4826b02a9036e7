package storage

import (
	"time"

	"github.com/google/uuid"
)

// GuestStatus is where a guest account is in its life.
type GuestStatus string

// Guest statuses.
const (
	GuestPending   GuestStatus = "pending"   // waiting for a sponsor's approval
	GuestActive    GuestStatus = "active"    // may log in between ValidFrom and ValidUntil
	GuestSuspended GuestStatus = "suspended" // access withdrawn by a sponsor, may be reinstated
	GuestExpired   GuestStatus = "expired"   // ValidUntil passed
	GuestDenied    GuestStatus = "denied"    // a sponsor refused the registration
)

// Valid reports whether s is one of the known statuses.
func (s GuestStatus) Valid() bool {
	switch s {
	case GuestPending, GuestActive, GuestSuspended, GuestExpired, GuestDenied:
		return true
	}
	return false
}

// Guest is a guest account. Password is the plaintext in memory; the store
// seals it at rest so that credentials can be sent again.
type Guest struct {
	ID               uuid.UUID
	Username         string // as typed; unique as FoldKey folds it
	Password         string
	FirstName        string
	LastName         string
	Email            string // stored as FoldKey folds it, and unique so
	Phone            string
	Company          string
	PersonVisited    string
	Reason           string
	SponsorID        uuid.UUID // uuid.Nil when self-registered without a sponsor
	GuestType        string    // GuestType.Name
	Status           GuestStatus
	ValidFrom        time.Time
	ValidUntil       time.Time
	ExpiryNotifiedAt time.Time // zero until the expiry notice was sent
	// SessionsValidAfter ends the guest's sign-in sessions: a session
	// issued at or before it (to the microsecond) is no longer valid; zero
	// ends none. Signing out sets it, so that it ends the guest's sessions
	// on every device, and so do a new password and a renewal. A sponsor's
	// suspension is to set it too, so that reinstating the guest does not
	// bring back the sessions from before.
	SessionsValidAfter time.Time
	// FirstSignInAt is when the guest first signed in to the portal; zero
	// until then. For a guest type whose validity counts from the first
	// sign-in (GuestType.FromFirstSignIn), it is when ValidFrom and
	// ValidUntil were set.
	FirstSignInAt time.Time
	// Language is the code of the language the guest registered in (en,
	// de, fr, es): the later emails to them are in it. "" reads as English
	// (guests from before it was kept, and those a sponsor created).
	Language  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CanLogIn reports whether the guest may use their credentials at now.
func (g *Guest) CanLogIn(now time.Time) bool {
	return g.Status == GuestActive && !now.Before(g.ValidFrom) && now.Before(g.ValidUntil)
}

// GuestStamp is the part of a guest a request gate decides on, read on
// every request (GetGuestStamp): the status, the validity, the end of the
// sessions and when the guest last changed. Every update moves UpdatedAt
// forward (by a microsecond at least), so a gate may keep the rest of the
// guest as it read it for as long as UpdatedAt stays the same.
type GuestStamp struct {
	Status             GuestStatus
	ValidFrom          time.Time
	ValidUntil         time.Time
	SessionsValidAfter time.Time
	UpdatedAt          time.Time
}

// GuestUpdate changes some fields of a guest; nil fields stay as they are.
//
// IfStatus and IfUpdatedAt are preconditions for a read-then-write: set to
// what the caller read, the update applies only if the guest is still so,
// in the same statement; otherwise UpdateGuest changes nothing and returns
// ErrConflict ("changed meanwhile"). A transaction alone does not protect
// the read on Postgres (READ COMMITTED): two callers may both read a pending
// guest, and without IfStatus both the approval and the denial would commit.
type GuestUpdate struct {
	Status           *GuestStatus
	ValidFrom        *time.Time
	ValidUntil       *time.Time
	ExpiryNotifiedAt *time.Time // a pointer to the zero time clears it
	Password         *string    // set SessionsValidAfter with it: a new password ends the old sessions
	SponsorID        *uuid.UUID
	// FirstSignInAt sets Guest.FirstSignInAt unless it is already set: the
	// first sign-in stays the first.
	FirstSignInAt *time.Time
	// Language sets Guest.Language (a renewal in another language).
	Language *string
	// SessionsValidAfter moves Guest.SessionsValidAfter forward to this
	// time. It never moves back: a time before the stored one, or the zero
	// time, leaves it as it is, so that no update (say, from a node whose
	// clock lags) brings ended sessions back.
	SessionsValidAfter *time.Time

	// IfStatus applies the update only if the guest's status is this one.
	IfStatus *GuestStatus
	// IfUpdatedAt applies the update only if the guest's UpdatedAt is this
	// one (as read, to the microsecond): only if nothing changed it since.
	// Every update moves UpdatedAt forward by at least a microsecond, so
	// even two updates within one tick of the clock tell apart.
	IfUpdatedAt *time.Time
}

// GuestFilter selects guests for ListGuests. Zero fields do not filter.
type GuestFilter struct {
	Status            []GuestStatus
	SponsorID         uuid.UUID
	Query             string    // username, email, full or last name, company or phone, folded as FoldKey folds; how it matches: ParseSearch
	ValidUntilBefore  time.Time // valid_until < this
	ExpiryNotNotified bool      // only guests whose expiry notice was not sent
	PersonVisited     string    // only guests who named this person visited (compared case-insensitively, whole); for small lists such as the pending guests
	Sort              GuestSort // default SortNewest
	After             string    // cursor from a previous GuestPage.Next of the same Sort
	Limit             int       // default 50, at most 500
}

// GuestSort orders ListGuests.
type GuestSort int

// Orders of ListGuests.
const (
	// SortNewest lists the newest guests first: created_at, id descending.
	SortNewest GuestSort = iota
	// SortExpiry lists the guests whose validity ends soonest first:
	// valid_until, id ascending, guests without an end last.
	SortExpiry
)

// GuestPage is one page of guests in the filter's order. Next is empty on the last page.
type GuestPage struct {
	Guests []*Guest
	Next   string
}

// GuestType sets how long guests of a kind may stay.
type GuestType struct {
	Name            string // key, e.g. "daily"
	Description     string
	DefaultDuration time.Duration
	MaxDuration     time.Duration
	RequireApproval bool
	// ExpiryNotice is how long before the end of their access guests of
	// this type are told it ends: 0 leaves it to the portal's default,
	// negative sends no notice.
	ExpiryNotice time.Duration
	// FromFirstSignIn counts the validity from the guest's first sign-in
	// to the portal rather than from their creation: until then a guest
	// may sign in for the first time within the type's MaxDuration (its
	// DefaultDuration when that is longer) from creation.
	FromFirstSignIn bool
}
