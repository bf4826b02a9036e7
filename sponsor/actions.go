package sponsor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// The sponsor's actions on a guest. Each is a form on the guest page (and
// approve and deny also on the pending list) that posts here; the handler
// reads the form, calls the guest rules (which check the permission, the
// guest's state, and write the audit entry), and redirects back with a
// message. No rule lives here: what the page shows is only a guide, and the
// guest rules decide on every post.

// initActions builds what the actions need besides the Config.
func (s *Sponsor) initActions() {
	s.limitMail = webkit.NewRateLimiter(s.cfg.Actions.rate(), s.cfg.Actions.Burst, s.cfg.Now)
	s.flashes = webkit.NewBox(s.cfg.SecretKey, "sponsor flash")
	s.flashPath = "/"
	if u, err := url.Parse(s.cfg.BaseURL); err == nil && u.Path != "" {
		s.flashPath = strings.TrimRight(u.Path, "/") + "/"
	}
}

// extendPresets are the extend form's buttons, as durations from the later
// of now and the current end of access.
var extendPresets = []struct {
	By    time.Duration
	Label string
}{{24 * time.Hour, "+1 day"}, {7 * 24 * time.Hour, "+1 week"}}

// datetimeLocal is the layout of an <input type="datetime-local">.
const datetimeLocal = "2006-01-02T15:04"

// preset is one extend button.
type preset struct{ Value, Label string }

// actionsView says which action forms the guest page shows, with their
// fields.
type actionsView struct {
	Resend, Reset, Extend, Suspend, Reinstate, Delete, Approve, Deny bool
	Any                                                              bool
	Until                                                            *webkit.Field // extend: the new end of access
	Presets                                                          []preset
	Max                                                              string // the guest type's maximum, in words; "" when none
	SuspendReason, DenyReason                                        *webkit.Field
}

// actionForm is an action's form sent back with errors.
type actionForm struct {
	form *webkit.Form
}

func untilField() *webkit.Field {
	return &webkit.Field{Name: "valid_until", Label: "New end of access", Type: "datetime-local", Required: true,
		Hint: "A date and time in the portal's time zone."}
}

func suspendReasonField() *webkit.Field {
	return &webkit.Field{Name: "suspend_reason", Label: "Reason for suspending", Type: "text", Required: true, MaxLen: guest.MaxReason,
		Hint: "Recorded in the guest's history."}
}

func denyReasonField() *webkit.Field {
	return &webkit.Field{Name: "deny_reason", Label: "Reason for denying", Type: "text", MaxLen: guest.MaxReason,
		Hint: "Recorded in the guest's history; the guest is not told."}
}

// actionsFor is what the guest page offers actor on g; form carries the
// values and errors of a form sent back.
func (s *Sponsor) actionsFor(ctx context.Context, a guest.Actor, g *storage.Guest, form *actionForm) (actionsView, error) {
	may := func(p storage.Permission, statuses ...storage.GuestStatus) bool {
		if s.guests.Allowed(a, p, g) != nil {
			return false
		}
		if len(statuses) == 0 {
			return true
		}
		for _, st := range statuses {
			if g.Status == st {
				return true
			}
		}
		return false
	}
	active, pending, suspended, expired := storage.GuestActive, storage.GuestPending, storage.GuestSuspended, storage.GuestExpired
	v := actionsView{
		Resend:    may(storage.PermResend, active),
		Reset:     may(storage.PermResetPassword, active, suspended),
		Extend:    may(storage.PermExtend, active, expired, suspended),
		Suspend:   may(storage.PermSuspend, active, pending),
		Reinstate: may(storage.PermSuspend, suspended),
		Delete:    may(storage.PermDelete),
		Approve:   may(storage.PermApprove, pending),
		Until:     untilField(), SuspendReason: suspendReasonField(), DenyReason: denyReasonField(),
	}
	v.Deny = v.Approve
	v.Any = v.Resend || v.Reset || v.Extend || v.Suspend || v.Reinstate || v.Delete || v.Approve
	if form != nil {
		for _, f := range form.form.Fields {
			switch f.Name {
			case v.Until.Name:
				v.Until = f
			case v.SuspendReason.Name:
				v.SuspendReason = f
			case v.DenyReason.Name:
				v.DenyReason = f
			}
		}
	}
	if !v.Extend {
		return v, nil
	}
	base := later(s.now(), g.ValidUntil)
	if v.Until.Value == "" {
		v.Until.Value = base.Add(24 * time.Hour).In(s.cfg.TimeZone).Format(datetimeLocal)
	}
	var limit time.Time
	gt, err := s.store.GetGuestType(ctx, g.GuestType)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return v, fmt.Errorf("read guest type %q: %w", g.GuestType, err)
	case gt.MaxDuration > 0:
		limit = g.ValidFrom.Add(gt.MaxDuration)
		v.Max = fmt.Sprintf("Guests of type %s may stay at most %s from the start of their access: until %s at the latest.",
			gt.Name, guest.HumanDuration(gt.MaxDuration), s.formatTime(limit))
	}
	for _, p := range extendPresets {
		if limit.IsZero() || !base.Add(p.By).After(limit) {
			v.Presets = append(v.Presets, preset{Value: p.By.String(), Label: p.Label})
		}
	}
	return v, nil
}

