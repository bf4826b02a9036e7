package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// The guest types pages: list, create, edit, delete. A guest type says how
// long its guests may stay (validity, maximum, expiry notice), whether they
// need approval, and which sponsor groups may create them (kept on the
// groups: storage.SponsorGroup.GuestTypes, empty meaning every type).
// The rules are the guest package's (guest/typeadmin.go); this page parses
// the form (durations such as "8h" or "7d") and shows their answers.

func guestTypeForm(groups []storage.SponsorGroup) *webkit.Form {
	f := webkit.NewForm(
		&webkit.Field{Name: "name", Label: "Name", Type: "text", Required: true, MaxLen: guest.MaxGuestTypeName,
			Hint: "Lower-case letters, digits, - and _, such as contractor. It cannot be changed later."},
		&webkit.Field{Name: "description", Label: "Description", Type: "text", MaxLen: guest.MaxGuestTypeDescription,
			Hint: "What sponsors see when they choose the type, such as \"Contractors, up to a month\"."},
		&webkit.Field{Name: "validity", Label: "Validity", Type: "text", Required: true, MaxLen: 20,
			Hint: "How long a new guest may stay, such as 8h, 1d or 7d (h: hours, d: days, m: minutes)."},
		&webkit.Field{Name: "from_first_sign_in", Label: "Count the validity from the guest's first sign-in", Type: "checkbox",
			Hint: "Otherwise it counts from when the guest is created."},
		&webkit.Field{Name: "max_validity", Label: "Maximum stay with extensions", Type: "text", MaxLen: 20,
			Hint: "The longest a sponsor may extend a guest's access to, from its start, such as 30d. Leave blank for no extension beyond the validity."},
		&webkit.Field{Name: "expiry_notice", Label: "Expiry notice", Type: "text", MaxLen: 20,
			Hint: "How long before their access ends guests are told, such as 1h or 1d. Leave blank for the portal's default; write none for no notice."},
		&webkit.Field{Name: "approval", Label: "Guests of this type need approval", Type: "checkbox"},
	)
	for _, g := range groups {
		f.Fields = append(f.Fields, &webkit.Field{Name: "group:" + g.Name, Label: groupLabel(g), Type: "checkbox"})
	}
	return f
}

func groupLabel(g storage.SponsorGroup) string {
	if g.Description != "" {
		return g.Name + " (" + g.Description + ")"
	}
	return g.Name
}

// parseSpan reads a duration such as "8h", "1d", "90m" or "1d12h".
func parseSpan(s string) (time.Duration, error) {
	s = strings.ToLower(strings.ReplaceAll(s, " ", ""))
	if s == "" {
		return 0, errors.New("empty")
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, fmt.Errorf("%q: a number and a unit (d, h or m)", s)
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("%q: the number is too large", s[:i])
		}
		unit := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute}[s[i]]
		if unit == 0 {
			return 0, fmt.Errorf("%q: the unit must be d, h or m", s[i:i+1])
		}
		total += time.Duration(n) * unit
		s = s[i+1:]
	}
	return total, nil
}

// span writes d as parseSpan reads it ("7d", "1d12h", "90m").
func span(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	var b strings.Builder
	for _, u := range []struct {
		d time.Duration
		s string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.s)
			d -= n * u.d
		}
	}
	return b.String()
}

// readGuestType reads form into a guest type, failing the duration fields
// that do not read; the rules (guest.CheckGuestType) check the rest.
func readGuestType(form *webkit.Form) storage.GuestType {
	gt := storage.GuestType{Name: form.Value("name"), Description: form.Value("description"),
		RequireApproval: form.Field("approval").Checked(), FromFirstSignIn: form.Field("from_first_sign_in").Checked()}
	read := func(field, what string) time.Duration {
		v := form.Value(field)
		if v == "" {
			return 0
		}
		d, err := parseSpan(v)
		if err != nil {
			form.Fail(field, "Write the "+what+" as a number and a unit, such as 8h, 1d or 90m ("+err.Error()+").")
		}
		return d
	}
	gt.DefaultDuration = read("validity", "validity")
	gt.MaxDuration = read("max_validity", "maximum stay")
	if n := strings.ToLower(form.Value("expiry_notice")); n == "none" || n == "off" || n == "0" {
		gt.ExpiryNotice = -1
	} else {
		gt.ExpiryNotice = read("expiry_notice", "expiry notice")
	}
	return gt
}

// typeRow is a guest type in the list.
type typeRow struct {
	Name, Description, Validity, Max, Notice, From, Groups string
	Approval, Default                                      bool
	Guests                                                 int
}

