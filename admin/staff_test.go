package admin

import (
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/passhash"
	"github.com/lobbyhq/lobby/storage"
)

func TestStaffCreate(t *testing.T) {
	t.Parallel()
	eachQuiet(t, func(t *testing.T, b *bundle, _ *stubMailer) {
		ctx := t.Context()
		b.staff(t, "ada", storage.RoleAdmin)
		if err := b.store.PutSponsorGroup(ctx, storage.SponsorGroup{Name: "desk", Permissions: []storage.Permission{storage.PermCreate}}); err != nil {
			t.Fatal(err)
		}
		c := b.client(t, "ada")
		form := func(username, pw string) url.Values {
			return url.Values{"username": {username}, "name": {"New Person"}, "email": {username + "@corp.example"},
				"role": {"sponsor"}, "group": {"desk"}, "password": {pw}}
		}
		for _, tc := range []struct {
			form url.Values
			want string
		}{
			{form("newbie", "short-pw"), "Use at least 12 characters"},
			{form("newbie", "Password1234"), "That password is too common"},
			{form("newbie-person", "NEWBIE-PERSON"), "Do not use your username as your password"},
			{form("newbie", ""), "Enter an initial password"},
			{form("ada", "a long good passphrase"), "That username is taken"},
			{form("", "a long good passphrase"), "Enter a username"},
			{func() url.Values { f := form("newbie", "a long good passphrase"); f.Set("email", "nope"); return f }(), "Enter an email address"},
			{func() url.Values { f := form("newbie", "a long good passphrase"); f.Set("role", "root"); return f }(), "Choose Sponsor or Administrator"},
			{func() url.Values { f := form("newbie", "a long good passphrase"); f.Set("group", "nope"); return f }(), "Choose one of the sponsor groups"},
		} {
			r := c.post("/staff/new", c.csrf("/staff/new"), tc.form)
			if r.status != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(r.body), tc.want) {
				t.Errorf("create %v = %d, want 422 with %q:\n%s", tc.form, r.status, tc.want, r.body)
			}
			if pw := tc.form.Get("password"); pw != "" && strings.Contains(r.body, `value="`+pw+`"`) {
				t.Errorf("the refused form sent the password back")
			}
		}
		if _, err := b.store.GetStaffByUsername(ctx, "newbie"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a refused create created the user: %v", err)
		}

		r := c.post("/staff/new", c.csrf("/staff/new"), form("newbie", "a long good passphrase"))
		if r.status != http.StatusSeeOther || r.location != "../staff" {
			t.Fatalf("create = %d %q:\n%s", r.status, r.location, r.body)
		}
		nu, err := b.store.GetStaffByUsername(ctx, "newbie")
		if err != nil || nu.Role != storage.RoleSponsor || nu.Group != "desk" || nu.DisplayName != "New Person" || nu.Email != "newbie@corp.example" {
			t.Fatalf("created: %+v, %v", nu, err)
		}
		if ok, err := passhash.Verify(nu.PasswordHash, "a long good passphrase"); !ok || err != nil {
			t.Errorf("the stored hash does not match the initial password: %v", err)
		}
		list := c.get("/staff")
		for _, want := range []string{"Created newbie", "newbie@corp.example", "<td>desk</td>", "ada</a> (you)"} {
			if !strings.Contains(list.body, want) {
				t.Errorf("the staff list lacks %q:\n%s", want, list.body)
			}
		}
		if e, err := b.store.ListAuditWhere(ctx, storage.AuditFilter{ActionPrefix: "staff.create"}); err != nil || len(e) != 1 || e[0].Subject != nu.ID.String() {
			t.Errorf("audit of the create: %+v, %v", e, err)
		}
		if strings.Contains(b.seen().String(), "a long good passphrase") || strings.Contains(b.logs.String(), "a long good passphrase") {
			t.Error("the initial password is in a response or the log")
		}
	})
}

