package sponsor

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// snapshot is what an action may change about a guest, and around it.
type snapshot struct {
	found                 bool
	status                storage.GuestStatus
	validUntil, updatedAt time.Time
	password              string // a fingerprint: test output never shows a password
	audit, mail           int
}

func fingerprint(pw string) string {
	if pw == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(sum[:4])
}

func (b *bundle) snap(t *testing.T, g *storage.Guest) snapshot {
	t.Helper()
	ctx := t.Context()
	var s snapshot
	cur, err := b.store.GetGuest(ctx, g.ID)
	switch {
	case err == nil:
		s = snapshot{found: true, status: cur.Status, validUntil: cur.ValidUntil, updatedAt: cur.UpdatedAt, password: fingerprint(cur.Password)}
	case !errors.Is(err, storage.ErrNotFound):
		t.Fatal(err)
	}
	entries, err := b.store.ListAuditFor(ctx, g.ID.String(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	s.audit = len(entries)
	counts, err := b.store.CountMail(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range counts {
		s.mail += n
	}
	return s
}

// lastAudit is the newest audit entry about g.
func (b *bundle) lastAudit(t *testing.T, g *storage.Guest) storage.AuditEntry {
	t.Helper()
	entries, err := b.store.ListAuditFor(t.Context(), g.ID.String(), 0, 1)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no audit entry about %s (%v)", g.Username, err)
	}
	return entries[0]
}

// actionCases are the sponsor's actions: what each needs, the form it posts,
// and what it must have done.
var actionCases = []struct {
	name, path string
	perm       storage.Permission
	status     storage.GuestStatus // the guest's status before
	form       url.Values
	audit      string // the audit action the history shows
	notice     string // in the message on the page after
	check      func(t *testing.T, before, after snapshot)
}{
	{"resend", "resend", storage.PermResend, storage.GuestActive, nil, "guest.resend", "Queued: no mail sender in this process",
		func(t *testing.T, before, after snapshot) {
			if after.mail != before.mail+1 || after.password != before.password || after.status != before.status {
				t.Errorf("resend: mail %d→%d, password changed %v, status %s; want one email, the same password", before.mail, after.mail,
					after.password != before.password, after.status)
			}
		}},
	{"reset", "reset", storage.PermResetPassword, storage.GuestActive, nil, "guest.reset_password", "New password set",
		func(t *testing.T, before, after snapshot) {
			if after.mail != before.mail+1 || after.password == before.password || after.password == "" {
				t.Errorf("reset: mail %d→%d, password changed %v; want one email and a new password", before.mail, after.mail, after.password != before.password)
			}
		}},
	{"extend", "extend", storage.PermExtend, storage.GuestActive, url.Values{"by": {"24h0m0s"}}, "guest.extend", "extended until",
		func(t *testing.T, before, after snapshot) {
			if !after.validUntil.Equal(before.validUntil.Add(24 * time.Hour)) {
				t.Errorf("extend: valid until %s, want %s", after.validUntil, before.validUntil.Add(24*time.Hour))
			}
		}},
	{"suspend", "suspend", storage.PermSuspend, storage.GuestActive, url.Values{"suspend_reason": {"lost badge"}}, "guest.suspend", "Suspended",
		func(t *testing.T, _, after snapshot) {
			if after.status != storage.GuestSuspended {
				t.Errorf("suspend: status %s", after.status)
			}
		}},
	{"reinstate", "reinstate", storage.PermSuspend, storage.GuestSuspended, nil, "guest.reinstate", "Reinstated",
		func(t *testing.T, _, after snapshot) {
			if after.status != storage.GuestActive {
				t.Errorf("reinstate: status %s", after.status)
			}
		}},
	{"delete", "delete", storage.PermDelete, storage.GuestActive, url.Values{"confirm": {"yes"}}, "guest.delete", "Deleted ",
		func(t *testing.T, _, after snapshot) {
			if after.found {
				t.Errorf("delete: the guest is still there")
			}
		}},
	{"approve", "approve", storage.PermApprove, storage.GuestPending, nil, "guest.approve", "Approved",
		func(t *testing.T, before, after snapshot) {
			if after.status != storage.GuestActive || after.mail != before.mail+1 {
				t.Errorf("approve: status %s, mail %d→%d", after.status, before.mail, after.mail)
			}
		}},
	{"deny", "deny", storage.PermApprove, storage.GuestPending, url.Values{"deny_reason": {"no visit booked"}}, "guest.deny", "Denied",
		func(t *testing.T, before, after snapshot) {
			if after.status != storage.GuestDenied || after.mail != before.mail+1 {
				t.Errorf("deny: status %s, mail %d→%d", after.status, before.mail, after.mail)
			}
		}},
}

func without(p storage.Permission) []storage.Permission {
	return slices.DeleteFunc(slices.Clone(storage.AllPermissions), func(q storage.Permission) bool { return q == p })
}

// TestActionPermissions runs every action for every kind of actor: the
// guest's sponsor, another sponsor (403, nothing changed), a group that
// manages all guests, a sponsor whose group lacks the permission (403,
// nothing changed) and an admin. What was done shows in the message and in
// the guest's history.
func TestActionPermissions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		for _, g := range []storage.SponsorGroup{
			{Name: "own", Permissions: storage.AllPermissions},
			{Name: "desk", ManageAll: true, Permissions: storage.AllPermissions},
		} {
			if err := b.store.PutSponsorGroup(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		owner := b.staff(t, "owner", pw, storage.RoleSponsor, "own")
		other := b.staff(t, "other", pw, storage.RoleSponsor, "own")
		b.staff(t, "desk", pw, storage.RoleSponsor, "desk")
		b.staff(t, "root", pw, storage.RoleAdmin, "")
		clients := map[string]*client{}
		for _, u := range []string{"owner", "other", "desk", "root"} {
			clients[u] = b.client(t)
			clients[u].mustSignIn(u, pw)
		}
		n := 0
		for _, ac := range actionCases {
			// A group with every permission but this action's, and a member.
			lacking := b.staff(t, "lacks-"+ac.name, pw, storage.RoleSponsor, "no-"+ac.name)
			if err := b.store.PutSponsorGroup(ctx, storage.SponsorGroup{Name: "no-" + ac.name, ManageAll: true, Permissions: without(ac.perm)}); err != nil {
				t.Fatal(err)
			}
			lc := b.client(t)
			lc.mustSignIn(lacking.Username, pw)
			for _, tc := range []struct {
				who     string
				c       *client
				sponsor *storage.Staff
				allowed bool
			}{
				{"own guest", clients["owner"], owner, true},
				{"another sponsor's guest", clients["other"], owner, false},
				{"manage-all group", clients["desk"], owner, true},
				{"missing permission", lc, lacking, false},
				{"admin", clients["root"], other, true},
			} {
				n++
				g := b.guest(t, "G"+fmt.Sprint(n), "Case", tc.sponsor, ac.status, 24*time.Hour)
				page := "/guests/" + g.ID.String()
				// Only what they may do is offered.
				if r := tc.c.get(page); tc.allowed != strings.Contains(r.body, "/"+ac.path+`"`) && tc.who != "another sponsor's guest" {
					t.Errorf("%s, %s: the guest page offers it: %v, want %v", ac.name, tc.who, !tc.allowed, tc.allowed)
				}
				if ac.name == "delete" && !tc.allowed {
					if r := tc.c.get(page + "/delete"); r.status != http.StatusForbidden || strings.Contains(r.body, `name="confirm"`) {
						t.Errorf("delete, %s: the confirmation page answers %d, want 403", tc.who, r.status)
					}
				}
				before := b.snap(t, g)
				form := url.Values{}
				for k, v := range ac.form {
					form[k] = v
				}
				r := tc.c.post(page+"/"+ac.path, tc.c.csrf("/"), form)
				after := b.snap(t, g)
				if !tc.allowed {
					if r.status != http.StatusForbidden {
						t.Errorf("%s, %s: %d, want 403\n%s", ac.name, tc.who, r.status, r.body)
					}
					if after != before {
						t.Errorf("%s, %s: refused, yet something changed: %+v → %+v", ac.name, tc.who, before, after)
					}
					continue
				}
				if r.status != http.StatusSeeOther {
					t.Errorf("%s, %s: %d, want 303\n%s", ac.name, tc.who, r.status, r.body)
					continue
				}
				ac.check(t, before, after)
				if after.audit != before.audit+1 {
					t.Errorf("%s, %s: %d audit entries written, want 1", ac.name, tc.who, after.audit-before.audit)
				}
				if e := b.lastAudit(t, g); e.Action != ac.audit || !strings.HasPrefix(e.Actor, "staff:") {
					t.Errorf("%s, %s: audit %s by %s, want %s by the staff user", ac.name, tc.who, e.Action, e.Actor, ac.audit)
				}
				// Redirect after POST: the page says what happened, once.
				back := strings.TrimPrefix(r.location, "../../")
				if ac.name == "delete" {
					if back != "./" && back != "" {
						t.Errorf("delete: back to %q, want the list", r.location)
					}
					if r := tc.c.get("/"); !strings.Contains(r.body, "Deleted G"+fmt.Sprint(n)+" Case") {
						t.Errorf("delete: the list does not say who was deleted:\n%s", r.body)
					}
					continue
				}
				if back != "guests/"+g.ID.String() {
					t.Errorf("%s, %s: back to %q, want the guest page", ac.name, tc.who, r.location)
				}
				got := tc.c.get(page)
				if !strings.Contains(got.body, ac.notice) || !strings.Contains(got.body, "<strong>"+ac.audit+"</strong>") {
					t.Errorf("%s, %s: the guest page lacks the message %q or the history entry:\n%s", ac.name, tc.who, ac.notice, got.body)
				}
				if again := tc.c.get(page); strings.Contains(again.body, ac.notice) {
					t.Errorf("%s: the message shows twice", ac.name)
				}
				if cur, err := b.store.GetGuest(ctx, g.ID); err == nil && strings.Contains(got.body, cur.Password) {
					t.Errorf("%s: the guest page shows the guest's password", ac.name)
				}
			}
		}
	})
}

// TestActionErrors: a guest in the wrong state is a 409 with the reason;
// bad input is the form again with the field's message (422); neither
// changes anything.
func TestActionErrors(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		if err := b.store.PutSponsorGroup(t.Context(), storage.SponsorGroup{Name: "own", Permissions: storage.AllPermissions}); err != nil {
			t.Fatal(err)
		}
		sp := b.staff(t, "sam", pw, storage.RoleSponsor, "own")
		c := b.client(t)
		c.mustSignIn("sam", pw)
		suspended := b.guest(t, "Sue", "Pended", sp, storage.GuestSuspended, 24*time.Hour)
		active := b.guest(t, "Al", "Active", sp, storage.GuestActive, 24*time.Hour)
		pending := b.guest(t, "Pen", "Ding", sp, storage.GuestPending, 24*time.Hour)
		gone := &storage.Guest{ID: uuid.New()}
		tok := c.csrf("/")
		for _, tc := range []struct {
			name   string
			g      *storage.Guest
			path   string
			form   url.Values
			status int
			want   string
		}{
			{"resend to a suspended guest", suspended, "resend", nil, http.StatusConflict, "reinstate them first"},
			{"approve an active guest", active, "approve", nil, http.StatusConflict, "approved already"},
			{"reinstate an active guest", active, "reinstate", nil, http.StatusConflict, "nothing to reinstate"},
			{"extend past the type's maximum", active, "extend", url.Values{"valid_until": {"2026-04-30T09:00"}}, http.StatusUnprocessableEntity, "at most 7 days"},
			{"extend to the past", active, "extend", url.Values{"valid_until": {"2026-03-01T09:00"}}, http.StatusUnprocessableEntity, "in the future"},
			{"extend to no time", active, "extend", url.Values{"valid_until": {"soon"}}, http.StatusUnprocessableEntity, "as a date and time"},
			{"suspend without a reason", active, "suspend", url.Values{"suspend_reason": {" "}}, http.StatusUnprocessableEntity, "Say why"},
			{"delete unconfirmed", active, "delete", nil, http.StatusSeeOther, ""},
			{"deny with too long a reason", pending, "deny", url.Values{"deny_reason": {strings.Repeat("x", guest.MaxReason+1)}}, http.StatusUnprocessableEntity, "Reason"},
			{"resend to a deleted guest", gone, "resend", nil, http.StatusNotFound, "no such guest"},
		} {
			before := b.snap(t, tc.g)
			r := c.post("/guests/"+tc.g.ID.String()+"/"+tc.path, tok, tc.form)
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Errorf("%s: %d, want %d with %q\n%s", tc.name, r.status, tc.status, tc.want, r.body)
			}
			if tc.status == http.StatusUnprocessableEntity && !strings.Contains(r.body, `aria-invalid="true"`) {
				t.Errorf("%s: the field in error is not marked", tc.name)
			}
			if after := b.snap(t, tc.g); after != before {
				t.Errorf("%s: something changed: %+v → %+v", tc.name, before, after)
			}
		}
		// The page shows the type's maximum, and delete asks first.
		page := c.get("/guests/" + active.ID.String())
		if !strings.Contains(page.body, "at most 7 days from the start of their access") {
			t.Errorf("the guest page does not show the maximum:\n%s", page.body)
		}
		if testing.Verbose() {
			t.Log(page.body)
		}
		r := c.get("/guests/" + active.ID.String() + "/delete")
		if r.status != http.StatusOK || !strings.Contains(r.body, `name="confirm" value="yes"`) || !strings.Contains(r.body, "cannot be undone") {
			t.Errorf("the delete confirmation: %d\n%s", r.status, r.body)
		}
		// Without the CSRF token nothing happens.
		before := b.snap(t, active)
		if r := c.post("/guests/"+active.ID.String()+"/suspend", "", url.Values{"suspend_reason": {"x"}}); r.status != http.StatusForbidden {
			t.Errorf("a post without CSRF token: %d, want 403", r.status)
		}
		if b.snap(t, active) != before {
			t.Errorf("a post without CSRF token changed the guest")
		}
		// Signed out: to the sign-in page.
		anon := b.client(t)
		if r := anon.post("/guests/"+active.ID.String()+"/resend", anon.csrf("/login"), nil); r.status != http.StatusSeeOther || !strings.HasSuffix(r.location, "login") {
			t.Errorf("a signed-out post: %d %q, want to sign in", r.status, r.location)
		}
	})
}

