package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/passhash"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// The staff pages: sponsors and admins listed, created, disabled (or
// enabled), deleted, put in a sponsor group, and given a new password. An
// admin cannot disable or delete themself, nor the last enabled admin, so
// that someone can always sign in here.

type staffRow struct {
	ID, Username, Name, Email, Role, Group string
	Disabled                               bool
	LastLogin, LockedUntil, Created        string
	You                                    bool
}

func (a *Admin) staffRow(s *storage.Staff, me *storage.Staff) staffRow {
	row := staffRow{ID: s.ID.String(), Username: s.Username, Name: s.DisplayName, Email: s.Email, Role: string(s.Role),
		Group: groupName(s.Group), Disabled: s.Disabled, LastLogin: a.formatTime(s.LastLoginAt), Created: a.formatTime(s.CreatedAt),
		You: s.ID == me.ID}
	if s.LockedUntil.After(a.now()) {
		row.LockedUntil = a.formatTime(s.LockedUntil)
	}
	return row
}

// groupName is the name of a staff user's group: "" is the default one.
func groupName(g string) string {
	if g == "" {
		return storage.DefaultSponsorGroup
	}
	return g
}

func (a *Admin) getStaff(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	list, err := a.store.ListStaff(r.Context())
	if err != nil {
		a.fail(w, r, st, "list staff", err)
		return
	}
	rows := []staffRow{}
	for _, s := range list {
		rows = append(rows, a.staffRow(s, st))
	}
	v := a.view(r, "Staff", st, "staff", nil, rows)
	v.Notice = a.takeFlash(w, r, st, "staff")
	a.page(w, r, http.StatusOK, "staff", v)
}

// roleOptions and groupOptions are the choices of the create form.
func roleOptions(selected string) []option {
	return options(selected, string(storage.RoleSponsor), "Sponsor", string(storage.RoleAdmin), "Administrator")
}

func (a *Admin) groupOptions(ctx context.Context, selected string) ([]option, error) {
	groups, err := a.store.ListSponsorGroups(ctx)
	if err != nil {
		return nil, err
	}
	opts := []option{}
	for _, g := range groups {
		opts = append(opts, option{Value: g.Name, Label: g.Name, Selected: g.Name == groupName(selected)})
	}
	return opts, nil
}

func staffForm() *webkit.Form {
	return webkit.NewForm(
		&webkit.Field{Name: "username", Label: "Username", Required: true, MaxLen: 64, Autocomplete: "off"},
		&webkit.Field{Name: "name", Label: "Name", MaxLen: 200, Autocomplete: "off"},
		&webkit.Field{Name: "email", Label: "Email", Type: "email", Required: true, MaxLen: 254, Autocomplete: "off"},
		&webkit.Field{Name: "role", Label: "Role"},
		&webkit.Field{Name: "group", Label: "Sponsor group", Hint: "What a sponsor may do; administrators may do everything."},
		&webkit.Field{Name: "password", Label: "Initial password", Type: "password", Required: true, MaxLen: 256, Autocomplete: "new-password",
			Hint: "At least 12 characters, not the username. Give it to them in person; they can change it after signing in."},
	)
}

type staffNewPage struct {
	F             map[string]*webkit.Field
	Roles, Groups []option
}

func (a *Admin) staffNewView(w http.ResponseWriter, r *http.Request, st *storage.Staff, status int, form *webkit.Form) {
	groups, err := a.groupOptions(r.Context(), form.Value("group"))
	if err != nil {
		a.fail(w, r, st, "list sponsor groups", err)
		return
	}
	form.Field("password").Value = "" // never sent back
	p := staffNewPage{F: map[string]*webkit.Field{}, Roles: roleOptions(form.Value("role")), Groups: groups}
	for _, f := range form.Fields {
		p.F[f.Name] = f
	}
	a.page(w, r, status, "staffnew", a.view(r, "Create a staff user", st, "staff", form, p))
}

func (a *Admin) getStaffNew(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a.staffNewView(w, r, st, http.StatusOK, staffForm())
}