// done is what a successful action tells the staff user, and where.
type done struct {
	notice string
	list   bool           // back to the list (?status=pending when pending), not the guest page
	guest  *storage.Guest // the guest afterwards: one the user no longer sees sends them to the list
	// handOver: guest email is off, and the action made credentials to
	// give the guest (guest.Result.HandOver): the answer is their
	// printable card, shown this once, titled notice.
	handOver *storage.Guest
}

// act runs one action on the guest named in the path: rate limited per
// staff user when it sends mail, with the errors of the guest rules made
// pages. form is the action's form (nil: none), loaded from the post.
func (s *Sponsor) act(w http.ResponseWriter, r *http.Request, st *storage.Staff, sendsMail bool, form *webkit.Form,
	do func(ctx context.Context, a guest.Actor, id uuid.UUID) (done, error)) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		s.notFound(w, r)
		return
	}
	if sendsMail {
		if ok, wait := s.limitMail.Allow(st.ID.String()); !ok {
			secs := max(1, int(wait.Round(time.Second)/time.Second))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			s.log.InfoContext(r.Context(), "sponsor: mail actions rate limited", "staff_id", st.ID)
			s.message(w, r, http.StatusTooManyRequests, "Too many emails at once",
				fmt.Sprintf("You sent many emails to guests in a short time. Wait %d seconds, then try again; nothing was done.", secs))
			return
		}
	}
	if form != nil {
		form.Load(r.PostForm)
	}
	sc, err := s.scopeOf(r, st)
	if err != nil {
		s.fail(w, r, "act on guest", err)
		return
	}
	actor := guest.Actor{Staff: st, Group: sc.group}
	if form != nil && !form.Valid() {
		// Refused actions are refused before any talk of their form.
		perm := map[string]storage.Permission{"valid_until": storage.PermExtend, "suspend_reason": storage.PermSuspend, "deny_reason": storage.PermApprove}[form.Fields[0].Name]
		g, err := s.store.GetGuestPublic(r.Context(), id)
		if err == nil {
			err = s.guests.Allowed(actor, perm, g)
		}
		if err != nil {
			s.actionError(w, r, st, id, nil, err)
			return
		}
		s.showGuest(w, r, st, id, http.StatusUnprocessableEntity, &actionForm{form: form})
		return
	}
	d, err := do(r.Context(), actor, id)
	if err != nil {
		s.actionError(w, r, st, id, form, err)
		return
	}
	if d.handOver != nil {
		s.showCards(w, r, st, []*storage.Guest{d.handOver}, d.notice)
		return
	}
	root := webkit.RelRoot(r.URL.Path)
	// A pending guest's person visited who approved them sees them no more.
	if d.list || (d.guest != nil && !sc.sees(st, d.guest)) {
		s.setFlash(w, r, st, flashList, d.notice)
		back := root
		if r.PostForm.Get("back") == "pending" {
			back += "?status=pending"
		}
		webkit.SeeOther(w, back)
		return
	}
	s.setFlash(w, r, st, id.String(), d.notice)
	webkit.SeeOther(w, root+"guests/"+id.String())
}