// TestPendingListDecisions: the pending view approves and denies from the
// list, and comes back to it with the news.
func TestPendingListDecisions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		if err := b.store.PutSponsorGroup(t.Context(), storage.SponsorGroup{Name: "own", Permissions: storage.AllPermissions}); err != nil {
			t.Fatal(err)
		}
		if err := b.store.PutSponsorGroup(t.Context(), storage.SponsorGroup{Name: "view", Permissions: without(storage.PermApprove)}); err != nil {
			t.Fatal(err)
		}
		sp := b.staff(t, "sam", pw, storage.RoleSponsor, "own")
		viewer := b.staff(t, "vic", pw, storage.RoleSponsor, "view")
		p1 := b.guest(t, "Pat", "One", sp, storage.GuestPending, 24*time.Hour)
		p2 := b.guest(t, "Pia", "Two", sp, storage.GuestPending, 24*time.Hour)
		p3 := b.guest(t, "Pol", "Three", viewer, storage.GuestPending, 24*time.Hour)

		c := b.client(t)
		c.mustSignIn("sam", pw)
		list := c.get("/?status=pending")
		for _, g := range []*storage.Guest{p1, p2} {
			if !strings.Contains(list.body, g.ID.String()+`/approve"`) || !strings.Contains(list.body, g.ID.String()+`/deny"`) {
				t.Errorf("the pending list lacks the buttons for %s", g.Username)
			}
		}
		tok := c.csrf("/")
		r := c.post("/guests/"+p1.ID.String()+"/approve", tok, url.Values{"back": {"pending"}})
		if r.status != http.StatusSeeOther || !strings.HasSuffix(r.location, "?status=pending") {
			t.Fatalf("approve from the list: %d %q", r.status, r.location)
		}
		if got := c.get("/?status=pending"); !strings.Contains(got.body, "Approved Pat One") || strings.Contains(got.body, p1.ID.String()) {
			t.Errorf("after approving, the list lacks the message or still lists the guest:\n%s", got.body)
		}
		if r := c.post("/guests/"+p2.ID.String()+"/deny", tok, url.Values{"back": {"pending"}}); r.status != http.StatusSeeOther {
			t.Fatalf("deny from the list: %d", r.status)
		}
		if got := c.get("/?status=pending"); !strings.Contains(got.body, "Denied Pia Two") {
			t.Errorf("after denying, the list lacks the message:\n%s", got.body)
		}
		// The person visited (not the sponsor) approves from the guest's
		// page, and is sent to the list: the guest is no longer theirs to see.
		host := b.staff(t, "hank", pw, storage.RoleSponsor, "own")
		now := b.clock.Now()
		visit := &storage.Guest{Username: "vi.sitor", Password: "GuestSecret-Vi", FirstName: "Vi", LastName: "Sitor", Email: "vi@guest.example",
			PersonVisited: host.Email, Status: storage.GuestPending, ValidFrom: now, ValidUntil: now.Add(24 * time.Hour), GuestType: "daily"}
		if err := b.store.CreateGuest(t.Context(), visit); err != nil {
			t.Fatal(err)
		}
		h := b.client(t)
		h.mustSignIn("hank", pw)
		// Their pending view lists the guest, with the buttons; their
		// list of their own guests does not.
		if got := h.get("/?status=pending"); !strings.Contains(got.body, visit.ID.String()+`/approve"`) {
			t.Errorf("the person visited's pending view lacks %s:\n%s", visit.Username, got.body)
		}
		if got := h.get("/"); strings.Contains(got.body, visit.ID.String()) {
			t.Errorf("the person visited's list of their guests shows %s", visit.Username)
		}
		if r := h.get("/guests/" + visit.ID.String()); !strings.Contains(r.body, "/approve\"") {
			t.Fatalf("the person visited is not offered the approval: %d\n%s", r.status, r.body)
		}
		r = h.post("/guests/"+visit.ID.String()+"/approve", h.csrf("/"), nil)
		if r.status != http.StatusSeeOther || strings.Contains(r.location, "guests/") {
			t.Errorf("the person visited's approval: %d to %q, want the list", r.status, r.location)
		}
		if got := h.get("/"); !strings.Contains(got.body, "Approved Vi Sitor") {
			t.Errorf("the list lacks the approval's message:\n%s", got.body)
		}
		// A sponsor whose group may not approve sees no buttons.
		v := b.client(t)
		v.mustSignIn("vic", pw)
		if got := v.get("/?status=pending"); !strings.Contains(got.body, p3.ID.String()) || strings.Contains(got.body, "/approve") {
			t.Errorf("a sponsor who may not approve: the list has buttons, or lacks their guest:\n%s", got.body)
		}
	})
}

