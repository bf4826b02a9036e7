package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

func TestParseSpan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"8h", 8 * time.Hour, true}, {"1d", 24 * time.Hour, true}, {"1d12h", 36 * time.Hour, true}, {"90m", 90 * time.Minute, true},
		{"7 D", 7 * 24 * time.Hour, true}, {"", 0, false}, {"8", 0, false}, {"h", 0, false}, {"3w", 0, false}, {"-1d", 0, false},
	} {
		got, err := parseSpan(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSpan(%q) = %v, %v; want %v, ok %t", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok {
			if back, _ := parseSpan(span(got)); back != got {
				t.Errorf("span(%v) = %q does not read back", got, span(got))
			}
		}
	}
}

func TestGuestTypesCreateEditDelete(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		if err := b.guests.EnsureGuestTypes(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.store.PutSponsorGroup(ctx, storage.SponsorGroup{Name: "reception", GuestTypes: []string{"daily"},
			Permissions: []storage.Permission{storage.PermCreate}}); err != nil {
			t.Fatal(err)
		}
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		r := c.get("/guest-types")
		if r.status != http.StatusOK || !strings.Contains(r.body, `<a href="./guest-types/daily">daily</a> (default)`) {
			t.Fatalf("GET /guest-types = %d:\n%s", r.status, r.body)
		}

		// Validation: a message beside each wrong field, nothing stored.
		tok := c.csrf("/guest-types/new")
		r = c.post("/guest-types/new", tok, url.Values{"name": {"Bad Name"}, "validity": {"3w"}, "max_validity": {"1h"}, "expiry_notice": {"2h"}})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("invalid create = %d:\n%s", r.status, r.body)
		}
		for _, want := range []string{`<a href="#f-validity">Write the validity as a number and a unit`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		r = c.post("/guest-types/new", tok, url.Values{"name": {"Bad Name"}, "validity": {"2d"}, "max_validity": {"1d"}, "expiry_notice": {"3d"}})
		for _, want := range []string{`<a href="#f-name">The name may have only lower-case letters`, "The maximum stay (1 day) must be at least the validity (2 days)",
			"must be shorter than the validity"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the page lacks %q:\n%s", want, r.body)
			}
		}

		// Create: the reception group (which has a list) gains it when
		// ticked; the default group (every type) keeps every type.
		if r := c.post("/guest-types/new", tok, url.Values{"name": {"daily"}, "validity": {"1d"}}); r.status != http.StatusUnprocessableEntity ||
			!strings.Contains(r.body, "There is already a guest type called daily") {
			t.Errorf("create a taken name = %d:\n%s", r.status, r.body)
		}
		r = c.post("/guest-types/new", tok, url.Values{"name": {"contractor"}, "description": {"Contractors"}, "validity": {"7d"},
			"max_validity": {"30d"}, "expiry_notice": {"1d"}, "approval": {"yes"}, "from_first_sign_in": {"yes"}, "group:reception": {"yes"}, "group:default": {"yes"}})
		if r.status != http.StatusSeeOther || r.location != "../guest-types" {
			t.Fatalf("create = %d %q:\n%s", r.status, r.location, r.body)
		}
		gt, err := b.store.GetGuestType(ctx, "contractor")
		if err != nil || gt.DefaultDuration != 7*24*time.Hour || gt.MaxDuration != 30*24*time.Hour || gt.ExpiryNotice != 24*time.Hour ||
			!gt.RequireApproval || gt.Description != "Contractors" || !gt.FromFirstSignIn {
			t.Fatalf("created %+v, %v", gt, err)
		}
		if g, _ := b.store.GetSponsorGroup(ctx, "reception"); !slices.Equal(g.GuestTypes, []string{"daily", "contractor"}) {
			t.Errorf("reception may use %v", g.GuestTypes)
		}
		r = c.get("/guest-types")
		if !strings.Contains(r.body, "Created the guest type contractor.") || !strings.Contains(r.body, "<td>7 days</td><td>first sign-in</td>") ||
			!strings.Contains(r.body, "<td>default, reception</td>") {
			t.Errorf("the list after creating:\n%s", r.body)
		}

		// Edit: the form shows the type; unticking the default group (every
		// type) leaves it every other type.
		r = c.get("/guest-types/contractor")
		if !strings.Contains(r.body, `name="validity" value="7d"`) || !strings.Contains(r.body, `name="expiry_notice" value="1d"`) {
			t.Errorf("the edit form:\n%s", r.body)
		}
		r = c.post("/guest-types/contractor", c.csrf("/guest-types/contractor"), url.Values{"validity": {"5d"}, "max_validity": {""}, "expiry_notice": {"none"},
			"group:reception": {"yes"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("edit = %d:\n%s", r.status, r.body)
		}
		gt, _ = b.store.GetGuestType(ctx, "contractor")
		if gt.DefaultDuration != 5*24*time.Hour || gt.MaxDuration != 5*24*time.Hour || gt.ExpiryNotice >= 0 || gt.RequireApproval || gt.FromFirstSignIn {
			t.Errorf("edited %+v", gt)
		}
		if g, _ := b.store.GetSponsorGroup(ctx, "default"); !slices.Equal(g.GuestTypes, []string{"daily"}) {
			t.Errorf("the default group may use %v, want [daily]", g.GuestTypes)
		}

		// Delete: refused for the default type and a type in use, with the
		// reason; allowed once no guest has it.
		tok = c.csrf("/guest-types/contractor")
		if r := c.post("/guest-types/daily/delete", tok, nil); r.status != http.StatusConflict || !strings.Contains(r.body, "is the type self-registered guests get") {
			t.Errorf("delete the default type = %d:\n%s", r.status, r.body)
		}
		now := storage.Truncate(time.Now())
		g := &storage.Guest{ID: uuid.New(), Username: "gus", Password: "pw", FirstName: "Gus", LastName: "Guest", Email: "gus@example.org",
			GuestType: "contractor", Status: storage.GuestActive, ValidFrom: now, ValidUntil: now.Add(time.Hour)}
		if err := b.store.CreateGuest(ctx, g); err != nil {
			t.Fatal(err)
		}
		if r := c.post("/guest-types/contractor/delete", tok, nil); r.status != http.StatusConflict || !strings.Contains(r.body, "1 guest is of type contractor") {
			t.Errorf("delete a type in use = %d:\n%s", r.status, r.body)
		}
		if err := b.store.DeleteGuest(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		if r := c.post("/guest-types/contractor/delete", tok, nil); r.status != http.StatusSeeOther {
			t.Fatalf("delete = %d:\n%s", r.status, r.body)
		}
		if _, err := b.store.GetGuestType(ctx, "contractor"); err == nil {
			t.Error("the type is still there")
		}
		entries, err := b.store.ListAudit(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			if strings.HasPrefix(e.Action, "guest_type.") {
				got = append(got, e.Action+" "+e.Subject)
			}
		}
		slices.Sort(got)
		if want := []string{"guest_type.create guest_type:contractor", "guest_type.delete guest_type:contractor", "guest_type.groups guest_type:contractor", "guest_type.groups guest_type:contractor",
			"guest_type.update guest_type:contractor"}; !slices.Equal(got, want) {
			t.Errorf("audited %v, want %v", got, want)
		}
	})
}

func TestGuestTypePagesNeedAnAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", nil)
	if err := b.guests.EnsureGuestTypes(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.staff(t, "sally", storage.RoleSponsor)
	b.staff(t, "ada", storage.RoleAdmin)
	for _, p := range []string{"/guest-types", "/guest-types/new", "/guest-types/daily"} {
		if r := b.client(t, "").get(p); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, signIn+"?return=") {
			t.Errorf("stranger GET %s = %d %q", p, r.status, r.location)
		}
		if r := b.client(t, "sally").get(p); r.status != http.StatusForbidden {
			t.Errorf("sponsor GET %s = %d", p, r.status)
		}
	}
	ada := b.client(t, "ada")
	ada.csrf("/")
	for _, p := range []string{"/guest-types/new", "/guest-types/daily", "/guest-types/daily/delete"} {
		if r := ada.post(p, "", url.Values{"validity": {"1d"}}); r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
			t.Errorf("POST %s without the CSRF token = %d", p, r.status)
		}
	}
	if _, err := b.store.GetGuestType(t.Context(), "daily"); err != nil {
		t.Errorf("a refused post deleted the type: %v", err)
	}
}