func (a *Admin) postStaffNew(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	form := staffForm()
	form.Load(r.PostForm)
	username, email, pw := form.Value("username"), form.Value("email"), r.PostForm.Get("password")
	role := storage.Role(form.Value("role"))
	switch {
	case username == "":
		form.Fail("username", "Enter a username.")
	case strings.ContainsAny(username, " \t\r\n") || len(username) > 64:
		form.Fail("username", "Use a username without spaces, of at most 64 characters.")
	}
	if addr, err := mail.ParseAddress(email); email == "" || err != nil || addr.Address != email {
		form.Fail("email", "Enter an email address such as name@example.com.")
	}
	if role != storage.RoleSponsor && role != storage.RoleAdmin {
		form.Fail("role", "Choose Sponsor or Administrator.")
	}
	group := form.Value("group")
	if _, err := a.store.GetSponsorGroup(ctx, group); errors.Is(err, storage.ErrNotFound) {
		form.Fail("group", "Choose one of the sponsor groups.")
	} else if err != nil {
		a.fail(w, r, st, "get sponsor group", err)
		return
	}
	if pw == "" {
		form.Fail("password", "Enter an initial password.")
	} else if msg := passhash.CheckNew(username, pw); msg != "" {
		form.Fail("password", msg)
	}
	if !form.Valid() {
		a.staffNewView(w, r, st, http.StatusUnprocessableEntity, form)
		return
	}
	if _, err := a.store.GetStaffByUsername(ctx, username); err == nil {
		form.Fail("username", "That username is taken. Choose another.")
		a.staffNewView(w, r, st, http.StatusUnprocessableEntity, form)
		return
	} else if !errors.Is(err, storage.ErrNotFound) {
		a.fail(w, r, st, "get staff", err)
		return
	}
	hash, err := passhash.Hash(pw)
	if err != nil {
		a.fail(w, r, st, "hash password", err)
		return
	}
	if group == storage.DefaultSponsorGroup {
		group = ""
	}
	nu := &storage.Staff{Username: username, DisplayName: form.Value("name"), Email: email, Role: role, Group: group, PasswordHash: hash}
	if err := a.store.CreateStaff(ctx, nu); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			form.Fail("username", "That username is taken. Choose another.")
			a.staffNewView(w, r, st, http.StatusUnprocessableEntity, form)
			return
		}
		a.fail(w, r, st, "create staff", err)
		return
	}
	a.audit(r, st, "staff.create", nu.ID.String(), fmt.Sprintf("%s (%s, group %s)", nu.Username, nu.Role, groupName(nu.Group)))
	a.setFlash(w, r, st, "staff", "Created "+nu.Username+". Give them their initial password in person.")
	webkit.SeeOther(w, "../staff")
}

type staffUserPage struct {
	staffRow
	Groups      []option
	GroupField  *webkit.Field
	Password    string // the new password, shown once
	PasswordFor string
}

// target reads the staff user of the request's {id}; it answers (404 or
// 500) and returns nil when there is none.
func (a *Admin) target(w http.ResponseWriter, r *http.Request, st *storage.Staff) *storage.Staff {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		a.notFound(w, r, st)
		return nil
	}
	u, err := a.store.GetStaff(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		a.notFound(w, r, st)
		return nil
	}
	if err != nil {
		a.fail(w, r, st, "get staff", err)
		return nil
	}
	return u
}

func (a *Admin) staffUserView(w http.ResponseWriter, r *http.Request, st, u *storage.Staff, password string) {
	groups, err := a.groupOptions(r.Context(), u.Group)
	if err != nil {
		a.fail(w, r, st, "list sponsor groups", err)
		return
	}
	p := staffUserPage{staffRow: a.staffRow(u, st), Groups: groups, GroupField: &webkit.Field{Name: "group", Label: "Sponsor group"},
		Password: password}
	v := a.view(r, "Staff user "+u.Username, st, "staff", nil, p)
	name := "staffuser"
	if password != "" {
		name = "staffpw"
		w.Header().Set("Cache-Control", "no-store")
	} else {
		v.Notice = a.takeFlash(w, r, st, "staff/"+u.ID.String())
	}
	a.page(w, r, http.StatusOK, name, v)
}

func (a *Admin) getStaffUser(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	if u := a.target(w, r, st); u != nil {
		a.staffUserView(w, r, st, u, "")
	}
}

// back sends the admin to u's page with msg.
func (a *Admin) backToStaff(w http.ResponseWriter, r *http.Request, st, u *storage.Staff, msg string) {
	a.setFlash(w, r, st, "staff/"+u.ID.String(), msg)
	webkit.SeeOther(w, "../"+u.ID.String())
}

// errLastAdmin is the refusal to disable or delete the last enabled admin.
var errLastAdmin = errors.New("the last enabled administrator")

// keepsAnAdmin runs change in a transaction after checking that some
// enabled admin other than u remains (when u is an enabled admin).
func (a *Admin) keepsAnAdmin(ctx context.Context, u *storage.Staff, change func(tx storage.Store) error) error {
	return a.store.WithTx(ctx, func(tx storage.Store) error {
		list, err := tx.ListStaff(ctx)
		if err != nil {
			return err
		}
		others := slices.ContainsFunc(list, func(s *storage.Staff) bool {
			return s.ID != u.ID && s.Role == storage.RoleAdmin && !s.Disabled
		})
		if u.Role == storage.RoleAdmin && !u.Disabled && !others {
			return errLastAdmin
		}
		return change(tx)
	})
}