// actionError answers an action the guest rules refused; nothing changed.
func (s *Sponsor) actionError(w http.ResponseWriter, r *http.Request, st *storage.Staff, id uuid.UUID, form *webkit.Form, err error) {
	ctx := r.Context()
	guestLink := &webkit.Link{Href: webkit.RelRoot(r.URL.Path) + "guests/" + id.String(), Text: "Back to the guest"}
	var se *guest.StateError
	switch {
	case errors.Is(err, guest.ErrForbidden):
		s.log.InfoContext(ctx, "sponsor: action refused", "staff_id", st.ID, "guest_id", id, "error", err.Error())
		s.messageLink(w, r, http.StatusForbidden, "Not allowed", nil, reasonOf(err, guest.ErrForbidden),
			"Nothing was changed.")
	case errors.Is(err, guest.ErrNotFound):
		s.errorPage(w, r, http.StatusNotFound, "There is no such guest: they may have been deleted meanwhile. Go back to your guests.")
	case errors.As(err, &se):
		s.messageLink(w, r, http.StatusConflict, "That cannot be done now", guestLink, se.Message+".", "Nothing was changed.")
	case errors.Is(err, guest.ErrConflict):
		s.messageLink(w, r, http.StatusConflict, "The guest changed meanwhile", guestLink,
			"Someone else changed this guest while you were acting, so nothing was done. Reload the guest's page, check it, and try again.")
	case errors.Is(err, guest.ErrInvalid) && form != nil:
		for _, fe := range guest.FieldErrors(err) {
			name := fe.Field
			if name == "reason" { // the rules' field; each form names its own
				for _, f := range form.Fields {
					if strings.HasSuffix(f.Name, "_reason") {
						name = f.Name
					}
				}
			}
			if form.Field(name) == nil {
				name = form.Fields[0].Name
			}
			form.Fail(name, fe.Message)
		}
		s.showGuest(w, r, st, id, http.StatusUnprocessableEntity, &actionForm{form: form})
	case errors.Is(err, guest.ErrInvalid):
		var msgs []string
		for _, fe := range guest.FieldErrors(err) {
			msgs = append(msgs, fe.Message)
		}
		s.messageLink(w, r, http.StatusUnprocessableEntity, "That cannot be done", guestLink, msgs...)
	default:
		s.fail(w, r, "act on guest", err)
	}
}

// reasonOf is err's message after sentinel's: the part a person reads.
func reasonOf(err, sentinel error) string {
	msg := err.Error()
	if i := strings.Index(msg, sentinel.Error()+": "); i >= 0 {
		msg = msg[i+len(sentinel.Error())+2:]
	}
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
		if !strings.HasSuffix(msg, ".") {
			msg += "."
		}
	}
	return msg
}

// messageLink is message with link (nil: back to the guests list).
func (s *Sponsor) messageLink(w http.ResponseWriter, r *http.Request, status int, title string, link *webkit.Link, paragraphs ...string) {
	who, _ := s.Staff(r)
	v := s.view(r, title, who, "", nil, nil)
	if link == nil {
		link = &webkit.Link{Href: v.Root, Text: "Back to your guests"}
	}
	v.Data = pageData{Nav: v.Data.(pageData).Nav, Page: messageData{Paragraphs: paragraphs, Link: link}}
	s.page(w, r, status, "message", v)
}

// mailNote says where the email of res stands: it waits up to MailWait
// for the first attempt. "" when the action sent none.
func (s *Sponsor) mailNote(ctx context.Context, res *guest.Result) string {
	if res.Mail == uuid.Nil {
		return ""
	}
	if res.Future == nil {
		return "Queued: no mail sender in this process. The email waits in the outbox until Lobby's mail sender runs."
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.MailWait)
	defer cancel()
	out := res.Future.Wait(wctx)
	switch out.Status {
	case notify.StatusSent:
		return fmt.Sprintf("Sent in %d ms.", out.Took.Milliseconds())
	case notify.StatusFailed:
		msg := "Not sent, and not retried: an administrator must fix the mail settings (see the mail log)."
		if out.Diagnosis != nil {
			msg = "Not sent: " + sentence(out.Diagnosis.Message) + " " + sentence(out.Diagnosis.Hint) + " It is not retried: an administrator must fix this."
		}
		return msg
	case notify.StatusDeferred:
		if out.Diagnosis != nil {
			return "Not sent yet: " + sentence(out.Diagnosis.Message) + " Lobby keeps retrying."
		}
	}
	return "Queued: not sent yet. Lobby keeps retrying."
}

