package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// endpoint is one action of the API, with the permission it needs, the
// status a guest must have for it to apply, and what it answers.
type endpoint struct {
	name   string
	perm   storage.Permission
	status storage.GuestStatus // "": no guest (a create)
	method string
	path   string // %s: the guest's ID
	body   func(n int) any
	ok     int
	action string // the audit entry's action
}

var endpoints = []endpoint{
	{"resend", storage.PermResend, storage.GuestActive, "POST", "/guests/%s/resend", nil, 200, "guest.resend"},
	{"reset password", storage.PermResetPassword, storage.GuestActive, "POST", "/guests/%s/reset-password", nil, 200, "guest.reset_password"},
	{"extend", storage.PermExtend, storage.GuestActive, "POST", "/guests/%s/extend", func(int) any { return map[string]string{"by": "1d"} }, 200, "guest.extend"},
	{"suspend", storage.PermSuspend, storage.GuestActive, "POST", "/guests/%s/suspend", func(int) any { return map[string]string{"reason": "left early"} }, 200, "guest.suspend"},
	{"reinstate", storage.PermSuspend, storage.GuestSuspended, "POST", "/guests/%s/reinstate", nil, 200, "guest.reinstate"},
	{"approve", storage.PermApprove, storage.GuestPending, "POST", "/guests/%s/approve", nil, 200, "guest.approve"},
	{"deny", storage.PermApprove, storage.GuestPending, "POST", "/guests/%s/deny", func(int) any { return map[string]string{"reason": "unknown"} }, 200, "guest.deny"},
	{"delete", storage.PermDelete, storage.GuestActive, "DELETE", "/guests/%s", nil, 204, "guest.delete"},
	{"create", storage.PermCreate, "", "POST", "/guests", func(n int) any {
		return map[string]any{"first_name": "New", "last_name": "Guest" + string(rune('a'+n)), "email": fmt.Sprintf("new%d@guest.example", n), "validity": "2d"}
	}, 201, "guest.create"},
	{"batch", storage.PermBatch, "", "POST", "/guests/batch", func(n int) any {
		return map[string]any{"count": 2, "prefix": fmt.Sprintf("b%d", n)}
	}, 201, "guest.batch"},
}

