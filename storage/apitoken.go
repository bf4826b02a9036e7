package storage

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/google/uuid"
)

// APIToken is a staff user's token for the REST API. The store keeps only
// the SHA-256 hash of the token, never the token itself.
type APIToken struct {
	ID      uuid.UUID
	StaffID uuid.UUID
	Name    string // what the token is for, as its owner named it
	// Hash is the SHA-256 hash of the whole token (see HashAPIToken).
	Hash []byte
	// Hint is the start of the token (its prefix and a few characters),
	// enough to tell tokens apart in a list and nothing more.
	Hint       string
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time // zero: never used
}

// Expired reports whether t no longer works at now.
func (t *APIToken) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// HashAPIToken is the hash an APIToken keeps of token.
func HashAPIToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// APITokenStore keeps the staff users' API tokens.
type APITokenStore interface {
	// CreateAPIToken inserts t, filling ID and CreatedAt when zero. A hash
	// taken already is ErrConflict; a missing staff user ErrNotFound.
	CreateAPIToken(ctx context.Context, t *APIToken) error
	// LookupAPIToken returns the token whose Hash is hash and its staff
	// user, in one read served by the unique index on the hash; no such
	// token is ErrNotFound. Expiry is the caller's to check.
	LookupAPIToken(ctx context.Context, hash []byte) (*APIToken, *Staff, error)
	// ListAPITokens lists the tokens of the staff user staffID (uuid.Nil:
	// of every staff user), newest first, without their hashes.
	ListAPITokens(ctx context.Context, staffID uuid.UUID) ([]APIToken, error)
	// DeleteAPIToken deletes (revokes) the token with id; a missing one is
	// ErrNotFound. Deleting a staff user deletes their tokens.
	DeleteAPIToken(ctx context.Context, id uuid.UUID) error
	// TouchAPIToken records that the token with id was used at at: its
	// LastUsedAt becomes at unless it is later. A missing token is not an
	// error.
	TouchAPIToken(ctx context.Context, id uuid.UUID, at time.Time) error
}