// TestMailActionsRateLimited: the actions that send mail are limited per
// staff user (429 with Retry-After, nothing sent); others are not held up.
func TestMailActionsRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", func(c *Config) { c.Actions = Limit{Burst: 2, Every: time.Hour} })
	b.staff(t, "root", pw, storage.RoleAdmin, "")
	b.staff(t, "ruth", pw, storage.RoleAdmin, "")
	g := b.guest(t, "Rae", "Limit", nil, storage.GuestActive, 24*time.Hour)
	c := b.client(t)
	c.mustSignIn("root", pw)
	tok := c.csrf("/")
	path := "/guests/" + g.ID.String() + "/resend"
	for i := range 2 {
		if r := c.post(path, tok, nil); r.status != http.StatusSeeOther {
			t.Fatalf("resend %d: %d", i+1, r.status)
		}
		b.clock.Advance(time.Minute) // one email per minute: the rules send each
	}
	before := b.snap(t, g)
	r := c.post(path, tok, nil)
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Wait") {
		t.Errorf("the third resend: %d, want 429\n%s", r.status, r.body)
	}
	if b.snap(t, g) != before {
		t.Errorf("a rate-limited resend changed something")
	}
	// Not a mail action: not limited.
	if r := c.post("/guests/"+g.ID.String()+"/extend", tok, url.Values{"by": {"24h0m0s"}}); r.status != http.StatusSeeOther {
		t.Errorf("extend after the limit: %d, want 303", r.status)
	}
	// Another staff user has their own allowance.
	o := b.client(t)
	o.mustSignIn("ruth", pw)
	if r := o.post(path, o.csrf("/"), nil); r.status != http.StatusSeeOther {
		t.Errorf("another staff user's resend: %d, want 303", r.status)
	}
}

// TestActionConflictPage: a guest changed meanwhile (the rules' ErrConflict)
// is a 409 that asks to reload.
func TestActionConflictPage(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", nil)
	s, err := New(Config{Store: b.store, Guests: b.guests, BaseURL: "http://lobby.test" + mount, SecretKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	st := &storage.Staff{Username: "x"}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/guests/x/resend", nil)
	s.actionError(w, r, st, [16]byte{1}, nil, fmt.Errorf("guest: resend: %w", guest.ErrConflict))
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "Reload") {
		t.Errorf("ErrConflict: %d\n%s", w.Code, w.Body.String())
	}
}
