package guest

import (
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// TestRunOnce: one run notifies the guests whose access ends within the
// notice, expires those past it, and purges those expired longer than
// PurgeAfter, with an audit entry each; a second run finds nothing.
func TestRunOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(c *Config) { c.Policy.ExpiryNotice = 6 * time.Hour; c.Policy.PurgeAfter = 24 * time.Hour }, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		soon := b.guest(t, storage.GuestActive) // ends in 24h
		later := b.guest(t, storage.GuestActive)
		b.clock.Advance(20 * time.Hour) // soon and later end in 4h: both within the notice
		if _, err := b.svc.Extend(ctx, System(), later.ID, b.clock.Now().Add(3*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		st, err := b.svc.RunOnce(ctx)
		if err != nil || st != (JobStats{Notified: 1}) {
			t.Fatalf("RunOnce = %+v, %v; want one notice", st, err)
		}
		if g := b.get(t, soon.ID); g.ExpiryNotifiedAt.IsZero() {
			t.Errorf("soon was not marked notified")
		}
		b.clock.Advance(5 * time.Hour)
		if st, err := b.svc.RunOnce(ctx); err != nil || st != (JobStats{Expired: 1}) {
			t.Fatalf("RunOnce after the end = %+v, %v; want one expired", st, err)
		}
		if g := b.get(t, soon.ID); g.Status != storage.GuestExpired {
			t.Errorf("soon is %s, want expired", g.Status)
		}
		b.clock.Advance(25 * time.Hour)
		st, err = b.svc.RunOnce(ctx)
		if err != nil || st.Purged != 1 {
			t.Fatalf("RunOnce a day after = %+v, %v; want one purged", st, err)
		}
		if _, err := b.store.GetGuest(ctx, soon.ID); err == nil {
			t.Errorf("soon was not purged")
		}
		var actions []string
		for _, e := range b.auditFor(t, soon.ID.String()) {
			actions = append(actions, e.Action+" by "+e.Actor)
		}
		if len(actions) != 2 || actions[0] != "guest.purge by system" || actions[1] != "guest.expire by system" {
			t.Errorf("audit of soon = %v", actions)
		}
		if st, err := b.svc.RunOnce(ctx); err != nil || st.Notified+st.Expired+st.Purged != 0 {
			t.Errorf("a run with nothing due = %+v, %v", st, err)
		}
	})
}
