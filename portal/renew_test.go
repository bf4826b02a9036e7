package portal

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// A returning guest whose registration has run its course (expired, denied,
// or pending past the approval window) registers again: the same address
// gets a new registration with a new password and validity, and the email
// it calls for.
func TestRegisterRenews(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		approval bool
		status   storage.GuestStatus
		age      time.Duration // how long ago the first registration was
		renews   bool
	}{
		{"expired", false, storage.GuestExpired, 48 * time.Hour, true},
		{"denied, within the cooloff", false, storage.GuestDenied, time.Hour, false},
		{"denied, past the cooloff", false, storage.GuestDenied, 7*24*time.Hour + time.Minute, true},
		{"active past its validity (jobs not run yet)", false, storage.GuestActive, 25 * time.Hour, true},
		{"pending past the approval window", true, storage.GuestPending, 2 * time.Hour, true},
		{"denied, with approval, within the cooloff", true, storage.GuestDenied, time.Minute, false},
		{"denied, with approval, past the cooloff", true, storage.GuestDenied, 8 * 24 * time.Hour, true},
		{"pending within the approval window", true, storage.GuestPending, 30 * time.Minute, false},
		{"active", false, storage.GuestActive, time.Hour, false},
		{"suspended", false, storage.GuestSuspended, 48 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) {
				c.Policy.RequireApproval = tc.approval
				c.Policy.Approvers = []string{"boss@example.com"}
				c.Policy.ApprovalLinkTTL = time.Hour
				c.Policy.SuccessWait = time.Millisecond
			})
			ctx := context.Background()
			old := registered(t, b, "ada@example.com")
			notified := b.clock.Now()
			if _, err := b.store.UpdateGuest(ctx, old.ID, storage.GuestUpdate{Status: &tc.status, ExpiryNotifiedAt: &notified}); err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(tc.age)
			mailsBefore := b.mailSeen(t)

			c := b.client(t)
			form := c.registerForm()
			form.Set("first_name", "Augusta")
			form.Set("company", "Difference Engines Ltd")
			r := c.post(mount+"/register", form)
			if r.StatusCode != 303 && tc.renews {
				t.Fatalf("register again: %d\n%s", r.StatusCode, r.body)
			}
			gs := b.guests(t)
			if len(gs) != 1 {
				t.Fatalf("%d guests, want the one", len(gs))
			}
			g := gs[0]
			if !tc.renews {
				if g.ID != old.ID || g.Password != old.Password || g.Status != tc.status || g.FirstName != "Ada" {
					t.Fatalf("a %s guest was changed: %+v", tc.status, g)
				}
				return
			}
			want := storage.GuestActive
			if tc.approval {
				want = storage.GuestPending
			}
			now := b.clock.Now()
			if g.Email != "ada@example.com" || g.Status != want || g.Password == old.Password || len(g.Password) != DefaultPasswordLength ||
				!g.ValidFrom.Equal(now) || !g.ValidUntil.Equal(now.Add(24*time.Hour)) || !g.ExpiryNotifiedAt.IsZero() ||
				g.FirstName != "Augusta" || g.Company != "Difference Engines Ltd" || !g.CreatedAt.Equal(now) ||
				!g.SessionsValidAfter.Equal(now) {
				t.Fatalf("renewed guest: status %s, valid %v to %v, expiry notified %v, %s of %s, created %v, sessions valid after %v (now %v)",
					g.Status, g.ValidFrom, g.ValidUntil, g.ExpiryNotifiedAt, g.FirstName, g.Company, g.CreatedAt, g.SessionsValidAfter, now)
			}
			if g.Username != old.Username {
				t.Fatalf("username %q, want the old %q", g.Username, old.Username)
			}
			if _, err := b.store.GetGuest(ctx, old.ID); err == nil && g.ID != old.ID {
				t.Fatal("the old registration is still there beside the new one")
			}
			msgs := b.mailSince(t, mailsBefore)
			if tc.approval {
				kinds := map[string]string{}
				for _, m := range msgs {
					kinds[m.Kind] = m.To[0]
					if m.Kind == KindApproval && !strings.Contains(m.Text, "Difference Engines Ltd") {
						t.Fatal("the approval request shows the old registration's details")
					}
				}
				if len(msgs) != 2 || kinds[KindPending] != "ada@example.com" || kinds[KindApproval] != "boss@example.com" {
					t.Fatalf("emails after renewing: %v", kinds)
				}
			} else {
				if len(msgs) != 1 || msgs[0].Kind != KindCredentials || field(t, msgs[0].Text, "Password") != g.Password {
					t.Fatalf("emails after renewing: %+v", msgs)
				}
			}
			page := c.get(r.location())
			if page.StatusCode != 200 || !strings.Contains(page.body, "Augusta Lovelace") {
				t.Fatalf("success page: %d\n%s", page.StatusCode, page.body)
			}
			// The old password no longer signs in; the new one does (when active).
			lc := b.client(t)
			if r := lc.login(g.Username, old.Password, ""); r.StatusCode != 401 {
				t.Fatalf("old password: %d", r.StatusCode)
			}
			if !tc.approval {
				if r := lc.login(g.Username, g.Password, ""); r.StatusCode != 303 {
					t.Fatalf("new password: %d", r.StatusCode)
				}
			}
		})
	}
}

