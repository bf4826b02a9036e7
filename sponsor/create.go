package sponsor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/i18n"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// The sponsor side creates guests only through the guest rules
// (Config.Guests): they check the permission (PermCreate, PermBatch), the
// guest types the sponsor's group may use, the validity against the
// type's maximum and every field, and write the audit entries. These pages
// read forms, call them and show what they answer.

// timeLayout is how the pages' date-and-time inputs (datetime-local) read
// and write times, in Config.TimeZone.
const timeLayout = "2006-01-02T15:04"

// actorOf is st as the guest rules see it: with their sponsor group
// (admins need none; a group that went away is none, which the rules
// refuse).
func (s *Sponsor) actorOf(ctx context.Context, st *storage.Staff) (guest.Actor, error) {
	a := guest.Actor{Staff: st}
	if st.Role == storage.RoleAdmin {
		return a, nil
	}
	g, err := s.store.GetSponsorGroup(ctx, st.Group)
	if errors.Is(err, storage.ErrNotFound) {
		return a, nil
	}
	if err != nil {
		return a, fmt.Errorf("read the sponsor group: %w", err)
	}
	a.Group = g
	return a, nil
}

// mayAdd reports whether st may create guests one by one (PermCreate) and
// in batches (PermBatch; importing needs both), for the navigation links.
func (s *Sponsor) mayAdd(r *http.Request, st *storage.Staff) (create, batch bool) {
	a, err := s.actorOf(r.Context(), st)
	if err != nil {
		s.log.WarnContext(r.Context(), "sponsor: read permissions for the navigation", "error", err.Error())
		return false, false
	}
	return s.cfg.Guests.Allowed(a, storage.PermCreate, nil) == nil, s.cfg.Guests.Allowed(a, storage.PermBatch, nil) == nil
}

// allowed returns the actor of st when the guest rules let them take the
// actions that need ps; otherwise it answers 403 (500 on a store error)
// and returns false.
func (s *Sponsor) allowed(w http.ResponseWriter, r *http.Request, st *storage.Staff, ps ...storage.Permission) (guest.Actor, bool) {
	a, err := s.actorOf(r.Context(), st)
	if err != nil {
		s.fail(w, r, "read permissions", err)
		return a, false
	}
	for _, p := range ps {
		if err := s.cfg.Guests.Allowed(a, p, nil); err != nil {
			s.forbidden(w, r, err)
			return a, false
		}
	}
	return a, true
}