type guestTypesPage struct {
	Types []typeRow
}

func (a *Admin) getGuestTypes(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	types, err := a.cfg.Guests.GuestTypeDetails(ctx)
	if err != nil {
		a.fail(w, r, st, "list guest types", err)
		return
	}
	pol := a.cfg.Guests.Policy()
	p := &guestTypesPage{}
	for i := range types {
		gt := &types[i]
		row := typeRow{Name: gt.Name, Description: gt.Description, Validity: guest.HumanDuration(guest.Validity(&gt.GuestType)),
			Max: guest.HumanDuration(gt.MaxDuration), From: "creation", Approval: a.cfg.Guests.RequiresApproval(&gt.GuestType),
			Default: gt.Default, Groups: strings.Join(gt.Groups, ", "), Guests: gt.Guests}
		if gt.FromFirstSignIn {
			row.From = "first sign-in"
		}
		row.Notice = "none"
		if n := guest.ExpiryNotice(&gt.GuestType, pol.ExpiryNotice); n > 0 {
			row.Notice = guest.HumanDuration(n) + " before"
		}
		p.Types = append(p.Types, row)
	}
	v := a.view(r, "Guest types", st, "guest-types", nil, p)
	v.Notice = a.takeFlash(w, r, st, "guest-types")
	a.page(w, r, http.StatusOK, "guesttypes", v)
}

// guestTypePage is the create or edit form.
type guestTypePage struct {
	Creating bool
	Name     string
	F        map[string]*webkit.Field
	Groups   []*webkit.Field
	Default  bool
}

func (a *Admin) showGuestType(w http.ResponseWriter, r *http.Request, st *storage.Staff, status int, form *webkit.Form, p *guestTypePage) {
	p.F = map[string]*webkit.Field{}
	for _, f := range form.Fields {
		p.F[f.Name] = f
		if strings.HasPrefix(f.Name, "group:") {
			p.Groups = append(p.Groups, f)
		}
	}
	title := "New guest type"
	if !p.Creating {
		title = "Guest type " + p.Name
	}
	v := a.view(r, title, st, "guest-types", form, p)
	a.page(w, r, status, "guesttype", v)
}

func (a *Admin) getGuestTypeNew(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	groups, err := a.store.ListSponsorGroups(r.Context())
	if err != nil {
		a.fail(w, r, st, "list sponsor groups", err)
		return
	}
	form := guestTypeForm(groups)
	form.Field("validity").Value = "1d"
	for _, g := range groups {
		form.Field("group:" + g.Name).Value = checked(len(g.GuestTypes) == 0)
	}
	a.showGuestType(w, r, st, http.StatusOK, form, &guestTypePage{Creating: true})
}

// findType returns the details of type name; nil (after answering) when
// there is none.
func (a *Admin) findType(w http.ResponseWriter, r *http.Request, st *storage.Staff, name string) *guest.GuestTypeInfo {
	types, err := a.cfg.Guests.GuestTypeDetails(r.Context())
	if err != nil {
		a.fail(w, r, st, "list guest types", err)
		return nil
	}
	i := slices.IndexFunc(types, func(t guest.GuestTypeInfo) bool { return t.Name == name })
	if i < 0 {
		a.noGuestType(w, r, st)
		return nil
	}
	return &types[i]
}

func (a *Admin) getGuestType(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	gt := a.findType(w, r, st, r.PathValue("name"))
	if gt == nil {
		return
	}
	groups, err := a.store.ListSponsorGroups(r.Context())
	if err != nil {
		a.fail(w, r, st, "list sponsor groups", err)
		return
	}
	form := guestTypeForm(groups)
	form.Field("name").Value = gt.Name
	form.Field("description").Value = gt.Description
	form.Field("validity").Value = span(gt.DefaultDuration)
	form.Field("max_validity").Value = span(gt.MaxDuration)
	if gt.ExpiryNotice < 0 {
		form.Field("expiry_notice").Value = "none"
	} else {
		form.Field("expiry_notice").Value = span(gt.ExpiryNotice)
	}
	form.Field("approval").Value = checked(gt.RequireApproval)
	form.Field("from_first_sign_in").Value = checked(gt.FromFirstSignIn)
	for _, g := range gt.Groups {
		if f := form.Field("group:" + g); f != nil {
			f.Value = "yes"
		}
	}
	a.showGuestType(w, r, st, http.StatusOK, form, &guestTypePage{Name: gt.Name, Default: gt.Default})
}