func TestStaffDisableDeleteRules(t *testing.T) {
	t.Parallel()
	eachQuiet(t, func(t *testing.T, b *bundle, _ *stubMailer) {
		ctx := t.Context()
		ada := b.staff(t, "ada", storage.RoleAdmin)
		bob := b.staff(t, "bob", storage.RoleAdmin)
		sally := b.staff(t, "sally", storage.RoleSponsor)
		c := b.client(t, "ada")
		act := func(who *storage.Staff, what string, form url.Values) string {
			t.Helper()
			p := "/staff/" + who.ID.String()
			r := c.post(p+"/"+what, c.csrf(p), form)
			if r.status != http.StatusSeeOther {
				t.Fatalf("POST %s/%s = %d:\n%s", p, what, r.status, r.body)
			}
			if what == "delete" && r.location == "../../staff" {
				return html.UnescapeString(c.get("/staff").body)
			}
			return html.UnescapeString(c.get(p).body)
		}
		get := func(s *storage.Staff) *storage.Staff {
			got, err := b.store.GetStaff(ctx, s.ID)
			if err != nil {
				t.Fatalf("GetStaff(%s): %v", s.Username, err)
			}
			return got
		}

		// Not yourself.
		if page := act(ada, "disable", url.Values{"disabled": {"yes"}}); !strings.Contains(page, "You cannot disable yourself") || get(ada).Disabled {
			t.Errorf("disable yourself:\n%s", page)
		}
		if page := act(ada, "delete", nil); !strings.Contains(page, "You cannot delete yourself") {
			t.Errorf("delete yourself:\n%s", page)
		}
		if page := c.get("/staff/" + ada.ID.String()).body; strings.Contains(page, ">Delete ada</button>") || strings.Contains(page, ">Disable</button>") {
			t.Errorf("your own page offers Disable or Delete:\n%s", page)
		}
		// Disable and enable a sponsor.
		if page := act(sally, "disable", url.Values{"disabled": {"yes"}}); !strings.Contains(page, "Disabled sally") || !get(sally).Disabled {
			t.Errorf("disable sally:\n%s", page)
		}
		if page := act(sally, "disable", url.Values{"disabled": {"no"}}); !strings.Contains(page, "Enabled sally") || get(sally).Disabled {
			t.Errorf("enable sally:\n%s", page)
		}
		// Not the last enabled admin: ada is disabled meanwhile (her
		// session still counts in this test), so bob is the last one.
		if err := b.store.SetStaffDisabled(ctx, ada.ID, true); err != nil {
			t.Fatal(err)
		}
		for _, what := range []string{"disable", "delete"} {
			if page := act(bob, what, url.Values{"disabled": {"yes"}}); !strings.Contains(page, "bob is the last enabled administrator") || get(bob).Disabled {
				t.Errorf("%s the last admin:\n%s", what, page)
			}
		}
		if err := b.store.SetStaffDisabled(ctx, ada.ID, false); err != nil {
			t.Fatal(err)
		}
		// With ada enabled again, bob can go.
		if page := act(bob, "delete", nil); !strings.Contains(page, "Deleted bob") {
			t.Errorf("delete bob:\n%s", page)
		}
		if _, err := b.store.GetStaff(ctx, bob.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("bob after delete: %v", err)
		}
		e, err := b.store.ListAuditWhere(ctx, storage.AuditFilter{Actor: "staff:ada", ActionPrefix: "staff."})
		var actions []string
		for _, x := range e {
			actions = append(actions, x.Action)
		}
		if want := []string{"staff.delete", "staff.enable", "staff.disable"}; err != nil || !slices.Equal(actions, want) {
			t.Errorf("audit = %v, %v; want %v", actions, err, want)
		}
	})
}

func TestStaffGroupAndPasswordReset(t *testing.T) {
	t.Parallel()
	eachQuiet(t, func(t *testing.T, b *bundle, _ *stubMailer) {
		ctx := t.Context()
		b.staff(t, "ada", storage.RoleAdmin)
		sally := b.staff(t, "sally", storage.RoleSponsor)
		if err := b.store.PutSponsorGroup(ctx, storage.SponsorGroup{Name: "desk"}); err != nil {
			t.Fatal(err)
		}
		c := b.client(t, "ada")
		p := "/staff/" + sally.ID.String()
		c.post(p+"/group", c.csrf(p), url.Values{"group": {"desk"}})
		if got, _ := b.store.GetStaff(ctx, sally.ID); got.Group != "desk" || !strings.Contains(c.get(p).body, "sally is now in the sponsor group desk") {
			t.Errorf("group after the change: %q", got.Group)
		}
		c.post(p+"/group", c.csrf(p), url.Values{"group": {"gone"}})
		if got, _ := b.store.GetStaff(ctx, sally.ID); got.Group != "desk" || !strings.Contains(c.get(p).body, "There is no sponsor group gone") {
			t.Errorf("an unknown group changed the group to %q", got.Group)
		}

		if _, _, err := guest.NewAPIToken(ctx, b.store, guest.System(), sally, "kiosk", time.Time{}, b.clock.Now()); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(time.Second)
		r := c.post(p+"/password", c.csrf(p), nil)
		m := regexp.MustCompile(`<p class="secret"><code>([A-Z2-7]{26})</code></p>`).FindStringSubmatch(r.body)
		if r.status != http.StatusOK || m == nil {
			t.Fatalf("reset = %d:\n%s", r.status, r.body)
		}
		got, _ := b.store.GetStaff(ctx, sally.ID)
		if ok, err := passhash.Verify(got.PasswordHash, m[1]); !ok || err != nil {
			t.Errorf("the shown password does not match the stored hash: %v", err)
		}
		if !got.SessionsValidAfter.Equal(b.clock.Now()) {
			t.Errorf("SessionsValidAfter = %v, want %v (EndStaffSessions)", got.SessionsValidAfter, b.clock.Now())
		}
		if page := c.get(p).body; strings.Contains(page, m[1]) {
			t.Error("the staff page shows the new password again")
		}
		if strings.Contains(b.logs.String(), m[1]) {
			t.Error("the new password is in the log")
		}
		if left, err := b.store.ListAPITokens(ctx, sally.ID); err != nil || len(left) != 0 {
			t.Errorf("API tokens after the reset: %d, %v; want all revoked", len(left), err)
		}
		if e, err := b.store.ListAuditWhere(ctx, storage.AuditFilter{ActionPrefix: "staff.reset_password"}); err != nil || len(e) != 1 || strings.Contains(e[0].Detail, m[1]) || !strings.Contains(e[0].Detail, "1 API tokens revoked") {
			t.Errorf("audit of the reset: %+v, %v", e, err)
		}
	})
}