// forbidden answers 403 with what the guest rules said.
func (s *Sponsor) forbidden(w http.ResponseWriter, r *http.Request, err error) {
	s.log.InfoContext(r.Context(), "sponsor: refused by the guest rules", "error", err.Error())
	msg, prefix := err.Error(), guest.ErrForbidden.Error()+": "
	if i := strings.LastIndex(msg, prefix); i >= 0 && len(msg) > i+len(prefix) {
		msg = upperFirst(msg[i+len(prefix):]) + "."
	} else {
		msg = "Your sponsor group does not allow this. Ask an admin if you need to."
	}
	s.message(w, r, http.StatusForbidden, "Not allowed", msg)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// typeChoice is a guest type in a form's list.
type typeChoice struct {
	Name, Label string
	Selected    bool
}

// usableTypes lists the guest types a may create, with their default and
// longest validity in the label; selected is the chosen one ("" : the
// default type).
func (s *Sponsor) usableTypes(ctx context.Context, a guest.Actor, selected string) ([]typeChoice, error) {
	types, err := s.cfg.Guests.GuestTypes(ctx)
	if err != nil {
		return nil, err
	}
	if selected == "" {
		selected = s.cfg.Guests.Policy().DefaultGuestType
	}
	var out []typeChoice
	for i := range types {
		gt := &types[i]
		if a.Group != nil && a.Staff.Role != storage.RoleAdmin && !a.Group.MayUseType(gt.Name) {
			continue
		}
		label := gt.Name + " (" + guest.HumanDuration(guest.Validity(gt))
		if gt.MaxDuration > 0 {
			label += ", at most " + guest.HumanDuration(gt.MaxDuration)
		}
		out = append(out, typeChoice{Name: gt.Name, Label: label + ")", Selected: gt.Name == selected})
	}
	return out, nil
}

// parseValidity reads a validity as typed (see guest.ParseDuration):
// "8h", "2d", "1d12h", "90m", "1w". Empty is 0: the type's default.
func parseValidity(v string) (time.Duration, error) { return guest.ParseDuration(v) }

const validityHint = "Leave empty for the guest type's default. Write it as 8h, 2d or 1d12h (m: minutes, h: hours, d: days, w: weeks); at most the type's maximum."

// parseStart reads a valid-from time as a datetime-local input sends it;
// empty is the zero time (now).
func (s *Sponsor) parseStart(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(timeLayout, v, s.cfg.TimeZone)
	if err != nil {
		t, err = time.ParseInLocation("2006-01-02 15:04", v, s.cfg.TimeZone)
	}
	return t, err
}

// startHint says how to give a start, and the time zone it is read in.
// The field starts empty (now) rather than filled with the time the form
// was opened: a form sent a quarter of an hour later would otherwise have
// a start in the past, which the guest rules refuse.
func (s *Sponsor) startHint() string {
	return "Leave empty to start at once, or give a date and time (" + s.now().In(s.cfg.TimeZone).Format("MST") + "), such as 2026-03-02T09:00."
}

func (s *Sponsor) createForm() *webkit.Form {
	return webkit.NewForm(
		&webkit.Field{Name: "first_name", Label: "First name", Type: "text", Required: true, MaxLen: 100},
		&webkit.Field{Name: "last_name", Label: "Last name", Type: "text", Required: true, MaxLen: 100},
		&webkit.Field{Name: "email", Label: "Email address", Type: "email", Required: true, MaxLen: 254,
			Hint: "Their credentials go to this address."},
		&webkit.Field{Name: "phone", Label: "Phone number", Type: "tel", MaxLen: 40},
		&webkit.Field{Name: "company", Label: "Company", Type: "text", MaxLen: 200},
		&webkit.Field{Name: "reason", Label: "Reason for the visit", Type: "textarea", MaxLen: 500},
		&webkit.Field{Name: "guest_type", Label: "Guest type", Type: "select", Required: true},
		&webkit.Field{Name: "language", Label: "Language of the guest's emails", Type: "select", Required: true},
		&webkit.Field{Name: "valid_from", Label: "Access from", Type: "datetime-local", Hint: s.startHint()},
		&webkit.Field{Name: "validity", Label: "Access for", Type: "text", MaxLen: 20, Hint: validityHint},
		&webkit.Field{Name: "send_email", Label: "Send the credentials to the guest by email", Type: "checkbox",
			Hint: "Untick to hand the credentials over yourself: Lobby then shows them once, on a printable card."},
	)
}

// formData is a create, batch or import form page's own data.
type formData struct {
	Types []typeChoice
	// Languages are the languages of the guest's emails (the create form).
	Languages []i18n.Choice
	// Import's report (import.go).
	Report *importReport
}

func (s *Sponsor) getCreate(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a, ok := s.allowed(w, r, st, storage.PermCreate)
	if !ok {
		return
	}
	form := s.createForm()
	form.Field("send_email").Value = "yes"
	s.renderCreate(w, r, st, a, http.StatusOK, form)
}

func (s *Sponsor) renderCreate(w http.ResponseWriter, r *http.Request, st *storage.Staff, a guest.Actor, status int, form *webkit.Form) {
	types, err := s.usableTypes(r.Context(), a, form.Value("guest_type"))
	if err != nil {
		s.fail(w, r, "list guest types", err)
		return
	}
	var langs []i18n.Choice
	if words, err := i18n.Default(); err == nil {
		langs = words.Choices(cmp.Or(form.Value("language"), i18n.English))
	}
	s.page(w, r, status, "create", s.view(r, "Create a guest", st, "create", form, formData{Types: types, Languages: langs}))
}

func (s *Sponsor) postCreate(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a, ok := s.allowed(w, r, st, storage.PermCreate)
	if !ok {
		return
	}
	form := s.createForm()
	form.Load(r.PostForm)
	n := guest.NewGuest{
		FirstName: form.Value("first_name"), LastName: form.Value("last_name"), Email: form.Value("email"),
		Phone: form.Value("phone"), Company: form.Value("company"), Reason: form.Value("reason"),
		GuestType: form.Value("guest_type"), Language: form.Value("language"),
	}
	var err error
	if n.ValidFrom, err = s.parseStart(form.Value("valid_from")); err != nil {
		form.Fail("valid_from", "Enter the start as a date and time, such as 2026-03-02T09:00.")
	}
	if n.Validity, err = parseValidity(form.Value("validity")); err != nil {
		form.Fail("validity", "Write how long as a number and a unit, such as 8h, 2d or 1d12h.")
	}
	// Without the email the sponsor hands the credentials over: the answer
	// is then the printable card, shown this once (see showCard).
	n.NoEmail = form.Value("send_email") == ""
	if !form.Valid() {
		s.renderCreate(w, r, st, a, http.StatusUnprocessableEntity, form)
		return
	}
	res, err := s.cfg.Guests.Create(r.Context(), a, n)
	switch {
	case errors.Is(err, guest.ErrForbidden):
		// Nothing was created: the group may not create guests, or not of
		// this type (the list offers only the types it may use).
		s.forbidden(w, r, err)
		return
	case errors.Is(err, guest.ErrInvalid):
		for _, fe := range guest.FieldErrors(err) {
			form.Fail(fe.Field, fe.Message)
		}
		s.renderCreate(w, r, st, a, http.StatusUnprocessableEntity, form)
		return
	case err != nil:
		s.fail(w, r, "create guest", err)
		return
	}
	g := res.Guest
	if n.NoEmail {
		s.showCards(w, r, st, []*storage.Guest{g}, "Created "+guestName(g))
		return
	}
	if res.HandOver {
		s.showCards(w, r, st, []*storage.Guest{g}, "Created "+guestName(g)+" (not emailed: guest email is off)")
		return
	}
	flash := "Created " + guestName(g) + "; credentials sent to " + g.Email + " (" + mailState(r.Context(), res.Future, s.cfg.MailWait) + ")."
	webkit.SeeOther(w, s.createdRedirect(w, r, st, g, flash))
}

// mailState waits up to wait for an email's outcome: "sent in 120 ms", or
// "queued" when it takes longer, when no sender runs in this process, or
// when it is to be retried (the outbox keeps it).
func mailState(ctx context.Context, f *notify.Future, wait time.Duration) string {
	if f == nil {
		return "queued"
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	res := f.Wait(ctx)
	switch res.Status {
	case notify.StatusSent:
		return fmt.Sprintf("sent in %d ms", res.Took.Milliseconds())
	case notify.StatusFailed:
		return "the email failed; an admin can see why in the mail log"
	}
	return "queued"
}
