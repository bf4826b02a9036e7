package admin

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// The sponsor groups: what the sponsors of each group may do (the
// permissions of storage.AllPermissions), on which guests (their own, or
// all) and with which guest types. The default group cannot be deleted,
// nor a group a staff user is in.

type groupRow struct {
	Name, Description string
	GuestTypes        string // "all" or a list
	ManageAll         bool
	Permissions       string
	Default           bool
	Edit              string // the edit page's URL, relative to the root
}

func (a *Admin) getGroups(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	groups, err := a.store.ListSponsorGroups(r.Context())
	if err != nil {
		a.fail(w, r, st, "list sponsor groups", err)
		return
	}
	rows := []groupRow{}
	for _, g := range groups {
		row := groupRow{Name: g.Name, Description: g.Description, GuestTypes: "All", ManageAll: g.ManageAll,
			Default: g.Name == storage.DefaultSponsorGroup, Edit: "groups/edit?name=" + url.QueryEscape(g.Name)}
		if len(g.GuestTypes) > 0 {
			row.GuestTypes = strings.Join(g.GuestTypes, ", ")
		}
		var ps []string
		for _, p := range g.Permissions {
			ps = append(ps, permLabels[p])
		}
		row.Permissions = strings.Join(ps, ", ")
		if row.Permissions == "" {
			row.Permissions = "None"
		}
		rows = append(rows, row)
	}
	v := a.view(r, "Sponsor groups", st, "groups", nil, rows)
	v.Notice = a.takeFlash(w, r, st, "groups")
	a.page(w, r, http.StatusOK, "groups", v)
}

// permLabels say what each permission lets a sponsor do.
var permLabels = map[storage.Permission]string{
	storage.PermCreate:        "Create a guest",
	storage.PermBatch:         "Create a batch, import a CSV",
	storage.PermResend:        "Send credentials again",
	storage.PermResetPassword: "Reset a guest's password",
	storage.PermExtend:        "Extend access",
	storage.PermSuspend:       "Suspend and reinstate",
	storage.PermDelete:        "Delete a guest",
	storage.PermApprove:       "Approve and deny registrations",
}

// check is one checkbox of a list.
type check struct {
	Name, Value, Label string
	Checked            bool
}

type groupPage struct {
	New         bool
	F           map[string]*webkit.Field
	Permissions []check
	GuestTypes  []check
}

func groupForm(isNew bool) *webkit.Form {
	name := &webkit.Field{Name: "name", Label: "Name", Required: true, MaxLen: 64, Autocomplete: "off"}
	if !isNew {
		name.Hint = "A group keeps its name; create another group to use another one."
	}
	return webkit.NewForm(name,
		&webkit.Field{Name: "description", Label: "Description", MaxLen: 500},
		&webkit.Field{Name: "manage_all", Label: "Members manage every guest", Type: "checkbox",
			Hint: "Otherwise only the guests they sponsor, and the registrations that name them as the person visited."},
	)
}

func (a *Admin) groupView(w http.ResponseWriter, r *http.Request, st *storage.Staff, status int, isNew bool, form *webkit.Form, g storage.SponsorGroup) {
	types, err := a.store.ListGuestTypes(r.Context())
	if err != nil {
		a.fail(w, r, st, "list guest types", err)
		return
	}
	p := groupPage{New: isNew, F: map[string]*webkit.Field{}}
	for _, f := range form.Fields {
		p.F[f.Name] = f
	}
	for _, perm := range storage.AllPermissions {
		p.Permissions = append(p.Permissions, check{Name: "perm", Value: string(perm), Label: permLabels[perm], Checked: g.May(perm)})
	}
	for _, t := range types {
		p.GuestTypes = append(p.GuestTypes, check{Name: "type", Value: t.Name, Label: t.Name, Checked: slices.Contains(g.GuestTypes, t.Name)})
	}
	title := "Edit sponsor group " + g.Name
	if isNew {
		title = "Create a sponsor group"
	}
	a.page(w, r, status, "group", a.view(r, title, st, "groups", form, p))
}

