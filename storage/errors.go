package storage

import "errors"

var (
	// ErrNotFound means no record matched.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict means a unique value (username, email, idempotency key) is
	// already taken, or an optimistic version check failed.
	ErrConflict = errors.New("storage: conflict")
	// ErrDuplicate means an outbox message with the same idempotency key is
	// already queued; the caller's message carries the existing ID.
	ErrDuplicate = errors.New("storage: duplicate idempotency key")
	// ErrLeaseLost means the caller no longer holds the lease on an outbox
	// message: it ran out and another worker took the message over.
	ErrLeaseLost = errors.New("storage: lease lost")
	// ErrWrongKey means the secret key cannot open what this database sealed.
	ErrWrongKey = errors.New("storage: the secret key does not match the one this database was sealed with; " +
		"start Lobby with the original LOBBY_SECRET_KEY (or the key file in the data directory)")
)
