package portal

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// With nothing configured, a guest registered now gets the expiry notice
// when its window opens: the default one-day type's notice is a quarter of
// its validity (6 hours), not 24 hours, which no one-day guest would ever
// get.
func TestExpiryNoticeWithTheDefaults(t *testing.T) {
	t.Parallel()
	b := setup(t, nil) // no ExpiryNotice, no guest types: the defaults
	ctx := context.Background()
	c := b.client(t)
	if r := c.post(mount+"/register", c.registerForm()); r.StatusCode != 303 {
		t.Fatalf("register: %d\n%s", r.StatusCode, r.body)
	}
	gs := b.guests(t)
	if len(gs) != 1 {
		t.Fatalf("%d guests", len(gs))
	}
	g := gs[0]
	if got := g.ValidUntil.Sub(g.ValidFrom); got != DefaultGuestValidity {
		t.Fatalf("a default guest stays %s, want %s", got, DefaultGuestValidity)
	}
	opens := g.ValidUntil.Add(-6 * time.Hour)
	expiries := func() int {
		n := 0
		for _, m := range b.outbox(t) {
			if m.Kind == KindExpiry {
				n++
			}
		}
		return n
	}

	// Up to the moment the window opens: nothing.
	b.clock.Advance(opens.Sub(b.clock.Now()))
	if st, err := b.portal.RunOnce(ctx); err != nil || st.Notified != 0 {
		t.Fatalf("RunOnce before the notice window = %+v, %v", st, err)
	}
	if n := expiries(); n != 0 {
		t.Fatalf("%d expiry emails before the window opened", n)
	}
	// A second later: the notice, once.
	b.clock.Advance(time.Second)
	if st, err := b.portal.RunOnce(ctx); err != nil || st.Notified != 1 {
		t.Fatalf("RunOnce as the notice window opens = %+v, %v; want 1 notice", st, err)
	}
	m := b.mailTo(t, KindExpiry, "ada@example.com")
	if m == nil {
		t.Fatal("no expiry email")
	}
	if cur, err := b.store.GetGuest(ctx, g.ID); err != nil || !cur.ExpiryNotifiedAt.Equal(opens.Add(time.Second)) {
		t.Fatalf("guest after the notice: %+v, %v", cur, err)
	}
	b.clock.Advance(time.Minute)
	if st, err := b.portal.RunOnce(ctx); err != nil || st.Notified != 0 {
		t.Fatalf("RunOnce after the notice = %+v, %v", st, err)
	}
	if n := expiries(); n != 1 {
		t.Fatalf("%d expiry emails, want 1", n)
	}
}