// sentence ends s with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

// mailed says where the email to addr stands (note: mailNote's); "" when
// there is none.
func mailed(addr, note string) string {
	if note == "" {
		return ""
	}
	return "Email to " + addr + ": " + note
}

// join makes one notice of its non-empty parts.
func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

func (s *Sponsor) postResend(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	s.act(w, r, st, true, nil, func(ctx context.Context, a guest.Actor, id uuid.UUID) (done, error) {
		res, err := s.guests.Resend(ctx, a, id)
		if err != nil {
			return done{}, err
		}
		if res.HandOver {
			return done{handOver: res.Guest, notice: "Credentials of " + guestName(res.Guest) + " (not emailed: guest email is off)"}, nil
		}
		return done{notice: "Credentials of " + guestName(res.Guest) + " sent again. " + mailed(res.Guest.Email, s.mailNote(ctx, res))}, nil
	})
}

func (s *Sponsor) postReset(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	s.act(w, r, st, true, nil, func(ctx context.Context, a guest.Actor, id uuid.UUID) (done, error) {
		res, err := s.guests.ResetPassword(ctx, a, id)
		if err != nil {
			return done{}, err
		}
		name := guestName(res.Guest)
		if res.HandOver {
			return done{handOver: res.Guest, notice: "New password of " + name + " (not emailed: guest email is off)"}, nil
		}
		if res.Mail == uuid.Nil {
			return done{notice: "New password set for " + name + "; their old password no longer works. No email was sent: " +
				"they are not active (or have no address). Reset it again once they are, to send them one."}, nil
		}
		return done{notice: "New password set for " + name + "; the old one no longer works. " + mailed(res.Guest.Email, s.mailNote(ctx, res))}, nil
	})
}

func (s *Sponsor) postExtend(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	form := webkit.NewForm(untilField())
	s.act(w, r, st, false, form, func(ctx context.Context, a guest.Actor, id uuid.UUID) (done, error) {
		until, ok := s.extendTarget(ctx, r, id, form)
		if !ok {
			return done{}, errors.Join(&guest.InvalidError{Field: "valid_until", Message: form.Field("valid_until").Error})
		}
		res, err := s.guests.Extend(ctx, a, id, until)
		if err != nil {
			return done{}, err
		}
		return done{notice: join("Access of "+guestName(res.Guest)+" extended until "+s.formatTime(res.Guest.ValidUntil)+".",
			mailed(res.Guest.Email, s.mailNote(ctx, res)))}, nil
	})
}

