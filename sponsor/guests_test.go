package sponsor

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

var guestLinkRe = regexp.MustCompile(`class="name" href="[^"]*guests/([0-9a-f-]{36})"`)

// listed returns the guest IDs a guests page links, in page order.
func listed(body string) []string {
	var ids []string
	for _, m := range guestLinkRe.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func ids(gs ...*storage.Guest) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.ID.String())
	}
	return out
}

func equal(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func TestListScoping(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		if err := b.store.PutSponsorGroup(t.Context(), storage.SponsorGroup{Name: "desk", ManageAll: true,
			Permissions: storage.AllPermissions}); err != nil {
			t.Fatal(err)
		}
		a := b.staff(t, "anna", pw, storage.RoleSponsor, "")
		bee := b.staff(t, "bert", pw, storage.RoleSponsor, "")
		b.staff(t, "desk", pw, storage.RoleSponsor, "desk")
		b.staff(t, "root", pw, storage.RoleAdmin, "")
		ga := b.guest(t, "Ada", "Lovelace", a, storage.GuestActive, 24*time.Hour)
		gb := b.guest(t, "Bob", "Builder", bee, storage.GuestActive, 24*time.Hour)
		self := b.guest(t, "Sam", "Self", nil, storage.GuestActive, 24*time.Hour)

		for _, tc := range []struct {
			user string
			want []string
		}{
			{"anna", ids(ga)},
			{"bert", ids(gb)},
			{"desk", ids(self, gb, ga)},
			{"root", ids(self, gb, ga)},
		} {
			c := b.client(t)
			c.mustSignIn(tc.user, pw)
			r := c.get("/")
			if r.status != http.StatusOK || !equal(listed(r.body), tc.want) {
				t.Errorf("%s sees %v (%d); want %v", tc.user, listed(r.body), r.status, tc.want)
			}
		}

		c := b.client(t)
		c.mustSignIn("anna", pw)
		if r := c.get("/guests/" + gb.ID.String()); r.status != http.StatusForbidden || strings.Contains(r.body, "Bob") {
			t.Errorf("anna opens bert's guest: %d; want 403 without the guest's details", r.status)
		}
		if r := c.get("/guests/" + uuid.NewString()); r.status != http.StatusNotFound {
			t.Errorf("a missing guest: %d, want 404", r.status)
		}
		if r := c.get("/guests/not-a-uuid"); r.status != http.StatusNotFound {
			t.Errorf("a malformed guest ID: %d, want 404", r.status)
		}
		if r := c.get("/guests/" + ga.ID.String()); r.status != http.StatusOK || !strings.Contains(r.body, "Ada Lovelace") {
			t.Errorf("anna opens her guest: %d", r.status)
		}
		desk := b.client(t)
		desk.mustSignIn("desk", pw)
		if r := desk.get("/guests/" + gb.ID.String()); r.status != http.StatusOK {
			t.Errorf("a ManageAll sponsor opens bert's guest: %d, want 200", r.status)
		}

		// Not signed in: to the sign-in page.
		anon := b.client(t)
		if r := anon.get("/guests/" + ga.ID.String()); r.status != http.StatusSeeOther || !strings.HasSuffix(r.location, "../login") {
			t.Errorf("a guest page signed out: %d to %q, want a redirect to ../login", r.status, r.location)
		}
	})
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		a := b.staff(t, "anna", pw, storage.RoleSponsor, "")
		b.staff(t, "empty", pw, storage.RoleSponsor, "")
		g1 := b.guest(t, "Ada", "Lovelace", a, storage.GuestActive, 48*time.Hour)
		g2 := b.guest(t, "Grace", "Hopper", a, storage.GuestPending, 12*time.Hour)
		g3 := b.guest(t, "Alan", "Turing", a, storage.GuestActive, 2*time.Hour)
		g4 := b.guest(t, "Edsger", "Dijkstra", a, storage.GuestSuspended, 30*time.Hour)
		g5 := b.guest(t, "Barbara", "Liskov", a, storage.GuestActive, 6*time.Hour)

		empty := b.client(t)
		empty.mustSignIn("empty", pw)
		if r := empty.get("/"); !strings.Contains(r.body, "You have no guests yet") {
			t.Errorf("a sponsor without guests: %s", r.body)
		}

		c := b.client(t)
		c.mustSignIn("anna", pw)
		for _, tc := range []struct {
			name, query string
			want        []string
			next        bool
		}{
			{"newest first, page 1", "/", ids(g5, g4, g3), true},
			{"search name", "/?q=hopper", ids(g2), false},
			{"search company", "/?q=Acme+Turing", ids(g3), false},
			{"search email", "/?q=ada%40guest.example", ids(g1), false},
			{"search username", "/?q=edsger.dijkstra", ids(g4), false},
			{"status active", "/?status=active", ids(g5, g3, g1), false},
			{"status pending", "/?status=pending", ids(g2), false},
			{"status expired", "/?status=expired", nil, false},
			{"expiry soonest", "/?sort=expiry", ids(g3, g5, g2), true},
			{"expiry, active", "/?sort=expiry&status=active", ids(g3, g5, g1), false},
		} {
			r := c.get(tc.query)
			if r.status != http.StatusOK || !equal(listed(r.body), tc.want) {
				t.Errorf("%s: %v (%d); want %v", tc.name, listed(r.body), r.status, tc.want)
			}
			if got := strings.Contains(r.body, "Next page"); got != tc.next {
				t.Errorf("%s: a next page link = %v, want %v", tc.name, got, tc.next)
			}
			if len(tc.want) == 0 && !strings.Contains(r.body, "No guests match") {
				t.Errorf("%s: no \"No guests match\"", tc.name)
			}
		}

		// Following "Next page" keeps the filter and sort.
		for _, tc := range []struct {
			start string
			want  []string
		}{
			{"/", ids(g2, g1)},
			{"/?sort=expiry", ids(g4, g1)},
		} {
			r := c.get(tc.start)
			m := regexp.MustCompile(`href="(\?[^"]*after=[^"]*)">Next page`).FindStringSubmatch(r.body)
			if m == nil {
				t.Fatalf("%s: no next page link", tc.start)
			}
			r = c.get("/" + strings.ReplaceAll(m[1], "&amp;", "&"))
			if !equal(listed(r.body), tc.want) || strings.Contains(r.body, "Next page") {
				t.Errorf("%s, page 2: %v; want %v and no further page", tc.start, listed(r.body), tc.want)
			}
		}
		if r := c.get("/?after=garbage"); r.status != http.StatusBadRequest {
			t.Errorf("a broken cursor: %d, want 400", r.status)
		}

		// The pending view has the decision buttons (see actions_test.go).
		r := c.get("/?status=pending")
		if !strings.Contains(r.body, "Pending approval") || !strings.Contains(r.body, `/approve">`) || !strings.Contains(r.body, `/deny">`) {
			t.Errorf("the pending view lacks its title or decision buttons: %s", r.body)
		}
		// No guest password on any of these pages.
		for _, g := range []*storage.Guest{g1, g2, g3, g4, g5} {
			if strings.Contains(r.body, g.Password) || strings.Contains(c.get("/").body, g.Password) {
				t.Fatalf("a guest's password is on the list")
			}
		}
	})
}

