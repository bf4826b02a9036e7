package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
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
//
// checkGuestType holds the rules as a pure function of the form; they move
// to package guest with the guest type rules there.

var typeNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// maxTypeDuration bounds validity, maximum and notice.
const maxTypeDuration = 366 * 24 * time.Hour

func guestTypeForm(groups []storage.SponsorGroup) *webkit.Form {
	f := webkit.NewForm(
		&webkit.Field{Name: "name", Label: "Name", Type: "text", Required: true, MaxLen: 40,
			Hint: "Lower-case letters, digits, - and _, such as contractor. It cannot be changed later."},
		&webkit.Field{Name: "description", Label: "Description", Type: "text", MaxLen: 200,
			Hint: "What sponsors see when they choose the type, such as \"Contractors, up to a month\"."},
		&webkit.Field{Name: "validity", Label: "Validity", Type: "text", Required: true, MaxLen: 20,
			Hint: "How long a new guest may stay, such as 8h, 1d or 7d (h: hours, d: days, m: minutes)."},
		&webkit.Field{Name: "max", Label: "Maximum with extensions", Type: "text", MaxLen: 20,
			Hint: "The longest a sponsor may extend a guest's access to, from its start, such as 30d. Leave blank for no maximum."},
		&webkit.Field{Name: "notice", Label: "Expiry notice", Type: "text", MaxLen: 20,
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

// checkGuestType reads form into a guest type, failing the fields that are
// wrong; creating says whether the name is new (then it must be free:
// exists tells).
func checkGuestType(form *webkit.Form, creating bool, exists func(string) bool) storage.GuestType {
	gt := storage.GuestType{Name: form.Value("name"), Description: form.Value("description"),
		RequireApproval: form.Field("approval").Checked()}
	if creating {
		switch {
		case gt.Name == "":
			form.Fail("name", "Enter a name for the guest type, such as contractor.")
		case !typeNameRE.MatchString(gt.Name):
			form.Fail("name", "Use 1 to 40 lower-case letters, digits, - and _, starting with a letter or digit, such as contractor.")
		case exists(gt.Name):
			form.Fail("name", "There is already a guest type called "+gt.Name+". Choose another name, or edit that one.")
		}
	}
	read := func(field, what string, required bool) time.Duration {
		v := form.Value(field)
		if v == "" {
			if required {
				form.Fail(field, "Enter the "+what+", such as 8h or 7d.")
			}
			return 0
		}
		d, err := parseSpan(v)
		switch {
		case err != nil:
			form.Fail(field, "Write the "+what+" as a number and a unit, such as 8h, 1d or 90m ("+err.Error()+").")
		case d <= 0:
			form.Fail(field, "The "+what+" must be longer than nothing.")
		case d > maxTypeDuration:
			form.Fail(field, "The "+what+" can be at most 366 days.")
		}
		return d
	}
	gt.DefaultDuration = read("validity", "validity", true)
	gt.MaxDuration = read("max", "maximum", false)
	if gt.MaxDuration > 0 && gt.DefaultDuration > gt.MaxDuration {
		form.Fail("max", "The maximum ("+guest.HumanDuration(gt.MaxDuration)+") is shorter than the validity ("+
			guest.HumanDuration(gt.DefaultDuration)+"). Make it at least as long, or leave it blank.")
	}
	if n := strings.ToLower(form.Value("notice")); n == "none" || n == "0" {
		gt.ExpiryNotice = -1
	} else {
		gt.ExpiryNotice = read("notice", "expiry notice", false)
		if gt.ExpiryNotice > 0 && gt.DefaultDuration > 0 && gt.ExpiryNotice >= gt.DefaultDuration {
			form.Fail("notice", "The notice must be shorter than the validity ("+guest.HumanDuration(gt.DefaultDuration)+
				"): guests would be told at once. Shorten it, or write none.")
		}
	}
	return gt
}

// typeRow is a guest type in the list.
type typeRow struct {
	Name, Description, Validity, Max, Notice, Groups string
	Approval, Default                                bool
	Guests                                           string // "" when counting is not cheap
}

type guestTypesPage struct {
	Types []typeRow
}

// guestCounter is the store's count of a type's guests, where it has one
// (an index-backed query).
type guestCounter interface {
	CountGuestsOfType(ctx context.Context, name string) (int, error)
}

// allowedGroups names the groups whose members may create guests of name.
func allowedGroups(groups []storage.SponsorGroup, name string) []string {
	var out []string
	for _, g := range groups {
		if len(g.GuestTypes) == 0 || slices.Contains(g.GuestTypes, name) {
			out = append(out, g.Name)
		}
	}
	return out
}

func (a *Admin) getGuestTypes(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	types, err := a.cfg.Guests.GuestTypes(ctx)
	if err != nil {
		a.fail(w, r, st, "list guest types", err)
		return
	}
	groups, err := a.store.ListSponsorGroups(ctx)
	if err != nil {
		a.fail(w, r, st, "list sponsor groups", err)
		return
	}
	pol := a.cfg.Guests.Policy()
	p := &guestTypesPage{}
	for i := range types {
		gt := &types[i]
		row := typeRow{Name: gt.Name, Description: gt.Description, Validity: guest.HumanDuration(guest.Validity(gt)),
			Max: "none", Approval: a.cfg.Guests.RequiresApproval(gt), Default: gt.Name == pol.DefaultGuestType,
			Groups: strings.Join(allowedGroups(groups, gt.Name), ", ")}
		if gt.MaxDuration > 0 {
			row.Max = guest.HumanDuration(gt.MaxDuration)
		}
		row.Notice = "none"
		if n := guest.ExpiryNotice(gt, pol.ExpiryNotice); n > 0 {
			row.Notice = guest.HumanDuration(n) + " before"
		}
		if c, ok := a.store.(guestCounter); ok {
			if n, err := c.CountGuestsOfType(ctx, gt.Name); err == nil {
				row.Guests = strconv.Itoa(n)
			}
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
	// DeleteError says why the type cannot be deleted.
	DeleteError string
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
	if !p.Creating {
		v.Notice = a.takeFlash(w, r, st, "guest-type:"+p.Name)
	}
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

func (a *Admin) getGuestType(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	gt, err := a.store.GetGuestType(ctx, r.PathValue("name"))
	if errors.Is(err, storage.ErrNotFound) {
		a.noGuestType(w, r, st)
		return
	}
	if err != nil {
		a.fail(w, r, st, "read guest type", err)
		return
	}
	groups, err := a.store.ListSponsorGroups(ctx)
	if err != nil {
		a.fail(w, r, st, "list sponsor groups", err)
		return
	}
	form := guestTypeForm(groups)
	form.Field("name").Value = gt.Name
	form.Field("description").Value = gt.Description
	form.Field("validity").Value = span(gt.DefaultDuration)
	form.Field("max").Value = span(gt.MaxDuration)
	switch {
	case gt.ExpiryNotice < 0:
		form.Field("notice").Value = "none"
	default:
		form.Field("notice").Value = span(gt.ExpiryNotice)
	}
	form.Field("approval").Value = checked(gt.RequireApproval)
	for _, g := range groups {
		form.Field("group:" + g.Name).Value = checked(len(g.GuestTypes) == 0 || slices.Contains(g.GuestTypes, gt.Name))
	}
	a.showGuestType(w, r, st, http.StatusOK, form, &guestTypePage{Name: gt.Name, Default: gt.Name == a.cfg.Guests.Policy().DefaultGuestType})
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

// saveGuestType creates or updates a guest type and the groups that may use
// it, in one transaction with its audit entry.
func (a *Admin) saveGuestType(w http.ResponseWriter, r *http.Request, st *storage.Staff, creating bool) {
	ctx := r.Context()
	groups, err := a.store.ListSponsorGroups(ctx)
	if err != nil {
		a.fail(w, r, st, "list sponsor groups", err)
		return
	}
	types, err := a.cfg.Guests.GuestTypes(ctx)
	if err != nil {
		a.fail(w, r, st, "list guest types", err)
		return
	}
	exists := func(n string) bool {
		return slices.ContainsFunc(types, func(t storage.GuestType) bool { return t.Name == n })
	}
	form := guestTypeForm(groups)
	form.Load(r.PostForm)
	if !creating {
		form.Field("name").Value = r.PathValue("name")
		if !exists(r.PathValue("name")) {
			a.noGuestType(w, r, st)
			return
		}
	}
	gt := checkGuestType(form, creating, exists)
	p := &guestTypePage{Creating: creating, Name: gt.Name, Default: gt.Name == a.cfg.Guests.Policy().DefaultGuestType}
	if !form.Valid() {
		a.showGuestType(w, r, st, http.StatusUnprocessableEntity, form, p)
		return
	}
	var allNames []string
	for _, t := range types {
		allNames = append(allNames, t.Name)
	}
	if creating {
		allNames = append(allNames, gt.Name)
	}
	var changed []storage.SponsorGroup
	for _, g := range groups {
		want := form.Field("group:" + g.Name).Checked()
		has := len(g.GuestTypes) == 0 || slices.Contains(g.GuestTypes, gt.Name)
		switch {
		case want && !has:
			g.GuestTypes = append(slices.Clone(g.GuestTypes), gt.Name)
		case !want && has && len(g.GuestTypes) == 0:
			// Every type until now: every other type from now on.
			g.GuestTypes = slices.DeleteFunc(slices.Clone(allNames), func(n string) bool { return n == gt.Name })
			if len(g.GuestTypes) == 0 {
				form.Fail("group:"+g.Name, "The group "+g.Name+" may create guests of every type, and this is the only type: it must keep it.")
				continue
			}
		case !want && has:
			g.GuestTypes = slices.DeleteFunc(slices.Clone(g.GuestTypes), func(n string) bool { return n == gt.Name })
			if len(g.GuestTypes) == 0 {
				form.Fail("group:"+g.Name, "This is the only guest type the group "+g.Name+" may create; an empty list would allow every type. Give the group another type first.")
				continue
			}
		default:
			continue
		}
		changed = append(changed, g)
	}
	if !form.Valid() {
		a.showGuestType(w, r, st, http.StatusUnprocessableEntity, form, p)
		return
	}
	action := "guest_type.update"
	if creating {
		action = "guest_type.create"
	}
	err = a.store.WithTx(ctx, func(tx storage.Store) error {
		if creating {
			if _, err := tx.GetGuestType(ctx, gt.Name); err == nil {
				return storage.ErrConflict
			}
		} else if _, err := tx.GetGuestType(ctx, gt.Name); err != nil {
			return err
		}
		if err := tx.PutGuestType(ctx, gt); err != nil {
			return err
		}
		var names []string
		for _, g := range changed {
			if err := tx.PutSponsorGroup(ctx, g); err != nil {
				return err
			}
			names = append(names, g.Name)
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: "staff:" + st.Username, Action: action, Subject: gt.Name,
			Detail: fmt.Sprintf("validity %s, max %s, notice %s, approval %t; groups changed: %s", span(gt.DefaultDuration),
				cmpOr(span(gt.MaxDuration), "none"), noticeText(gt.ExpiryNotice), gt.RequireApproval, cmpOr(strings.Join(names, ", "), "none"))})
	})
	switch {
	case err == nil:
	case creating && errors.Is(err, storage.ErrConflict):
		form.Fail("name", "There is already a guest type called "+gt.Name+". Choose another name, or edit that one.")
		a.showGuestType(w, r, st, http.StatusConflict, form, p)
		return
	case errors.Is(err, storage.ErrNotFound):
		a.noGuestType(w, r, st)
		return
	default:
		a.fail(w, r, st, "save guest type", err)
		return
	}
	a.log.InfoContext(ctx, "guest type saved", "guest_type", gt.Name, "action", action, "staff_id", st.ID,
		"validity_ms", gt.DefaultDuration.Milliseconds(), "max_ms", gt.MaxDuration.Milliseconds())
	verb := "Saved"
	if creating {
		verb = "Created"
	}
	a.setFlash(w, r, st, "guest-types", verb+" the guest type "+gt.Name+". Sponsors can use it now.")
	webkit.SeeOther(w, webkit.RelRoot(r.URL.Path)+"guest-types")
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func noticeText(d time.Duration) string {
	switch {
	case d < 0:
		return "none"
	case d == 0:
		return "default"
	}
	return span(d)
}

// countGuests counts the guests of type name: the store's count where it
// has one, else by walking the guests (slow on a large store, and only
// done before a delete).
func (a *Admin) countGuests(ctx context.Context, name string) (int, error) {
	if c, ok := a.store.(guestCounter); ok {
		return c.CountGuestsOfType(ctx, name)
	}
	n := 0
	f := storage.GuestFilter{Limit: 500}
	for {
		page, err := a.store.ListGuests(ctx, f)
		if err != nil {
			return 0, err
		}
		for _, g := range page.Guests {
			if g.GuestType == name {
				n++
			}
		}
		if page.Next == "" {
			return n, nil
		}
		f.After = page.Next
	}
}

// postGuestTypeDelete deletes a guest type, unless it is the default type
// or guests have it (the page says which and why).
func (a *Admin) postGuestTypeDelete(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	name := r.PathValue("name")
	gt, err := a.store.GetGuestType(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		a.noGuestType(w, r, st)
		return
	}
	if err != nil {
		a.fail(w, r, st, "read guest type", err)
		return
	}
	back := &webkit.Link{Href: webkit.RelRoot(r.URL.Path) + "guest-types/" + name, Text: "Back to the guest type"}
	if name == a.cfg.Guests.Policy().DefaultGuestType {
		a.message(w, r, http.StatusConflict, st, "This guest type cannot be deleted", back,
			"The guest type "+name+" is the default: self-registered guests get it. Set another default type in the configuration first.")
		return
	}
	n, err := a.countGuests(ctx, name)
	if err != nil {
		a.fail(w, r, st, "count guests of a type", err)
		return
	}
	if n > 0 {
		a.message(w, r, http.StatusConflict, st, "This guest type cannot be deleted", back,
			fmt.Sprintf("%d guests have the type %s. Delete the guest type once they are gone (guests are removed some time after their access ends), or change the type instead.", n, name))
		return
	}
	err = a.store.WithTx(ctx, func(tx storage.Store) error {
		if err := tx.DeleteGuestType(ctx, name); err != nil {
			return err
		}
		groups, err := tx.ListSponsorGroups(ctx)
		if err != nil {
			return err
		}
		for _, g := range groups {
			if i := slices.Index(g.GuestTypes, name); i >= 0 {
				g.GuestTypes = slices.Delete(g.GuestTypes, i, i+1)
				if len(g.GuestTypes) == 0 {
					// Empty means every type: a group that could create only
					// this type can create none of the others either way, so
					// it keeps the default type rather than gaining them all.
					g.GuestTypes = []string{a.cfg.Guests.Policy().DefaultGuestType}
				}
				if err := tx.PutSponsorGroup(ctx, g); err != nil {
					return err
				}
			}
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: "staff:" + st.Username, Action: "guest_type.delete", Subject: name,
			Detail: "validity " + span(gt.DefaultDuration)})
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		a.fail(w, r, st, "delete guest type", err)
		return
	}
	a.log.InfoContext(ctx, "guest type deleted", "guest_type", name, "staff_id", st.ID)
	a.setFlash(w, r, st, "guest-types", "Deleted the guest type "+name+".")
	webkit.SeeOther(w, webkit.RelRoot(r.URL.Path)+"guest-types")
}