// A renewal and its email commit together: when the email cannot be queued
// the old registration stays as it was.
func TestRegisterRenewIsOneTransaction(t *testing.T) {
	t.Parallel()
	outbox := &failingOutbox{}
	b := setup(t, func(c *Config) { outbox.Store = c.Store; c.Store = outbox })
	ctx := context.Background()
	old := registered(t, b, "ada@example.com")
	expired := storage.GuestExpired
	if _, err := b.store.UpdateGuest(ctx, old.ID, storage.GuestUpdate{Status: &expired}); err != nil {
		t.Fatal(err)
	}
	outbox.fail.Store(true)
	c := b.client(t)
	if r := c.post(mount+"/register", c.registerForm()); r.StatusCode != 500 {
		t.Fatalf("register with a failing outbox: %d", r.StatusCode)
	}
	cur, err := b.store.GetGuest(ctx, old.ID)
	if err != nil || cur.Status != storage.GuestExpired || cur.Password != old.Password {
		t.Fatalf("after a failed renewal: %+v, %v", cur, err)
	}
	if n := len(b.guests(t)); n != 1 {
		t.Fatalf("%d guests", n)
	}
}

// failingOutbox is a store whose outbox refuses every message while fail is set.
type failingOutbox struct {
	storage.Store
	fail atomic.Bool
}

func (s *failingOutbox) WithTx(ctx context.Context, fn func(storage.Store) error) error {
	return s.Store.WithTx(ctx, func(tx storage.Store) error { return fn(&txOutbox{Store: tx, fail: &s.fail}) })
}

type txOutbox struct {
	storage.Store
	fail *atomic.Bool
}

func (s *txOutbox) EnqueueMail(ctx context.Context, m *storage.OutboxMessage) error {
	if s.fail.Load() {
		return errors.New("outbox refused the message (test)")
	}
	return s.Store.EnqueueMail(ctx, m)
}

// racingStore changes the guest it has just looked up by email, once: a
// sponsor acting between the register page's read and its write.
type racingStore struct {
	storage.Store
	once   sync.Once
	change func(g *storage.Guest)
}

func (s *racingStore) GetGuestByEmail(ctx context.Context, email string) (*storage.Guest, error) {
	g, err := s.Store.GetGuestByEmail(ctx, email)
	if err == nil && s.change != nil {
		s.once.Do(func() { s.change(g) })
	}
	return g, err
}

// A renewal applies only to the registration as it read it: one changed
// meanwhile (here: reinstated by a sponsor) is not replaced.
func TestRegisterRenewLosesToAChange(t *testing.T) {
	t.Parallel()
	rs := &racingStore{}
	b := setup(t, func(c *Config) { rs.Store = c.Store; c.Store = rs; c.Policy.SuccessWait = time.Millisecond })
	ctx := context.Background()
	old := registered(t, b, "ada@example.com")
	expired, suspended := storage.GuestExpired, storage.GuestSuspended
	if _, err := b.store.UpdateGuest(ctx, old.ID, storage.GuestUpdate{Status: &expired}); err != nil {
		t.Fatal(err)
	}
	rs.change = func(g *storage.Guest) {
		if _, err := b.store.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Status: &suspended}); err != nil {
			t.Error(err)
		}
	}
	c := b.client(t)
	if r := c.post(mount+"/register", c.registerForm()); r.StatusCode != 303 {
		t.Fatalf("register: %d\n%s", r.StatusCode, r.body)
	}
	cur, err := b.store.GetGuest(ctx, old.ID)
	if err != nil || cur.Status != storage.GuestSuspended || cur.Password != old.Password {
		t.Fatalf("the changed registration: %+v, %v", cur, err)
	}
	if n := len(b.guests(t)); n != 1 {
		t.Fatalf("%d guests", n)
	}
}