func TestGuestPage(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		a := b.staff(t, "anna", pw, storage.RoleSponsor, "")
		g := b.guest(t, "Ada", "Lovelace", a, storage.GuestActive, 26*time.Hour+30*time.Minute)
		ctx := t.Context()
		for _, e := range []storage.AuditEntry{
			{Actor: "staff:anna", Action: "guest.create", Subject: g.ID.String()},
			{Actor: "guest:ada.lovelace", Action: "guest.login", Subject: g.ID.String()},
			{Actor: "staff:anna", Action: "guest.extend", Subject: g.ID.String(), Detail: "by 2 hours"},
			{Actor: "staff:anna", Action: "guest.create", Subject: uuid.NewString()}, // another guest's
		} {
			if err := b.store.Audit(ctx, e); err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(time.Minute)
		}
		c := b.client(t)
		c.mustSignIn("anna", pw)
		r := c.get("/guests/" + g.ID.String())
		if r.status != http.StatusOK {
			t.Fatalf("guest page: %d", r.status)
		}
		for _, want := range []string{"Ada Lovelace", "ada@guest.example", "Acme Lovelace", "active", "Staff anna",
			"1 day 2 hours", "guest.login", "guest:ada.lovelace", "by 2 hours"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the guest page lacks %q", want)
			}
		}
		// Newest first, and only this guest's.
		ext, login, create := strings.Index(r.body, "guest.extend"), strings.Index(r.body, "guest.login"), strings.Index(r.body, "guest.create")
		if !(ext < login && login < create) || strings.Count(r.body, "guest.create") != 1 {
			t.Errorf("history not newest first or not only this guest's: extend %d, login %d, create %d", ext, login, create)
		}
		if strings.Contains(r.body, g.Password) {
			t.Fatal("the guest page shows the guest's password")
		}
	})
}

func TestTimeLeft(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Hour, "ended"}, {0, "ended"}, {30 * time.Second, "less than a minute"}, {time.Minute, "1 minute"},
		{90 * time.Minute, "1 hour 30 minutes"}, {49 * time.Hour, "2 days 1 hour"},
	} {
		if got := timeLeft(now.Add(tc.d), now); got != tc.want {
			t.Errorf("timeLeft(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := timeLeft(time.Time{}, now); got != "no end" {
		t.Errorf("timeLeft(zero) = %q", got)
	}
}

// TestRowDetails: the line under a guest's name leaves out what is empty
// and a username that is the email address.
func TestRowDetails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		g    storage.Guest
		want string
	}{
		{"self-registered", storage.Guest{Email: "ada@example.org", Username: "ada@example.org"}, "ada@example.org"},
		{"username differs in case", storage.Guest{Email: "Ada@Example.org", Username: "ada@example.org"}, "Ada@Example.org"},
		{"with company", storage.Guest{Email: "ada@example.org", Company: "Acme", Username: "ada@example.org"}, "ada@example.org · Acme"},
		{"generated username", storage.Guest{Email: "ada@example.org", Username: "guest-abc123"}, "ada@example.org · guest-abc123"},
		{"batch account", storage.Guest{Username: "guest-abc123"}, "guest-abc123"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := rowDetails(&tc.g); got != tc.want {
				t.Errorf("rowDetails = %q, want %q", got, tc.want)
			}
		})
	}
}
