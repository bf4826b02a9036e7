package guest

import (
	"errors"

	"github.com/lobbyhq/lobby/storage"
)

var (
	// ErrForbidden means the actor may not take the action on the guest.
	ErrForbidden = errors.New("guest: not allowed")
	// ErrInvalid means an input is wrong; the error is an *InvalidError,
	// or several joined (see FieldErrors).
	ErrInvalid = errors.New("guest: invalid input")
	// ErrState means the guest is not in a state the action applies to
	// (extend a denied guest, approve an active one); the error is a
	// *StateError.
	ErrState = errors.New("guest: wrong state")
	// ErrNotFound is storage's: no such guest (or guest type).
	ErrNotFound = storage.ErrNotFound
	// ErrConflict is storage's: the guest changed since it was read
	// (someone else acted at the same time), or a unique value is taken.
	ErrConflict = storage.ErrConflict
)

// InvalidError is a bad input: Field names it (as the form field a page
// shows, e.g. "email"), Message says what to do. errors.Is(err, ErrInvalid).
type InvalidError struct {
	Field, Message string
}

func (e *InvalidError) Error() string { return "guest: " + e.Field + ": " + e.Message }

// Is makes an InvalidError match ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// invalid returns an *InvalidError.
func invalid(field, msg string) error { return &InvalidError{Field: field, Message: msg} }

// FieldErrors returns every *InvalidError in err (which may join several),
// in order; nil when there is none.
func FieldErrors(err error) []*InvalidError {
	var out []*InvalidError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if ie, ok := e.(*InvalidError); ok {
			out = append(out, ie)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// StateError is an action refused because of the guest's status: Message
// says why and what can be done instead. errors.Is(err, ErrState).
type StateError struct {
	Status  storage.GuestStatus // the guest's status
	Message string
}

func (e *StateError) Error() string { return "guest: " + e.Message }

// Is makes a StateError match ErrState.
func (e *StateError) Is(target error) bool { return target == ErrState }

func stateErr(g *storage.Guest, msg string) error { return &StateError{Status: g.Status, Message: msg} }