func (a *Admin) getGroupEdit(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	name := r.URL.Query().Get("name")
	form := groupForm(name == "")
	if name == "" {
		a.groupView(w, r, st, http.StatusOK, true, form, storage.SponsorGroup{Permissions: []storage.Permission{storage.PermCreate}})
		return
	}
	g, err := a.store.GetSponsorGroup(r.Context(), name)
	if errors.Is(err, storage.ErrNotFound) {
		a.notFound(w, r, st)
		return
	}
	if err != nil {
		a.fail(w, r, st, "get sponsor group", err)
		return
	}
	form.Field("name").Value = g.Name
	form.Field("description").Value = g.Description
	if g.ManageAll {
		form.Field("manage_all").Value = "yes"
	}
	a.groupView(w, r, st, http.StatusOK, false, form, *g)
}

func (a *Admin) postGroupEdit(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	isNew := r.PostForm.Get("new") == "yes"
	form := groupForm(isNew)
	form.Load(r.PostForm)
	g := storage.SponsorGroup{Name: form.Value("name"), Description: form.Value("description"), ManageAll: form.Value("manage_all") != ""}
	for _, p := range r.PostForm["perm"] {
		g.Permissions = append(g.Permissions, storage.Permission(p))
	}
	g.GuestTypes = r.PostForm["type"]
	perms, err := storage.CheckPermissions(g.Permissions)
	if err != nil {
		form.Fail("name", "The form named a permission this Lobby does not know: reload the page and try again.")
	}
	g.Permissions = perms
	switch {
	case g.Name == "":
		form.Fail("name", "Enter the group's name.")
	case strings.ContainsAny(g.Name, "\r\n\t"):
		form.Fail("name", "Use a name on one line.")
	}
	_, err = a.store.GetSponsorGroup(ctx, g.Name)
	switch {
	case g.Name == "":
	case err == nil && isNew:
		form.Fail("name", "There is a group called "+g.Name+" already: choose another name, or edit that group.")
	case errors.Is(err, storage.ErrNotFound) && !isNew:
		form.Fail("name", "There is no group called "+g.Name+" (any more): it was deleted meanwhile.")
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		a.fail(w, r, st, "get sponsor group", err)
		return
	}
	if !form.Valid() {
		a.groupView(w, r, st, http.StatusUnprocessableEntity, isNew, form, g)
		return
	}
	if err := a.store.PutSponsorGroup(ctx, g); err != nil {
		a.fail(w, r, st, "save sponsor group", err)
		return
	}
	action := "group.update"
	if isNew {
		action = "group.create"
	}
	var ps []string
	for _, p := range g.Permissions {
		ps = append(ps, string(p))
	}
	a.audit(r, st, action, g.Name, "permissions: "+strings.Join(ps, ",")+"; guest types: "+strings.Join(g.GuestTypes, ","))
	a.setFlash(w, r, st, "groups", "Saved the sponsor group "+g.Name+".")
	webkit.SeeOther(w, "../groups")
}

func (a *Admin) postGroupDelete(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	name := r.PostForm.Get("name")
	if name == storage.DefaultSponsorGroup || name == "" {
		a.setFlash(w, r, st, "groups", "The default group cannot be deleted: sponsors without a group are in it.")
		webkit.SeeOther(w, "../groups")
		return
	}
	err := a.store.DeleteSponsorGroup(r.Context(), name)
	switch {
	case errors.Is(err, storage.ErrConflict):
		a.setFlash(w, r, st, "groups", "The group "+name+" is in use: move its members to another group on the Staff page, then delete it.")
	case errors.Is(err, storage.ErrNotFound):
		a.setFlash(w, r, st, "groups", "There is no group called "+name+" (any more): nothing changed.")
	case err != nil:
		a.fail(w, r, st, "delete sponsor group", err)
		return
	default:
		a.audit(r, st, "group.delete", name, "")
		a.setFlash(w, r, st, "groups", "Deleted the sponsor group "+name+".")
	}
	webkit.SeeOther(w, "../groups")
}