// allBut is every permission but p.
func allBut(p storage.Permission) []storage.Permission {
	var out []storage.Permission
	for _, q := range storage.AllPermissions {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

// snapshot is what a refused request must leave as it was.
func (b *bundle) snapshot(t *testing.T, id uuid.UUID) string {
	t.Helper()
	g, err := b.store.GetGuest(t.Context(), id)
	if err != nil {
		return "gone: " + err.Error()
	}
	return fmt.Sprintf("%s %s %s %s %d", g.Status, g.ValidUntil, g.UpdatedAt, g.Password, len(b.audit(t, id.String())))
}

// countGuests counts every guest in the store.
func (b *bundle) countGuests(t *testing.T) int {
	t.Helper()
	page, err := b.store.ListGuests(t.Context(), storage.GuestFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Guests)
}

// TestPermissions: for every endpoint, a sponsor group without the
// permission it needs gets 403 and nothing changes; a group with only that
// permission gets it done, audited with the staff user as actor "via API".
func TestPermissions(t *testing.T) {
	t.Parallel()
	eachBackend(t, options{}, func(t *testing.T, b *bundle) {
		for i, e := range endpoints {
			without, with := fmt.Sprintf("without-%d", i), fmt.Sprintf("with-%d", i)
			b.group(t, without, false, allBut(e.perm)...)
			b.group(t, with, false, e.perm)
			no, yes := b.staff(t, "no"+fmt.Sprint(i), storage.RoleSponsor, without), b.staff(t, "yes"+fmt.Sprint(i), storage.RoleSponsor, with)
			noTok, _ := b.token(t, no, time.Time{})
			yesTok, _ := b.token(t, yes, time.Time{})
			path, subject := e.path, ""
			var body any
			if e.body != nil {
				body = e.body(i)
			}
			var before string
			if e.status != "" {
				// Each sponsor's own guest: only the permission is missing.
				mine := b.guest(t, fmt.Sprintf("Mine%d", i), no, e.status)
				before = b.snapshot(t, mine.ID)
				r := b.call(t, noTok, e.method, fmt.Sprintf(path, mine.ID), body)
				if r.status != http.StatusForbidden {
					t.Fatalf("%s without %s: %d, want 403: %s", e.name, e.perm, r.status, r.body)
				}
				if p := r.problem(t); !strings.Contains(p.Detail, "does not allow") {
					t.Errorf("%s without %s: detail %q", e.name, e.perm, p.Detail)
				}
				if after := b.snapshot(t, mine.ID); after != before {
					t.Errorf("%s without %s changed the guest: %s -> %s", e.name, e.perm, before, after)
				}
				g := b.guest(t, fmt.Sprintf("Yours%d", i), yes, e.status)
				path, subject = fmt.Sprintf(path, g.ID), g.ID.String()
			} else {
				n := b.countGuests(t)
				r := b.call(t, noTok, e.method, path, body)
				if r.status != http.StatusForbidden {
					t.Fatalf("%s without %s: %d, want 403: %s", e.name, e.perm, r.status, r.body)
				}
				r.problem(t)
				if b.countGuests(t) != n {
					t.Errorf("%s without %s created guests", e.name, e.perm)
				}
			}
			r := b.call(t, yesTok, e.method, path, body)
			if r.status != e.ok {
				t.Fatalf("%s with %s: %d, want %d: %s", e.name, e.perm, r.status, e.ok, r.body)
			}
			switch e.name {
			case "create":
				var res GuestResult
				r.decode(t, &res)
				subject = res.Guest.ID.String()
			case "batch":
				subject = fmt.Sprintf("b%d", i)
			}
			es := b.audit(t, subject)
			if len(es) == 0 || es[0].Action != e.action || es[0].Actor != "staff:"+yes.Username || !strings.Contains(es[0].Detail, "via API") {
				t.Errorf("%s: audit %+v; want %s by staff:%s via API", e.name, es, e.action, yes.Username)
			}
		}
	})
}

// TestOtherSponsorsGuest: a sponsor's token cannot read or touch another
// sponsor's guest: 403 problem, and nothing changes; the list leaves the
// guest out. A group that manages all may.
func TestOtherSponsorsGuest(t *testing.T) {
	t.Parallel()
	eachBackend(t, options{}, func(t *testing.T, b *bundle) {
		ann, bob := b.staff(t, "ann", storage.RoleSponsor, ""), b.staff(t, "bob", storage.RoleSponsor, "")
		bobTok, _ := b.token(t, bob, time.Time{})
		for i, e := range endpoints {
			if e.status == "" {
				continue
			}
			g := b.guest(t, fmt.Sprintf("Anns%d", i), ann, e.status)
			before := b.snapshot(t, g.ID)
			var body any
			if e.body != nil {
				body = e.body(i)
			}
			r := b.call(t, bobTok, e.method, fmt.Sprintf(e.path, g.ID), body)
			if r.status != http.StatusForbidden {
				t.Fatalf("%s on another sponsor's guest: %d, want 403: %s", e.name, r.status, r.body)
			}
			if p := r.problem(t); !strings.Contains(p.Detail, "not your guest") {
				t.Errorf("%s: detail %q", e.name, p.Detail)
			}
			if after := b.snapshot(t, g.ID); after != before {
				t.Errorf("%s changed another sponsor's guest: %s -> %s", e.name, before, after)
			}
		}
		g := b.guest(t, "Private", ann, storage.GuestActive)
		if r := b.call(t, bobTok, "GET", "/guests/"+g.ID.String(), nil); r.status != http.StatusForbidden {
			t.Errorf("GET another sponsor's guest: %d, want 403", r.status)
		} else {
			r.problem(t)
		}
		var list GuestList
		b.call(t, bobTok, "GET", "/guests", nil).decode(t, &list)
		if len(list.Guests) != 0 {
			t.Errorf("bob's list holds %d guests of ann's", len(list.Guests))
		}

		b.group(t, "desk", true, storage.PermSuspend)
		cat := b.staff(t, "cat", storage.RoleSponsor, "desk")
		catTok, _ := b.token(t, cat, time.Time{})
		if r := b.call(t, catTok, "POST", "/guests/"+g.ID.String()+"/suspend", map[string]string{"reason": "desk"}); r.status != http.StatusOK {
			t.Errorf("suspend by a group that manages all: %d %s", r.status, r.body)
		}
	})
}

// TestList: the list pages with a cursor, filters by status, searches,
// sorts by expiry, and refuses bad parameters with field errors.
func TestList(t *testing.T) {
	t.Parallel()
	eachBackend(t, options{}, func(t *testing.T, b *bundle) {
		ann := b.staff(t, "ann", storage.RoleSponsor, "")
		tok, _ := b.token(t, ann, time.Time{})
		var names []string
		for i := range 5 {
			g := b.guest(t, fmt.Sprintf("Name%d", i), ann, storage.GuestActive)
			names = append(names, g.FirstName)
		}
		b.guest(t, "Waiting", ann, storage.GuestPending)
		// Pending with ann as the person visited, sponsored by nobody.
		visitor := &storage.Guest{Username: "visitor@guest.example", Email: "visitor@guest.example", FirstName: "Visitor",
			PersonVisited: ann.Email, Status: storage.GuestPending, GuestType: "daily", ValidFrom: b.clock.Now(), ValidUntil: b.clock.Now().Add(time.Hour)}
		if err := b.store.CreateGuest(t.Context(), visitor); err != nil {
			t.Fatal(err)
		}

		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("the pages do not end")
			}
			var l GuestList
			r := b.call(t, tok, "GET", "/guests?status=active&limit=2&after="+after, nil)
			if r.status != http.StatusOK {
				t.Fatalf("list: %d %s", r.status, r.body)
			}
			r.decode(t, &l)
			for _, g := range l.Guests {
				got = append(got, g.FirstName)
				if g.Password != "" {
					t.Errorf("the list shows %s's password", g.FirstName)
				}
			}
			if after = l.Next; after == "" {
				break
			}
		}
		want := slices.Clone(names)
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Errorf("paged list = %v, want %v (newest first)", got, want)
		}

		var l GuestList
		b.call(t, tok, "GET", "/guests?q=name3", nil).decode(t, &l)
		if len(l.Guests) != 1 || l.Guests[0].FirstName != "Name3" {
			t.Errorf("search name3 = %+v", l.Guests)
		}
		l = GuestList{}
		b.call(t, tok, "GET", "/guests?status=pending", nil).decode(t, &l)
		var pending []string
		for _, g := range l.Guests {
			pending = append(pending, g.FirstName)
		}
		if !slices.Equal(pending, []string{"Visitor", "Waiting"}) {
			t.Errorf("pending = %v; want the visitor (person visited) and ann's own", pending)
		}
		l = GuestList{}
		b.call(t, tok, "GET", "/guests?sort=expiry&status=active&limit=1", nil).decode(t, &l)
		if len(l.Guests) != 1 || l.Guests[0].FirstName != "Name0" || l.Next == "" {
			t.Errorf("by expiry = %+v", l)
		}

		for _, q := range []string{"status=gone", "sort=name", "limit=0", "limit=x", "after=bogus", "q=" + strings.Repeat("x", 201)} {
			r := b.call(t, tok, "GET", "/guests?"+q, nil)
			if r.status != http.StatusUnprocessableEntity {
				t.Errorf("list ?%.20s: %d, want 422", q, r.status)
				continue
			}
			if p := r.problem(t); len(p.Errors) == 0 || !strings.HasPrefix(q, p.Errors[0].Field+"=") {
				t.Errorf("list ?%.20s: errors %+v", q, p.Errors)
			}
		}
	})
}
