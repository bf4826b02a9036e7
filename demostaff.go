package lobby

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/lobbyhq/lobby/internal/passhash"
	"github.com/lobbyhq/lobby/storage"
)

// DemoStaff is one demonstration staff user of a development start, with
// the password it was just given.
type DemoStaff struct {
	Username, Email, Password string
	Role                      storage.Role
}

// EnsureDemoStaff makes sure the demonstration admin ("admin") and sponsor
// ("sponsor", in the default sponsor group) exist, and gives each a fresh
// random password, so that it can always be shown: `lobby serve --dev`
// prints them at every start. Not for production stores.
func EnsureDemoStaff(ctx context.Context, st storage.Store) ([]DemoStaff, error) {
	var out []DemoStaff
	for _, role := range []storage.Role{storage.RoleAdmin, storage.RoleSponsor} {
		u := DemoStaff{Username: string(role), Email: string(role) + "@example.com", Password: rand.Text(), Role: role}
		hash, err := passhash.Hash(u.Password)
		if err != nil {
			return nil, fmt.Errorf("demo staff %q: hash the password: %w", u.Username, err)
		}
		existing, err := st.GetStaffByUsername(ctx, u.Username)
		switch {
		case err == nil:
			if err := st.SetStaffPassword(ctx, existing.ID, hash); err != nil {
				return nil, fmt.Errorf("demo staff: set the password of %q: %w", u.Username, err)
			}
			u.Email = existing.Email
		case errors.Is(err, storage.ErrNotFound):
			s := &storage.Staff{Username: u.Username, Email: u.Email, DisplayName: "Demo " + string(role), Role: role, PasswordHash: hash}
			if err := st.CreateStaff(ctx, s); err != nil {
				return nil, fmt.Errorf("demo staff: create %q: %w", u.Username, err)
			}
		default:
			return nil, fmt.Errorf("demo staff: look up %q: %w", u.Username, err)
		}
		out = append(out, u)
	}
	return out, nil
}
