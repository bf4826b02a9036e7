package storage

import "errors"

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
