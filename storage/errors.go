package storage

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
)

var (
	// ErrNotFound means no record matched.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict means a unique value (username, email, ID) is already
	// taken, or an optimistic check failed (a settings version, an update's
	// precondition).
	ErrConflict = errors.New("storage: conflict")
	// ErrDuplicate means an outbox message with the same idempotency key is
	// already in the outbox; the caller's message carries the existing ID.
	// It is not an ErrConflict: the message is queued, once.
	ErrDuplicate = errors.New("storage: duplicate idempotency key")
	// ErrLeaseLost means the caller no longer holds the lease on an outbox
	// message: it ran out and another worker took the message over.
	ErrLeaseLost = errors.New("storage: lease lost")
	// ErrWrongKey means the secret key is not the one this database was
	// sealed with: the key check stored at first start does not open. Only
	// Open reports it.
	ErrWrongKey = errors.New("storage: the secret key does not match the one this database was sealed with; " +
		"start Lobby with the original LOBBY_SECRET_KEY (or the key file in the data directory)")
	// ErrInTx means the call is not allowed on the Store that WithTx hands
	// to its function: Close and the leader locks belong to the Store that
	// opened the database.
	ErrInTx = errors.New("storage: not allowed on the Store of a transaction; call it on the Store that opened the database")
	// ErrUnreadable means one sealed value does not open although the key is
	// right: its bytes were altered, or it was sealed for another row (copied
	// there). Restarting with another key does not help.
	ErrUnreadable = errors.New("storage: sealed value cannot be opened: altered, or sealed for another row")
)

// ErrUnavailable means the database could not be reached or did not answer
// in time: it refused or dropped the connection, is restarting, the pool is
// closed or had no connection free in time, or SQLite stayed busy beyond
// its timeout. Nothing was changed by the call that failed; the same call
// may succeed in a moment. The backends wrap their errors with it where
// they recognise the cause; test with IsUnavailable, which also recognises
// the causes any backend shares.
var ErrUnavailable = errors.New("storage: database unavailable")

// IsUnavailable reports whether err means the database is unavailable for
// now (see ErrUnavailable), so that a caller answers "try again shortly"
// instead of reporting a fault: err wraps ErrUnavailable, a refused, reset
// or failed network connection, a deadline that ran out, or an SQLSTATE of
// class 08 (connection exception) or 57P01–57P03 (the server is shutting
// down or starting up).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	for _, errno := range []syscall.Errno{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
	} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	var state interface{ SQLState() string }
	if errors.As(err, &state) {
		code := state.SQLState()
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03"
	}
	return false
}

// Unavailable wraps err so that errors.Is(err, ErrUnavailable) holds while
// errors.Is and errors.As still reach err's own chain; its message is
// err's. A nil err stays nil.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return unavailableError{err}
}

type unavailableError struct{ err error }

func (e unavailableError) Error() string   { return e.err.Error() }
func (e unavailableError) Unwrap() []error { return []error{e.err, ErrUnavailable} }