// A denied address may not register again within DeniedCooloff (negative:
// never, until purged): the registration is answered as for a new address
// and sends nothing.
func TestRegisterDeniedCooloff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cool   time.Duration
		age    time.Duration
		renews bool
	}{
		{"default, a minute after", 0, time.Minute, false},
		{"default, six days after", 0, 6 * 24 * time.Hour, false},
		{"default, just over seven days after", 0, 7*24*time.Hour + time.Second, true},
		{"an hour, two hours after", time.Hour, 2 * time.Hour, true},
		{"negative, a year after", -1, 365 * 24 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) {
				c.Policy.SuccessWait = time.Millisecond
				c.Policy.DeniedCooloff = tc.cool
				c.Policy.PurgeAfter = -1
			})
			ctx := context.Background()
			old := registered(t, b, "ada@example.com")
			denied := storage.GuestDenied
			if _, err := b.store.UpdateGuest(ctx, old.ID, storage.GuestUpdate{Status: &denied}); err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(tc.age)
			seen := b.mailSeen(t)
			c := b.client(t)
			r, page := c.registerAs("Ada", "Lovelace", "ada@example.com")
			_, fpage := b.client(t).registerAs("Eve", "Lovelace", "eve@example.com")
			gs := b.guests(t)
			var cur *storage.Guest
			for _, g := range gs {
				if g.Email == "ada@example.com" {
					cur = g
				}
			}
			if cur == nil {
				t.Fatal("the address has no guest")
			}
			if !tc.renews {
				if cur.ID != old.ID || cur.Status != storage.GuestDenied {
					t.Fatalf("a denied guest was renewed within the cooloff: %+v", cur)
				}
				for _, m := range b.mailSince(t, seen) {
					if m.To[0] == "ada@example.com" {
						t.Fatalf("sent %s to the denied address", m.Kind)
					}
				}
				if !successPathRe.MatchString(r.location()) || page.StatusCode != 200 || fpage.StatusCode != 200 ||
					!strings.Contains(page.body, "You are registered") || !strings.Contains(fpage.body, "You are registered") {
					t.Fatalf("the denied address's answer differs from a new one's: %d %q\n%s", page.StatusCode, r.location(), page.body)
				}
				return
			}
			if cur.ID == old.ID || cur.Status != storage.GuestActive {
				t.Fatalf("not renewed past the cooloff: %+v", cur)
			}
		})
	}
}

// A renewal keeps who was replaced in the audit log, with the registration
// form as the actor; under the "generated" policy the new guest gets a new
// username.
func TestRegisterRenewAudit(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{UsernameEmail, UsernameGenerated} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) { c.Policy.SuccessWait = time.Millisecond; c.Policy.UsernamePolicy = policy })
			ctx := context.Background()
			old := registered(t, b, "ada@example.com")
			b.clock.Advance(25 * time.Hour)
			b.client(t).registerAs("Mallory", "Lovelace", "ada@example.com")
			gs := b.guests(t)
			if len(gs) != 1 || gs[0].ID == old.ID {
				t.Fatalf("not renewed: %d guests", len(gs))
			}
			g := gs[0]
			if policy == UsernameGenerated && (g.Username == old.Username || !strings.HasPrefix(g.Username, "guest-")) {
				t.Fatalf("renewed username %q, old %q: want a new generated one", g.Username, old.Username)
			}
			if policy == UsernameEmail && g.Username != "ada@example.com" {
				t.Fatalf("renewed username %q", g.Username)
			}
			entries, err := b.store.ListAudit(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var renew *storage.AuditEntry
			for i := range entries {
				if entries[i].Action == "guest.renew" {
					renew = &entries[i]
				}
			}
			if renew == nil {
				t.Fatalf("no guest.renew entry in %+v", entries)
			}
			if renew.Actor != "registration" || renew.Subject != g.ID.String() {
				t.Fatalf("renew entry: actor %q subject %q", renew.Actor, renew.Subject)
			}
			for _, want := range []string{old.ID.String(), old.Username, old.FirstName, old.LastName, old.Company, string(old.Status),
				old.ValidUntil.UTC().Format(time.RFC3339)} {
				if !strings.Contains(renew.Detail, want) {
					t.Errorf("renew detail %q lacks %q", renew.Detail, want)
				}
			}
		})
	}
}