// extendTarget reads the extend form: a preset button (by=24h) from the
// later of now and the current end, or the date and time typed in the
// portal's time zone. It fails the form's field when neither reads.
func (s *Sponsor) extendTarget(ctx context.Context, r *http.Request, id uuid.UUID, form *webkit.Form) (time.Time, bool) {
	if by := r.PostForm.Get("by"); by != "" {
		d, err := time.ParseDuration(by)
		ok := err == nil
		if ok {
			ok = false
			for _, p := range extendPresets {
				ok = ok || p.By == d
			}
		}
		if !ok {
			form.Fail("valid_until", "Choose one of the buttons, or type a date and time.")
			return time.Time{}, false
		}
		g, err := s.store.GetGuestPublic(ctx, id)
		if err != nil {
			// The rules read the guest again and say what is wrong.
			return s.now().Add(d), true
		}
		return later(s.now(), g.ValidUntil).Add(d), true
	}
	v := form.Value("valid_until")
	if v == "" {
		form.Fail("valid_until", "Enter the new end of access, or pick one of the buttons.")
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(datetimeLocal, v, s.cfg.TimeZone)
	if err != nil {
		form.Fail("valid_until", "Enter the new end of access as a date and time, such as "+s.now().In(s.cfg.TimeZone).Add(24*time.Hour).Format(datetimeLocal)+".")
		return time.Time{}, false
	}
	return t, true
}

func (s *Sponsor) postSuspend(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	form := webkit.NewForm(suspendReasonField())
	form.Load(r.PostForm)
	if form.Value("suspend_reason") == "" {
		form.Fail("suspend_reason", "Say why you suspend the guest: it goes into their history.")
	}
	s.act(w, r, st, false, form, func(ctx context.Context, a guest.Actor, id uuid.UUID) (done, error) {
		g, err := s.guests.Suspend(ctx, a, id, form.Value("suspend_reason"))
		if err != nil {
			return done{}, err
		}
		return done{notice: "Suspended " + guestName(g) + ": their credentials no longer work and their sessions have ended."}, nil
	})
}

func (s *Sponsor) postReinstate(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	s.act(w, r, st, false, nil, func(ctx context.Context, a guest.Actor, id uuid.UUID) (done, error) {
		g, err := s.guests.Reinstate(ctx, a, id)
		if err != nil {
			return done{}, err
		}
		return done{notice: "Reinstated " + guestName(g) + ": their credentials work again until " + s.formatTime(g.ValidUntil) + "."}, nil
	})
}

func (s *Sponsor) postApprove(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	s.act(w, r, st, true, nil, func(ctx context.Context, a guest.Actor, id uuid.UUID) (done, error) {
		res, err := s.guests.Approve(ctx, a, id)
		if err != nil {
			return done{}, err
		}
		if res.HandOver {
			return done{handOver: res.Guest, notice: "Approved " + guestName(res.Guest) + ": their credentials (not emailed: guest email is off)"}, nil
		}
		return done{list: r.PostForm.Get("back") == "pending", guest: res.Guest, notice: join("Approved "+guestName(res.Guest)+
			": access until "+s.formatTime(res.Guest.ValidUntil)+".", mailed(res.Guest.Email, s.mailNote(ctx, res)))}, nil
	})
}

func (s *Sponsor) postDeny(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	form := webkit.NewForm(denyReasonField())
	s.act(w, r, st, true, form, func(ctx context.Context, a guest.Actor, id uuid.UUID) (done, error) {
		res, err := s.guests.Deny(ctx, a, id, form.Value("deny_reason"))
		if err != nil {
			return done{}, err
		}
		return done{list: r.PostForm.Get("back") == "pending", guest: res.Guest, notice: join("Denied "+guestName(res.Guest)+".",
			mailed(res.Guest.Email, s.mailNote(ctx, res)))}, nil
	})
}

// confirmData is the delete confirmation page's own data.
type confirmData struct {
	ID, Name, Status, Username string
}

// getDelete asks to confirm deleting the guest (only of those the staff
// user may delete).
func (s *Sponsor) getDelete(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		s.notFound(w, r)
		return
	}
	g, err := s.store.GetGuestPublic(r.Context(), id)
	if err != nil {
		s.actionError(w, r, st, id, nil, err)
		return
	}
	sc, err := s.scopeOf(r, st)
	if err != nil {
		s.fail(w, r, "delete guest", err)
		return
	}
	if err := s.guests.Allowed(guest.Actor{Staff: st, Group: sc.group}, storage.PermDelete, g); err != nil {
		s.actionError(w, r, st, id, nil, err)
		return
	}
	d := confirmData{ID: g.ID.String(), Name: guestName(g), Status: string(g.Status), Username: g.Username}
	s.page(w, r, http.StatusOK, "confirm", s.view(r, "Delete "+d.Name+"?", st, "", nil, d))
}

// postDelete deletes the guest once confirmed (confirm=yes, the
// confirmation page's button); back to the list with the news.
func (s *Sponsor) postDelete(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	if r.PostForm.Get("confirm") != "yes" {
		webkit.SeeOther(w, "delete")
		return
	}
	s.act(w, r, st, false, nil, func(ctx context.Context, a guest.Actor, id uuid.UUID) (done, error) {
		g, err := s.store.GetGuestPublic(ctx, id)
		if err != nil {
			return done{}, err
		}
		if err := s.guests.Delete(ctx, a, id); err != nil {
			return done{}, err
		}
		return done{list: true, notice: "Deleted " + guestName(g) + ". Their history stays in the audit log."}, nil
	})
}

// later is the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