// Guest types from the configuration are written at start-up, and each
// type's own notice decides when its guests are told.
func TestGuestTypesFromConfig(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.Policy.DefaultGuestType = "visitor"
		c.Policy.GuestTypes = []storage.GuestType{
			{Name: "visitor", DefaultDuration: 8 * time.Hour, MaxDuration: 72 * time.Hour, ExpiryNotice: time.Hour},
			{Name: "contractor", DefaultDuration: 30 * 24 * time.Hour, ExpiryNotice: 3 * 24 * time.Hour},
			{Name: "quiet", DefaultDuration: 48 * time.Hour, ExpiryNotice: -1},
		}
	})
	ctx := context.Background()
	vis, err := b.store.GetGuestType(ctx, "visitor")
	if err != nil || vis.DefaultDuration != 8*time.Hour || vis.MaxDuration != 72*time.Hour || vis.ExpiryNotice != time.Hour {
		t.Fatalf("visitor = %+v, %v", vis, err)
	}
	con, err := b.store.GetGuestType(ctx, "contractor")
	if err != nil || con.MaxDuration != con.DefaultDuration {
		t.Fatalf("contractor (no maximum given: its validity) = %+v, %v", con, err)
	}
	if _, err := b.store.GetGuestType(ctx, DefaultGuestTypeName); err == nil {
		t.Fatal("the built-in default type was created although the configuration names another")
	}
	// The register page offers the configured validity.
	c := b.client(t)
	if r := c.get(mount + "/register"); !strings.Contains(r.body, "8 hours") {
		t.Fatalf("the register page does not say 8 hours:\n%s", r.body)
	}

	now := b.clock.Now()
	mk := func(email, typ string, until time.Duration) {
		g := &storage.Guest{ID: uuid.New(), Username: email, Password: "pw", FirstName: "F", LastName: "L", Email: email,
			GuestType: typ, Status: storage.GuestActive, ValidFrom: now.Add(-10 * 24 * time.Hour), ValidUntil: now.Add(until)}
		if err := b.store.CreateGuest(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	mk("v-due@example.com", "visitor", 59*time.Minute)     // within its hour
	mk("v-later@example.com", "visitor", 2*time.Hour)      // not yet
	mk("c-due@example.com", "contractor", 2*24*time.Hour)  // within its 3 days
	mk("q@example.com", "quiet", time.Hour)                // never
	mk("gone@example.com", "deleted-type", 30*time.Minute) // an unknown type: the default type's notice
	mk("gone-later@example.com", "deleted-type", 2*time.Hour)
	st, err := b.portal.RunOnce(ctx)
	if err != nil || st.Notified != 3 {
		t.Fatalf("RunOnce = %+v, %v; want 3 notices", st, err)
	}
	got := map[string]bool{}
	for _, m := range b.outbox(t) {
		if m.Kind == KindExpiry {
			got[m.To[0]] = true
		}
	}
	for _, want := range []string{"v-due@example.com", "c-due@example.com", "gone@example.com"} {
		if !got[want] {
			t.Errorf("no notice to %s; notices: %v", want, got)
		}
	}
}

func TestGuestTypeConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Policy: Policy{GuestTypes: []storage.GuestType{
		{Name: "", DefaultDuration: time.Hour},
		{Name: "zero"},
		{Name: "short-max", DefaultDuration: 48 * time.Hour, MaxDuration: 24 * time.Hour},
		{Name: "late", DefaultDuration: 24 * time.Hour, ExpiryNotice: 24 * time.Hour},
		{Name: "twice", DefaultDuration: time.Hour},
		{Name: "twice", DefaultDuration: time.Hour},
	}}})
	if err == nil {
		t.Fatal("bad guest types were accepted")
	}
	for _, want := range []string{
		"GuestTypes[0] needs a name",
		`guest type "zero": the validity must be positive`,
		`guest type "short-max": the maximum validity 24h0m0s is shorter than the validity 48h0m0s`,
		`guest type "late": the expiry notice 24h0m0s must be shorter than the validity 24h0m0s`,
		`guest type "twice" is listed twice`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestDefaultExpiryNotice(t *testing.T) {
	t.Parallel()
	p := &Portal{}
	for _, c := range []struct {
		gt     storage.GuestType
		policy time.Duration
		want   time.Duration
	}{
		{storage.GuestType{DefaultDuration: 24 * time.Hour}, 0, 6 * time.Hour},
		{storage.GuestType{DefaultDuration: 8 * time.Hour}, 0, 2 * time.Hour},
		{storage.GuestType{DefaultDuration: 30 * 24 * time.Hour}, 0, MaxDefaultExpiryNotice},
		{storage.GuestType{DefaultDuration: 24 * time.Hour, ExpiryNotice: time.Hour}, 0, time.Hour},
		{storage.GuestType{DefaultDuration: 24 * time.Hour, ExpiryNotice: time.Hour}, 3 * time.Hour, time.Hour},
		{storage.GuestType{DefaultDuration: 24 * time.Hour}, 3 * time.Hour, 3 * time.Hour},
		{storage.GuestType{DefaultDuration: 24 * time.Hour}, -1, 0},
		{storage.GuestType{DefaultDuration: 24 * time.Hour, ExpiryNotice: -1}, 3 * time.Hour, 0},
	} {
		p.cfg.Policy.ExpiryNotice = c.policy
		if got := p.expiryNotice(&c.gt); got != c.want {
			t.Errorf("expiryNotice(%+v) with policy %s = %s, want %s", c.gt, c.policy, got, c.want)
		}
	}
}
