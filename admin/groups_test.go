package admin

import (
	"errors"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

func TestSponsorGroups(t *testing.T) {
	t.Parallel()
	eachQuiet(t, func(t *testing.T, b *bundle, _ *stubMailer) {
		ctx := t.Context()
		b.staff(t, "ada", storage.RoleAdmin)
		sally := b.staff(t, "sally", storage.RoleSponsor)
		if err := b.store.PutGuestType(ctx, storage.GuestType{Name: "contractor", DefaultDuration: 24 * time.Hour, MaxDuration: 72 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		c := b.client(t, "ada")
		edit := func(form url.Values) resp {
			t.Helper()
			return c.post("/groups/edit", c.csrf("/groups/edit"), form)
		}
		newPage := c.get("/groups/edit")
		for _, p := range storage.AllPermissions {
			if !strings.Contains(newPage.body, `value="`+string(p)+`"`) {
				t.Errorf("the form lacks the permission %s", p)
			}
		}
		if !strings.Contains(newPage.body, `name="type" value="contractor"`) {
			t.Errorf("the form lacks the guest type:\n%s", newPage.body)
		}

		r := edit(url.Values{"new": {"yes"}, "name": {"desk"}, "description": {"Front desk"}, "manage_all": {"yes"},
			"perm": {"extend", "create"}, "type": {"contractor"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("create = %d:\n%s", r.status, r.body)
		}
		g, err := b.store.GetSponsorGroup(ctx, "desk")
		if err != nil || g.Description != "Front desk" || !g.ManageAll || !slices.Equal(g.Permissions, []storage.Permission{storage.PermCreate, storage.PermExtend}) ||
			!slices.Equal(g.GuestTypes, []string{"contractor"}) {
			t.Fatalf("created: %+v, %v", g, err)
		}
		for form, want := range map[string]url.Values{
			"There is a group called desk already":      {"new": {"yes"}, "name": {"desk"}},
			"Enter the group's name":                    {"new": {"yes"}, "name": {""}},
			"a permission this Lobby does not know":     {"new": {"yes"}, "name": {"other"}, "perm": {"rule_the_world"}},
			"There is no group called ghost (any more)": {"name": {"ghost"}},
		} {
			if r := edit(want); r.status != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(r.body), form) {
				t.Errorf("edit %v = %d, want 422 with %q:\n%s", want, r.status, form, r.body)
			}
		}
		// Edit: the name stays, the rest is replaced.
		page := c.get("/groups/edit?name=desk")
		if !strings.Contains(page.body, `value="extend" checked`) || strings.Contains(page.body, `value="delete" checked`) || !strings.Contains(page.body, "Front desk") {
			t.Errorf("the edit page:\n%s", page.body)
		}
		if r := edit(url.Values{"name": {"desk"}, "description": {"Reception"}, "perm": {"approve"}}); r.status != http.StatusSeeOther {
			t.Fatalf("edit = %d:\n%s", r.status, r.body)
		}
		if g, _ := b.store.GetSponsorGroup(ctx, "desk"); g.Description != "Reception" || g.ManageAll || len(g.GuestTypes) != 0 ||
			!slices.Equal(g.Permissions, []storage.Permission{storage.PermApprove}) {
			t.Errorf("after edit: %+v", g)
		}

		// Delete: not the default group, not one in use.
		del := func(name string) string {
			t.Helper()
			if r := c.post("/groups/delete", c.csrf("/groups"), url.Values{"name": {name}}); r.status != http.StatusSeeOther {
				t.Fatalf("delete %s = %d:\n%s", name, r.status, r.body)
			}
			return html.UnescapeString(c.get("/groups").body)
		}
		if page := del(storage.DefaultSponsorGroup); !strings.Contains(page, "The default group cannot be deleted") {
			t.Errorf("delete the default group:\n%s", page)
		}
		if err := b.store.SetStaffGroup(ctx, sally.ID, "desk"); err != nil {
			t.Fatal(err)
		}
		if page := del("desk"); !strings.Contains(page, "The group desk is in use: move its members") {
			t.Errorf("delete a group in use:\n%s", page)
		}
		if _, err := b.store.GetSponsorGroup(ctx, "desk"); err != nil {
			t.Fatalf("the group in use is gone: %v", err)
		}
		if err := b.store.SetStaffGroup(ctx, sally.ID, ""); err != nil {
			t.Fatal(err)
		}
		if page := del("desk"); !strings.Contains(page, "Deleted the sponsor group desk") {
			t.Errorf("delete:\n%s", page)
		}
		if _, err := b.store.GetSponsorGroup(ctx, "desk"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("after delete: %v", err)
		}
		e, err := b.store.ListAuditWhere(ctx, storage.AuditFilter{ActionPrefix: "group."})
		var actions []string
		for _, x := range e {
			actions = append(actions, x.Action)
		}
		if want := []string{"group.delete", "group.update", "group.create"}; err != nil || !slices.Equal(actions, want) {
			t.Errorf("audit = %v, %v; want %v", actions, err, want)
		}
	})
}