func (a *Admin) noGuestType(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a.message(w, r, http.StatusNotFound, st, "No such guest type",
		&webkit.Link{Href: webkit.RelRoot(r.URL.Path) + "guest-types", Text: "Back to the guest types"},
		"There is no guest type "+strconv.Quote(r.PathValue("name"))+". It may have been deleted; choose one from the list.")
}

func (a *Admin) postGuestTypeNew(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a.saveGuestType(w, r, st, true)
}

func (a *Admin) postGuestType(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a.saveGuestType(w, r, st, false)
}

// saveGuestType creates or updates a guest type, then sets the sponsor
// groups that may use it (two steps of the rules, each audited).
func (a *Admin) saveGuestType(w http.ResponseWriter, r *http.Request, st *storage.Staff, creating bool) {
	ctx := r.Context()
	groups, err := a.store.ListSponsorGroups(ctx)
	if err != nil {
		a.fail(w, r, st, "list sponsor groups", err)
		return
	}
	form := guestTypeForm(groups)
	form.Load(r.PostForm)
	p := &guestTypePage{Creating: creating}
	if !creating {
		form.Field("name").Value = r.PathValue("name")
		p.Name = r.PathValue("name")
		p.Default = p.Name == a.cfg.Guests.Policy().DefaultGuestType
	}
	gt := readGuestType(form)
	if !form.Valid() {
		a.showGuestType(w, r, st, http.StatusUnprocessableEntity, form, p)
		return
	}
	actor := guest.Actor{Staff: st}
	if creating {
		gt, err = a.cfg.Guests.CreateGuestType(ctx, actor, gt)
	} else {
		gt, err = a.cfg.Guests.UpdateGuestType(ctx, actor, gt)
	}
	if err == nil {
		var allowed []string
		for _, g := range groups {
			if form.Field("group:" + g.Name).Checked() {
				allowed = append(allowed, g.Name)
			}
		}
		err = a.cfg.Guests.SetGuestTypeGroups(ctx, actor, gt.Name, allowed)
		if err != nil && creating {
			// The type exists now: the form edits it from here on.
			p.Creating, p.Name = false, gt.Name
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, guest.ErrInvalid):
		for _, fe := range guest.FieldErrors(err) {
			name := fe.Field
			if name == "groups" && len(groups) > 0 {
				name = "group:" + groups[0].Name
			}
			if form.Field(name) == nil {
				name = "validity"
			}
			form.Fail(name, fe.Message)
		}
		a.showGuestType(w, r, st, http.StatusUnprocessableEntity, form, p)
		return
	case errors.Is(err, guest.ErrNotFound):
		a.noGuestType(w, r, st)
		return
	case errors.Is(err, guest.ErrForbidden):
		a.message(w, r, http.StatusForbidden, st, "Not allowed", &webkit.Link{Href: webkit.RelRoot(r.URL.Path) + "guest-types", Text: "Back to the guest types"}, err.Error())
		return
	default:
		a.fail(w, r, st, "save guest type", err)
		return
	}
	verb := "Saved"
	if creating {
		verb = "Created"
	}
	a.setFlash(w, r, st, "guest-types", verb+" the guest type "+gt.Name+". Sponsors can use it now.")
	webkit.SeeOther(w, webkit.RelRoot(r.URL.Path)+"guest-types")
}

// postGuestTypeDelete deletes a guest type; the rules refuse the default
// type and a type guests have, and the page says why.
func (a *Admin) postGuestTypeDelete(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	name := r.PathValue("name")
	err := a.cfg.Guests.DeleteGuestType(r.Context(), guest.Actor{Staff: st}, name)
	back := &webkit.Link{Href: webkit.RelRoot(r.URL.Path) + "guest-types/" + name, Text: "Back to the guest type"}
	switch {
	case err == nil:
		a.setFlash(w, r, st, "guest-types", "Deleted the guest type "+name+".")
		webkit.SeeOther(w, webkit.RelRoot(r.URL.Path)+"guest-types")
	case errors.Is(err, guest.ErrInvalid):
		var msgs []string
		for _, fe := range guest.FieldErrors(err) {
			msgs = append(msgs, fe.Message)
		}
		a.message(w, r, http.StatusConflict, st, "This guest type cannot be deleted", back, msgs...)
	case errors.Is(err, guest.ErrNotFound):
		a.noGuestType(w, r, st)
	case errors.Is(err, guest.ErrForbidden):
		a.message(w, r, http.StatusForbidden, st, "Not allowed", back, err.Error())
	default:
		a.fail(w, r, st, "delete guest type", err)
	}
}
