package guest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// APITokenPrefix starts every API token, so that one found in a file or a
// log is recognised (and secret scanners can look for it).
const APITokenPrefix = "lobby_"

// apiTokenHint is how much of a token lists show: the prefix and four
// characters of its random part.
const apiTokenHint = len(APITokenPrefix) + 4

// MaxAPITokenName is the longest name of an API token.
const MaxAPITokenName = 100

// ErrBadToken means an API token does not work: unknown (or revoked),
// expired, or its staff user is disabled.
var ErrBadToken = errors.New("guest: the API token does not work")

// NewAPIToken makes a token for staff user owner, named name, working
// until expires (zero: until revoked): 256 random bits after
// APITokenPrefix. The store keeps only its SHA-256 hash; the token itself
// is returned once, to be shown once. A staff user makes their own tokens
// (an admin's too); the system (the command line) makes anyone's. now is
// the caller's clock.
func NewAPIToken(ctx context.Context, store storage.Store, a Actor, owner *storage.Staff, name string, expires, now time.Time) (string, *storage.APIToken, error) {
	switch {
	case a.Staff == nil && a.Approver != "":
		return "", nil, fmt.Errorf("guest: new API token: %w: an approval link makes no tokens", ErrForbidden)
	case a.Staff != nil && a.Staff.Disabled:
		return "", nil, fmt.Errorf("guest: new API token: %w: the account %q is disabled", ErrForbidden, a.Staff.Username)
	case a.Staff != nil && a.Staff.ID != owner.ID:
		return "", nil, fmt.Errorf("guest: new API token: %w: staff users make their own tokens; ask %q to make theirs", ErrForbidden, owner.Username)
	case owner.Disabled:
		return "", nil, fmt.Errorf("guest: new API token: %w: the account %q is disabled; an admin must enable it first", ErrForbidden, owner.Username)
	}
	name = strings.TrimSpace(name)
	var errs []error
	if msg := CheckLine("Name", name, MaxAPITokenName, true, "Name the token after what uses it, such as \"visitor kiosk\"."); msg != "" {
		errs = append(errs, invalid("name", msg))
	}
	if !expires.IsZero() && !expires.After(now) {
		errs = append(errs, invalid("expires", "Choose an expiry in the future, or none."))
	}
	if len(errs) > 0 {
		return "", nil, fmt.Errorf("guest: new API token: %w", errors.Join(errs...))
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("guest: new API token: %w", err)
	}
	token := APITokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	t := &storage.APIToken{StaffID: owner.ID, Name: name, Hash: storage.HashAPIToken(token), Hint: token[:apiTokenHint],
		CreatedAt: storage.Truncate(now), ExpiresAt: expires}
	err := store.WithTx(ctx, func(tx storage.Store) error {
		if err := tx.CreateAPIToken(ctx, t); err != nil {
			return err
		}
		detail := fmt.Sprintf("token %s… %q of %s", t.Hint, t.Name, owner.Username)
		if !expires.IsZero() {
			detail += ", expires " + expires.UTC().Format(time.RFC3339)
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: a.String(), Action: "api_token.create", Subject: owner.ID.String(), Detail: detail})
	})
	if err != nil {
		return "", nil, fmt.Errorf("guest: new API token: %w", err)
	}
	return token, t, nil
}

// RevokeAPIToken deletes token id: its owner's own, or any for an admin
// or the system. It stops working at once.
func RevokeAPIToken(ctx context.Context, store storage.Store, a Actor, id uuid.UUID) error {
	return store.WithTx(ctx, func(tx storage.Store) error {
		var owner uuid.UUID
		switch {
		case a.Staff == nil && a.Approver != "":
			return fmt.Errorf("guest: revoke API token: %w: an approval link revokes no tokens", ErrForbidden)
		case a.Staff != nil && a.Staff.Disabled:
			return fmt.Errorf("guest: revoke API token: %w: the account %q is disabled", ErrForbidden, a.Staff.Username)
		}
		var found *storage.APIToken
		list, err := tx.ListAPITokens(ctx, uuid.Nil)
		if a.Staff != nil && a.Staff.Role != storage.RoleAdmin {
			list, err = tx.ListAPITokens(ctx, a.Staff.ID)
		}
		if err != nil {
			return fmt.Errorf("guest: revoke API token: %w", err)
		}
		for i := range list {
			if list[i].ID == id {
				found, owner = &list[i], list[i].StaffID
			}
		}
		if found == nil {
			return fmt.Errorf("guest: revoke API token: there is no such token of yours (revoked already?): %w", storage.ErrNotFound)
		}
		if err := tx.DeleteAPIToken(ctx, id); err != nil {
			return fmt.Errorf("guest: revoke API token: %w", err)
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: a.String(), Action: "api_token.revoke", Subject: owner.String(),
			Detail: fmt.Sprintf("token %s… %q", found.Hint, found.Name)})
	})
}

// APITokenActor is the actor an API request with token acts as: the
// token's staff user, with their sponsor group as it is now, acting "via
// API". A token that is unknown (or revoked), expired, or whose staff user
// is disabled is ErrBadToken. The token is found by its hash in one
// indexed read; the group is read for sponsors. The token's record comes
// back too (for its last use).
func (s *Service) APITokenActor(ctx context.Context, token string) (Actor, *storage.APIToken, error) {
	if !strings.HasPrefix(token, APITokenPrefix) || len(token) > 200 {
		return Actor{}, nil, fmt.Errorf("%w: it is not a Lobby API token (they start with %q); make one on the sponsor portal's API tokens page", ErrBadToken, APITokenPrefix)
	}
	t, st, err := s.store.LookupAPIToken(ctx, storage.HashAPIToken(token))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return Actor{}, nil, fmt.Errorf("%w: it is unknown or was revoked; make a new one on the sponsor portal's API tokens page", ErrBadToken)
	case err != nil:
		return Actor{}, nil, fmt.Errorf("guest: API token: %w", err)
	case t.Expired(s.now()):
		return Actor{}, nil, fmt.Errorf("%w: it expired on %s; make a new one on the sponsor portal's API tokens page", ErrBadToken, t.ExpiresAt.UTC().Format(time.RFC3339))
	case st.Disabled:
		return Actor{}, nil, fmt.Errorf("%w: the account %q is disabled; ask an admin to enable it", ErrBadToken, st.Username)
	}
	a, err := s.StaffActor(ctx, st, "via API")
	if err != nil {
		return Actor{}, nil, err
	}
	return a, t, nil
}