func (a *Admin) postStaffDisable(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	u := a.target(w, r, st)
	if u == nil {
		return
	}
	disable := r.PostForm.Get("disabled") == "yes"
	if disable && u.ID == st.ID {
		a.backToStaff(w, r, st, u, "You cannot disable yourself: ask another administrator.")
		return
	}
	var err error
	if disable {
		err = a.keepsAnAdmin(r.Context(), u, func(tx storage.Store) error { return tx.SetStaffDisabled(r.Context(), u.ID, true) })
	} else {
		err = a.store.SetStaffDisabled(r.Context(), u.ID, false)
	}
	switch {
	case errors.Is(err, errLastAdmin):
		a.backToStaff(w, r, st, u, u.Username+" is the last enabled administrator: create or enable another one first.")
	case err != nil:
		a.fail(w, r, st, "disable staff", err)
	case disable:
		a.audit(r, st, "staff.disable", u.ID.String(), u.Username)
		a.backToStaff(w, r, st, u, "Disabled "+u.Username+": they cannot sign in until enabled again.")
	default:
		a.audit(r, st, "staff.enable", u.ID.String(), u.Username)
		a.backToStaff(w, r, st, u, "Enabled "+u.Username+".")
	}
}

func (a *Admin) postStaffGroup(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	u := a.target(w, r, st)
	if u == nil {
		return
	}
	group := r.PostForm.Get("group")
	err := a.store.SetStaffGroup(r.Context(), u.ID, group)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		a.backToStaff(w, r, st, u, "There is no sponsor group "+group+" (any more): nothing changed.")
	case err != nil:
		a.fail(w, r, st, "set staff group", err)
	default:
		a.audit(r, st, "staff.group", u.ID.String(), u.Username+" → "+groupName(group))
		a.backToStaff(w, r, st, u, u.Username+" is now in the sponsor group "+groupName(group)+".")
	}
}

// postStaffPassword gives u a new random password, shown once on the
// answer, and ends u's sessions.
func (a *Admin) postStaffPassword(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	u := a.target(w, r, st)
	if u == nil {
		return
	}
	pw := rand.Text() // 26 characters of base32: 130 bits
	hash, err := passhash.Hash(pw)
	if err != nil {
		a.fail(w, r, st, "hash password", err)
		return
	}
	// A reset is what an admin does after an account was taken over, so
	// it also revokes the user's API tokens: a token made by whoever took
	// it would outlive the new password otherwise.
	revoked := 0
	err = a.store.WithTx(ctx, func(tx storage.Store) error {
		if err := tx.SetStaffPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		tokens, err := tx.ListAPITokens(ctx, u.ID)
		if err != nil {
			return err
		}
		for _, t := range tokens {
			if err := tx.DeleteAPIToken(ctx, t.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
		revoked = len(tokens)
		return tx.EndStaffSessions(ctx, u.ID, a.now())
	})
	if err != nil {
		a.fail(w, r, st, "reset staff password", err)
		return
	}
	a.audit(r, st, "staff.reset_password", u.ID.String(), fmt.Sprintf("%s; %d API tokens revoked", u.Username, revoked))
	a.staffUserView(w, r, st, u, pw)
}

func (a *Admin) postStaffDelete(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	u := a.target(w, r, st)
	if u == nil {
		return
	}
	if u.ID == st.ID {
		a.backToStaff(w, r, st, u, "You cannot delete yourself: ask another administrator.")
		return
	}
	err := a.keepsAnAdmin(r.Context(), u, func(tx storage.Store) error { return tx.DeleteStaff(r.Context(), u.ID) })
	switch {
	case errors.Is(err, errLastAdmin):
		a.backToStaff(w, r, st, u, u.Username+" is the last enabled administrator: create or enable another one first.")
	case errors.Is(err, storage.ErrNotFound):
		a.setFlash(w, r, st, "staff", u.Username+" was deleted already.")
		webkit.SeeOther(w, "../../staff")
	case err != nil:
		a.fail(w, r, st, "delete staff", err)
	default:
		a.audit(r, st, "staff.delete", u.ID.String(), u.Username)
		a.setFlash(w, r, st, "staff", "Deleted "+u.Username+". The audit log keeps what they did.")
		webkit.SeeOther(w, "../../staff")
	}
}
