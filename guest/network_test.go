package guest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// TestAuthenticateNetwork: the outcome, the audit entry and the validity
// of network sign-ins (the radius package tests every reject reason over
// HTTP).
func TestAuthenticateNetwork(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		now := b.clock.Now()
		g := &storage.Guest{ID: uuid.New(), Username: "ada", Password: "pw-of-ada", FirstName: "Ada", Email: "ada@visitor.example",
			GuestType: "daily", Status: storage.GuestActive, ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(90 * time.Minute)}
		if err := b.store.CreateGuest(ctx, g); err != nil {
			t.Fatal(err)
		}
		from := NetworkClient{NAS: "wlc-1", Station: "02-00-00-00-00-01"}

		res, err := b.svc.AuthenticateNetwork(ctx, "ADA", "pw-of-ada", from)
		if err != nil || res.Outcome != NetworkAccept || res.Remaining != 90*time.Minute || res.Guest.ID != g.ID {
			t.Fatalf("right credentials: %+v, %v; want accept for 1h30m", res, err)
		}
		stored, err := b.store.GetGuest(ctx, g.ID)
		if err != nil || !stored.FirstSignInAt.Equal(now) {
			t.Errorf("first sign-in %v (%v), want it recorded at %s", stored.FirstSignInAt, err, now)
		}

		for _, c := range []struct{ user, password string }{
			{"ada", ""},
			{"ada", "pw-of-ad"},
			{"", "pw-of-ada"},
			{strings.Repeat("é", 100), "secret-typed-here"},
		} {
			res, err := b.svc.AuthenticateNetwork(ctx, c.user, c.password, from)
			if err != nil || res.Outcome == NetworkAccept || res.Remaining != 0 {
				t.Errorf("%q/%q: %+v, %v; want a reject", c.user, c.password, res, err)
			}
		}
		entries, err := b.store.ListAudit(ctx, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		var rejects int
		for _, e := range entries {
			if strings.Contains(e.Detail, "pw-of-ad") || strings.Contains(e.Detail, "secret-typed-here") {
				t.Errorf("audit entry %+v holds a password", e)
			}
			if e.Action == "guest.network_reject" {
				rejects++
				if len([]rune(e.Detail)) > 200 {
					t.Errorf("audit detail of %d characters: a long username is not cut", len([]rune(e.Detail)))
				}
			}
		}
		if rejects != 4 {
			t.Errorf("%d rejects audited, want 4", rejects)
		}

		// At the end of the validity the guest is expired, whatever the
		// lifecycle job has done so far.
		b.clock.Advance(90 * time.Minute)
		if res, err := b.svc.AuthenticateNetwork(ctx, "ada", "pw-of-ada", from); err != nil || res.Outcome != NetworkExpired {
			t.Errorf("at the end of the validity: %+v, %v; want expired", res, err)
		}
	})
}
