package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// Guest is a guest as the API shows it. Password is set only where the
// caller hands the credentials over themselves (a guest created without
// email, a batch).
type Guest struct {
	ID            uuid.UUID  `json:"id"`
	Username      string     `json:"username"`
	Password      string     `json:"password,omitempty"`
	FirstName     string     `json:"first_name"`
	LastName      string     `json:"last_name"`
	Email         string     `json:"email"`
	Phone         string     `json:"phone"`
	Company       string     `json:"company"`
	PersonVisited string     `json:"person_visited"`
	Reason        string     `json:"reason"`
	GuestType     string     `json:"guest_type"`
	Status        string     `json:"status"`
	SponsorID     *uuid.UUID `json:"sponsor_id"`
	ValidFrom     *time.Time `json:"valid_from"`
	ValidUntil    *time.Time `json:"valid_until"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// guestOut is g as the API shows it, without the password.
func guestOut(g *storage.Guest) Guest {
	out := Guest{
		ID: g.ID, Username: g.Username, FirstName: g.FirstName, LastName: g.LastName, Email: g.Email, Phone: g.Phone,
		Company: g.Company, PersonVisited: g.PersonVisited, Reason: g.Reason, GuestType: g.GuestType, Status: string(g.Status),
		ValidFrom: timePtr(g.ValidFrom), ValidUntil: timePtr(g.ValidUntil), CreatedAt: g.CreatedAt.UTC(), UpdatedAt: g.UpdatedAt.UTC(),
	}
	if g.SponsorID != uuid.Nil {
		id := g.SponsorID
		out.SponsorID = &id
	}
	return out
}

// Mail is where the email an action sent stands, as the sponsor page says
// it: the first delivery attempt's outcome, waited for up to MailWait.
type Mail struct {
	// Status is sent, deferred (retried later), failed (not retried: an
	// admin must fix the mail settings), or queued (not tried yet, or
	// still trying when the wait ended).
	Status    string            `json:"status"`
	MessageID uuid.UUID         `json:"message_id"`
	To        string            `json:"to"`
	Attempts  int               `json:"attempts,omitempty"`
	TookMS    int64             `json:"took_ms,omitempty"`
	Diagnosis *notify.Diagnosis `json:"diagnosis,omitempty"`
	Note      string            `json:"note"`
}

// mailOut waits for res's email (up to MailWait) and says where it
// stands; nil when the action sent none.
func (a *API) mailOut(ctx context.Context, res *guest.Result) *Mail {
	if res.Mail == uuid.Nil {
		return nil
	}
	m := &Mail{Status: "queued", MessageID: res.Mail, To: res.Guest.Email}
	if res.Future == nil {
		m.Note = "Queued: no mail sender in this process. The email waits in the outbox until Lobby's mail sender runs."
		return m
	}
	wctx, cancel := context.WithTimeout(ctx, a.cfg.MailWait)
	defer cancel()
	out := res.Future.Wait(wctx)
	m.Attempts, m.Diagnosis = out.Attempts, out.Diagnosis
	if out.Status != notify.StatusPending {
		m.TookMS = out.Took.Milliseconds()
	}
	switch out.Status {
	case notify.StatusSent:
		m.Status, m.Note = "sent", fmt.Sprintf("Sent in %d ms.", out.Took.Milliseconds())
	case notify.StatusFailed:
		m.Status, m.Note = "failed", "Not sent, and not retried: an administrator must fix the mail settings (see the mail log)."
	case notify.StatusDeferred:
		m.Status, m.Note = "deferred", "Not sent yet; Lobby keeps retrying."
	default:
		m.Note = "Queued: not sent yet. Lobby keeps retrying."
	}
	if out.Diagnosis != nil && out.Status != notify.StatusSent {
		m.Note = strings.TrimSuffix(m.Note, ".") + ": " + out.Diagnosis.Message
	}
	return m
}

// GuestResult is what an action on one guest answers.
type GuestResult struct {
	Guest Guest `json:"guest"`
	Mail  *Mail `json:"mail,omitempty"`
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes the request's JSON body into v, strictly (unknown
// fields are an error). An empty body leaves v as it is when optional.
// It answers the problem itself and returns false when the body does not
// read.
func (a *API) readJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			writeProblem(w, probMediaType.with("Send the body as JSON, with Content-Type: application/json."))
			return false
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		a.fail(w, r, "read body", err)
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return true
		}
		writeProblem(w, probBadRequest.with("Send a JSON object as the body."))
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeProblem(w, probBadRequest.with("The body is not the JSON this endpoint takes: "+jsonErr(err)+"."))
		return false
	}
	if dec.More() {
		writeProblem(w, probBadRequest.with("Send one JSON object, with nothing after it."))
		return false
	}
	return true
}

// jsonErr says what is wrong with a body, without echoing values.
func jsonErr(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("a syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be a %s", typ.Field, typ.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends too early"
	case errors.As(err, new(*time.ParseError)):
		return "write times as RFC 3339, such as 2026-03-05T18:00:00Z"
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "there is no field " + f
	}
	return strings.TrimPrefix(msg, "json: ")
}

// act answers an action's outcome: the rules' errors as problems.
func (a *API) ruleError(w http.ResponseWriter, r *http.Request, op string, err error) {
	if p, ok := ruleProblem(err); ok {
		if p.Status == http.StatusForbidden {
			actor := actorOf(r)
			a.log.InfoContext(r.Context(), "api: refused by the guest rules", "op", op, "actor", actor.String(), "error", err.Error())
		}
		writeProblem(w, p)
		return
	}
	a.fail(w, r, op, err)
}

// guestID reads the path's guest ID; it answers 404 and returns false
// when it is not one.
func guestID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeProblem(w, probNotFound.with("There is no such guest: "+strconv.Quote(r.PathValue("id"))+" is not a guest ID."))
		return uuid.Nil, false
	}
	return id, true
}

// Me is who the token acts as.
type Me struct {
	Username    string   `json:"username"`
	DisplayName string   `json:"display_name"`
	Email       string   `json:"email"`
	Role        string   `json:"role"`
	Group       string   `json:"group,omitempty"`
	ManageAll   bool     `json:"manage_all"`
	Permissions []string `json:"permissions"`
	GuestTypes  []string `json:"guest_types"`
}

func (a *API) getMe(w http.ResponseWriter, r *http.Request) {
	actor := actorOf(r)
	st := actor.Staff
	me := Me{Username: st.Username, DisplayName: st.DisplayName, Email: st.Email, Role: string(st.Role),
		ManageAll: guest.SeesAll(actor), Permissions: []string{}, GuestTypes: []string{}}
	for _, p := range storage.AllPermissions {
		if a.guests.Allowed(actor, p, nil) == nil {
			me.Permissions = append(me.Permissions, string(p))
		}
	}
	if actor.Group != nil {
		me.Group = actor.Group.Name
		me.GuestTypes = append(me.GuestTypes, actor.Group.GuestTypes...)
	}
	writeJSON(w, http.StatusOK, me)
}

// GuestList is one page of guests.
type GuestList struct {
	Guests []Guest `json:"guests"`
	// Next is the cursor of the next page (pass it as after); empty on
	// the last page.
	Next string `json:"next,omitempty"`
}

// listGuests lists the guests the token's staff user sees, with the
// sponsor list's filters: q (search), status, sort (newest or expiry),
// after (the cursor of the page before) and limit.
func (a *API) listGuests(w http.ResponseWriter, r *http.Request) {
	actor := actorOf(r)
	q := r.URL.Query()
	var bad []FieldError
	f := storage.GuestFilter{Query: strings.TrimSpace(q.Get("q")), After: q.Get("after"), Limit: a.cfg.PageSize}
	if len(f.Query) > 200 {
		bad = append(bad, FieldError{Field: "q", Detail: "Search with at most 200 characters."})
	}
	if !guest.SeesAll(actor) {
		f.SponsorID = actor.Staff.ID
	}
	if s := q.Get("status"); s != "" {
		if status := storage.GuestStatus(s); status.Valid() {
			f.Status = []storage.GuestStatus{status}
		} else {
			bad = append(bad, FieldError{Field: "status", Detail: "Use one of pending, active, expired, suspended, denied."})
		}
	}
	switch q.Get("sort") {
	case "", "newest":
	case "expiry":
		f.Sort = storage.SortExpiry
	default:
		bad = append(bad, FieldError{Field: "sort", Detail: "Use newest (the default) or expiry."})
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			bad = append(bad, FieldError{Field: "limit", Detail: "Use a number from 1 to 500."})
		}
		f.Limit = n
	}
	if len(bad) > 0 {
		p := probInvalid.with("Some query parameters are wrong. See errors.")
		p.Errors = bad
		writeProblem(w, p)
		return
	}
	page, err := a.store.ListGuests(r.Context(), f)
	if err != nil && f.After != "" {
		p := probInvalid.with("The after cursor is not one this list gave (or of another sort); start again from the first page.")
		p.Errors = []FieldError{{Field: "after", Detail: "Pass the next value of the page before, with the same sort."}}
		writeProblem(w, p)
		return
	}
	if err != nil {
		a.fail(w, r, "list guests", err)
		return
	}
	guests := page.Guests
	if len(f.Status) == 1 && f.Status[0] == storage.GuestPending && f.After == "" && f.SponsorID != uuid.Nil {
		// As the sponsor list's pending view: the first page also holds
		// the registrations that name this sponsor as the person visited.
		visiting, err := a.visiting(r, actor, f)
		if err != nil {
			a.fail(w, r, "list guests", err)
			return
		}
		guests = append(visiting, guests...)
	}
	out := GuestList{Guests: make([]Guest, 0, len(guests)), Next: page.Next}
	for _, g := range guests {
		out.Guests = append(out.Guests, guestOut(g))
	}
	writeJSON(w, http.StatusOK, out)
}

// visiting lists the pending guests, up to a page, who name the actor as
// the person visited and whom they see only for that.
func (a *API) visiting(r *http.Request, actor guest.Actor, f storage.GuestFilter) ([]*storage.Guest, error) {
	st := actor.Staff
	if st.Email == "" || actor.Group == nil || !actor.Group.May(storage.PermApprove) {
		return nil, nil
	}
	page, err := a.store.ListGuests(r.Context(), storage.GuestFilter{
		Status: []storage.GuestStatus{storage.GuestPending}, PersonVisited: st.Email, Query: f.Query, Limit: f.Limit,
	})
	if err != nil {
		return nil, err
	}
	var out []*storage.Guest
	for _, g := range page.Guests {
		if g.SponsorID != st.ID {
			out = append(out, g)
		}
	}
	return out, nil
}

func (a *API) getGuest(w http.ResponseWriter, r *http.Request) {
	id, ok := guestID(w, r)
	if !ok {
		return
	}
	g, err := a.store.GetGuestPublic(r.Context(), id)
	if err != nil {
		a.ruleError(w, r, "get guest", err)
		return
	}
	if !guest.Sees(actorOf(r), g) {
		writeProblem(w, probForbidden.with("This guest is sponsored by someone else. Ask them, or an administrator, if something needs doing."))
		return
	}
	writeJSON(w, http.StatusOK, GuestResult{Guest: guestOut(g)})
}

// NewGuest is the body of POST /guests.
type NewGuest struct {
	FirstName     string     `json:"first_name"`
	LastName      string     `json:"last_name"`
	Email         string     `json:"email"`
	Phone         string     `json:"phone"`
	Company       string     `json:"company"`
	PersonVisited string     `json:"person_visited"`
	Reason        string     `json:"reason"`
	GuestType     string     `json:"guest_type"`
	ValidFrom     *time.Time `json:"valid_from"`
	Validity      string     `json:"validity"`
	// SendEmail emails the guest their credentials (the default); false
	// answers them instead, to hand over.
	SendEmail *bool `json:"send_email"`
}

func (a *API) createGuest(w http.ResponseWriter, r *http.Request) {
	var in NewGuest
	if !a.readJSON(w, r, &in, false) {
		return
	}
	n := guest.NewGuest{FirstName: in.FirstName, LastName: in.LastName, Email: in.Email, Phone: in.Phone, Company: in.Company,
		PersonVisited: in.PersonVisited, Reason: in.Reason, GuestType: in.GuestType, NoEmail: in.SendEmail != nil && !*in.SendEmail}
	var ok bool
	if n.ValidFrom, n.Validity, ok = validity(w, in.ValidFrom, in.Validity); !ok {
		return
	}
	res, err := a.guests.Create(r.Context(), actorOf(r), n)
	if err != nil {
		a.ruleError(w, r, "create guest", err)
		return
	}
	out := GuestResult{Guest: guestOut(res.Guest), Mail: a.mailOut(r.Context(), res)}
	if n.NoEmail {
		out.Guest.Password = res.Guest.Password
	}
	w.Header().Set("Location", "guests/"+res.Guest.ID.String())
	writeJSON(w, http.StatusCreated, out)
}

// validity reads the optional start and the length of a body's validity;
// for a length it cannot read it answers 422 and returns false.
func validity(w http.ResponseWriter, from *time.Time, length string) (time.Time, time.Duration, bool) {
	var start time.Time
	if from != nil {
		start = *from
	}
	d, err := guest.ParseDuration(length)
	if err != nil {
		writeInvalid(w, "validity", "Write how long as a number and a unit, such as 8h, 2d or 1d12h.")
		return time.Time{}, 0, false
	}
	return start, d, true
}

// writeInvalid answers 422 for one bad field.
func writeInvalid(w http.ResponseWriter, field, detail string) {
	p := probInvalid.with("Some fields are wrong; nothing was changed. See errors.")
	p.Errors = []FieldError{{Field: field, Detail: detail}}
	writeProblem(w, p)
}

// NewBatch is the body of POST /guests/batch.
type NewBatch struct {
	Count     int        `json:"count"`
	Prefix    string     `json:"prefix"`
	GuestType string     `json:"guest_type"`
	ValidFrom *time.Time `json:"valid_from"`
	Validity  string     `json:"validity"`
}

func (a *API) createBatch(w http.ResponseWriter, r *http.Request) {
	var in NewBatch
	if !a.readJSON(w, r, &in, false) {
		return
	}
	b := guest.Batch{Count: in.Count, Prefix: in.Prefix, GuestType: in.GuestType}
	var ok bool
	if b.ValidFrom, b.Validity, ok = validity(w, in.ValidFrom, in.Validity); !ok {
		return
	}
	guests, err := a.guests.CreateBatch(r.Context(), actorOf(r), b)
	if err != nil {
		a.ruleError(w, r, "create batch", err)
		return
	}
	out := GuestList{Guests: make([]Guest, 0, len(guests))}
	for _, g := range guests {
		o := guestOut(g)
		o.Password = g.Password // a batch's guests get no email: these are their credentials
		out.Guests = append(out.Guests, o)
	}
	writeJSON(w, http.StatusCreated, out)
}

// action runs one action on the guest in the path and answers its result.
func (a *API) action(w http.ResponseWriter, r *http.Request, op string, do func(ctx context.Context, actor guest.Actor, id uuid.UUID) (*guest.Result, error)) {
	id, ok := guestID(w, r)
	if !ok {
		return
	}
	res, err := do(r.Context(), actorOf(r), id)
	if err != nil {
		a.ruleError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, GuestResult{Guest: guestOut(res.Guest), Mail: a.mailOut(r.Context(), res)})
}

// noBody reads an optional empty JSON object.
func (a *API) noBody(w http.ResponseWriter, r *http.Request) bool {
	var in struct{}
	return a.readJSON(w, r, &in, true)
}

func (a *API) resend(w http.ResponseWriter, r *http.Request) {
	if a.noBody(w, r) {
		a.action(w, r, "resend", a.guests.Resend)
	}
}

func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	if a.noBody(w, r) {
		a.action(w, r, "reset password", a.guests.ResetPassword)
	}
}

// Extension is the body of POST /guests/{id}/extend: a new end of access,
// or a time to add to the later of now and the current end.
type Extension struct {
	ValidUntil *time.Time `json:"valid_until"`
	By         string     `json:"by"`
}

func (a *API) extend(w http.ResponseWriter, r *http.Request) {
	var in Extension
	if !a.readJSON(w, r, &in, false) {
		return
	}
	if (in.ValidUntil == nil) == (in.By == "") {
		writeInvalid(w, "valid_until", "Give either valid_until (a time) or by (such as 1d), not both.")
		return
	}
	var by time.Duration
	if in.By != "" {
		var err error
		if by, err = guest.ParseDuration(in.By); err != nil {
			writeInvalid(w, "by", "Write how much longer as a number and a unit, such as 8h, 2d or 1w.")
			return
		}
	}
	a.action(w, r, "extend", func(ctx context.Context, actor guest.Actor, id uuid.UUID) (*guest.Result, error) {
		until := time.Time{}
		if in.ValidUntil != nil {
			until = *in.ValidUntil
		} else {
			g, err := a.store.GetGuestPublic(ctx, id)
			if err != nil {
				return nil, err
			}
			until = later(a.now(), g.ValidUntil).Add(by)
		}
		return a.guests.Extend(ctx, actor, id, until)
	})
}

// later is the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Reason is the body of suspend and deny.
type Reason struct {
	Reason string `json:"reason"`
}

func (a *API) suspend(w http.ResponseWriter, r *http.Request) {
	var in Reason
	if !a.readJSON(w, r, &in, false) {
		return
	}
	if strings.TrimSpace(in.Reason) == "" {
		writeInvalid(w, "reason", "Say why you suspend the guest: it goes into their history.")
		return
	}
	a.action(w, r, "suspend", func(ctx context.Context, actor guest.Actor, id uuid.UUID) (*guest.Result, error) {
		g, err := a.guests.Suspend(ctx, actor, id, in.Reason)
		if err != nil {
			return nil, err
		}
		return &guest.Result{Guest: g}, nil
	})
}

func (a *API) reinstate(w http.ResponseWriter, r *http.Request) {
	if !a.noBody(w, r) {
		return
	}
	a.action(w, r, "reinstate", func(ctx context.Context, actor guest.Actor, id uuid.UUID) (*guest.Result, error) {
		g, err := a.guests.Reinstate(ctx, actor, id)
		if err != nil {
			return nil, err
		}
		return &guest.Result{Guest: g}, nil
	})
}

func (a *API) approve(w http.ResponseWriter, r *http.Request) {
	if a.noBody(w, r) {
		a.action(w, r, "approve", a.guests.Approve)
	}
}

func (a *API) deny(w http.ResponseWriter, r *http.Request) {
	var in Reason
	if !a.readJSON(w, r, &in, true) {
		return
	}
	a.action(w, r, "deny", func(ctx context.Context, actor guest.Actor, id uuid.UUID) (*guest.Result, error) {
		return a.guests.Deny(ctx, actor, id, in.Reason)
	})
}

func (a *API) deleteGuest(w http.ResponseWriter, r *http.Request) {
	id, ok := guestID(w, r)
	if !ok {
		return
	}
	if err := a.guests.Delete(r.Context(), actorOf(r), id); err != nil {
		a.ruleError(w, r, "delete guest", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
