package portal

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// The jobs delete guests whose registration ended more than PurgeAfter ago,
// and old sent and failed emails; everything else stays.
func TestPurgeJob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		purgeAfter  time.Duration
		wantGuests  int
		wantRemoved []string
	}{
		{"default 30 days", 0, 3, []string{"expired-long-ago", "denied-long-ago", "suspended-long-ago"}},
		{"off", -1, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) { c.Policy.PurgeAfter = tc.purgeAfter })
			ctx := context.Background()
			t0 := b.clock.Now()
			ids := map[string]uuid.UUID{}
			mk := func(name string, status storage.GuestStatus, until time.Duration) {
				g := &storage.Guest{ID: uuid.New(), Username: name, Password: "pw", FirstName: "F", LastName: "L", Email: name + "@example.com",
					GuestType: DefaultGuestTypeName, Status: status, ValidFrom: t0.Add(-48 * time.Hour), ValidUntil: t0.Add(until)}
				if err := b.store.CreateGuest(ctx, g); err != nil {
					t.Fatal(err)
				}
				ids[name] = g.ID
			}
			mk("expired-long-ago", storage.GuestExpired, -time.Hour)
			mk("expired-lately", storage.GuestExpired, 5*24*time.Hour)
			mk("denied-long-ago", storage.GuestDenied, 24*time.Hour)
			mk("active", storage.GuestActive, 60*24*time.Hour)
			mk("suspended", storage.GuestSuspended, 5*24*time.Hour)
			// Suspended, and its access ended long ago: expired, then purged.
			mk("suspended-long-ago", storage.GuestSuspended, -time.Hour)
			mk("denied-lately", storage.GuestPending, 24*time.Hour)
			oldMail, err := notify.Enqueue(ctx, b.store, notify.Message{Kind: KindCredentials, To: []string{"x@example.com"}, Subject: "s", Text: "t"})
			if err != nil {
				t.Fatal(err)
			}
			b.settle(t, oldMail, storage.MailSent)
			stuck, err := notify.Enqueue(ctx, b.store, notify.Message{Kind: KindCredentials, To: []string{"y@example.com"}, Subject: "s", Text: "t"})
			if err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(2 * 24 * time.Hour)
			denied := storage.GuestDenied
			if _, err := b.store.UpdateGuest(ctx, ids["denied-lately"], storage.GuestUpdate{Status: &denied}); err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(29 * 24 * time.Hour) // 31 days after t0

			st, err := b.portal.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Purged != tc.wantGuests {
				t.Fatalf("RunOnce = %+v, want %d purged", st, tc.wantGuests)
			}
			removed := map[string]bool{}
			for _, n := range tc.wantRemoved {
				removed[n] = true
			}
			for name, id := range ids {
				_, err := b.store.GetGuest(ctx, id)
				if gone := err != nil; gone != removed[name] {
					t.Errorf("%s: gone %v (%v), want %v", name, gone, err, removed[name])
				}
			}
			_, err = b.store.GetMail(ctx, oldMail)
			if gone := err != nil; gone != (tc.purgeAfter >= 0) || (gone && st.MailPurged != 1) {
				t.Errorf("the old sent email: gone %v, MailPurged %d", gone, st.MailPurged)
			}
			if _, err := b.store.GetMail(ctx, stuck); err != nil {
				t.Errorf("a queued email was purged: %v", err)
			}
			if tc.wantGuests > 0 {
				entries, err := b.store.ListAudit(ctx, 0, 100)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, e := range entries {
					if e.Action == "guest.purge" {
						n++
					}
				}
				if n != tc.wantGuests {
					t.Errorf("%d guest.purge audit entries", n)
				}
			}
		})
	}
}
