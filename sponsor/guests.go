package sponsor

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/i18n"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// statusFilters are the status filter's choices, in page order ("" is all).
var statusFilters = []struct{ Value, Label string }{
	{"", "All"}, {"pending", "Pending"}, {"active", "Active"}, {"expired", "Expired"}, {"suspended", "Suspended"}, {"denied", "Denied"},
}

// scope is what a staff user may see: every guest (admins, and groups
// with ManageAll) or only those they sponsor.
type scope struct {
	all   bool
	group *storage.SponsorGroup // nil for admins
}

func (s *Sponsor) scopeOf(r *http.Request, st *storage.Staff) (scope, error) {
	if st.Role == storage.RoleAdmin {
		return scope{all: true}, nil
	}
	g, err := s.store.GetSponsorGroup(r.Context(), st.Group)
	if errors.Is(err, storage.ErrNotFound) {
		// A group that went away leaves its members with the least: their
		// own guests, and no permissions.
		return scope{group: &storage.SponsorGroup{Name: st.Group}}, nil
	}
	if err != nil {
		return scope{}, fmt.Errorf("read the sponsor group: %w", err)
	}
	return scope{all: g.ManageAll, group: g}, nil
}

// sees reports whether st (in scope sc) may see guest g, by the guest
// rules' guest.Sees (which the REST API follows too): one they sponsor,
// any with ManageAll, or a pending one that names them as the person
// visited when their group may approve.
func (sc scope) sees(st *storage.Staff, g *storage.Guest) bool {
	return guest.Sees(guest.Actor{Staff: st, Group: sc.group}, g)
}

// guestRow is one guest in the list.
type guestRow struct {
	ID, Name, Status, ValidUntil string
	Details                      string // email, company and username, those that say something, joined by " · "
	Decide                       bool   // approve and deny buttons (pending view)
}

// guestsData is the guests page's own data.
type guestsData struct {
	Query, Status, Sort string
	Pending             bool // the "Pending approval" view
	Statuses            []struct{ Value, Label string }
	Rows                []guestRow
	Next                string // the next page's URL, or ""
	Empty               string // what to say when there are no rows
	All                 bool   // the user sees every guest
}

func (s *Sponsor) getGuests(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	q := r.URL.Query()
	sc, err := s.scopeOf(r, st)
	if err != nil {
		s.fail(w, r, "list guests", err)
		return
	}
	d := guestsData{Query: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort"), Statuses: statusFilters, All: sc.all}
	if len(d.Query) > 200 {
		d.Query = d.Query[:200]
	}
	f := storage.GuestFilter{Query: d.Query, After: q.Get("after"), Limit: s.cfg.PageSize}
	if !sc.all {
		f.SponsorID = st.ID
	}
	if status := storage.GuestStatus(q.Get("status")); status.Valid() {
		d.Status = string(status)
		f.Status = []storage.GuestStatus{status}
	}
	d.Pending = d.Status == string(storage.GuestPending)
	if d.Sort == "expiry" {
		f.Sort = storage.SortExpiry
	} else {
		d.Sort = ""
	}
	page, err := s.store.ListGuests(r.Context(), f)
	if err != nil && f.After != "" {
		s.errorPage(w, r, http.StatusBadRequest, "That page link no longer works. Start again from the first page of your guests.")
		return
	}
	if err != nil {
		s.fail(w, r, "list guests", err)
		return
	}
	actor := guest.Actor{Staff: st, Group: sc.group}
	guests := page.Guests
	if d.Pending && f.After == "" {
		// The first page of the pending view also holds the registrations
		// that name this sponsor as the person visited (theirs to decide
		// while pending, though someone else's or nobody's to sponsor).
		visiting, err := s.visiting(r, st, sc, d.Query)
		if err != nil {
			s.fail(w, r, "list guests", err)
			return
		}
		guests = append(visiting, guests...)
	}
	for _, g := range guests {
		d.Rows = append(d.Rows, guestRow{
			ID: g.ID.String(), Name: guestName(g),
			Status: string(g.Status), ValidUntil: s.formatTime(g.ValidUntil),
			Decide:  d.Pending && g.Status == storage.GuestPending && s.guests.Allowed(actor, storage.PermApprove, g) == nil,
			Details: rowDetails(g),
		})
	}
	if page.Next != "" {
		next := url.Values{}
		for k, v := range map[string]string{"q": d.Query, "status": d.Status, "sort": d.Sort, "after": page.Next} {
			if v != "" {
				next.Set(k, v)
			}
		}
		d.Next = "?" + next.Encode()
	}
	switch {
	case len(d.Rows) > 0:
	case d.Query != "" || d.Status != "" || f.After != "":
		d.Empty = "No guests match. Try fewer words, or another status."
	case sc.all:
		d.Empty = "There are no guests yet."
	default:
		d.Empty = "You have no guests yet."
	}
	title, current := "Guests", "guests"
	if d.Pending {
		title, current = "Pending approval", "pending"
	}
	v := s.view(r, title, st, current, nil, d)
	if q.Has("password_changed") {
		v.Notice = "Your password is changed. You are signed out on your other devices."
	} else {
		v.Notice = s.takeFlash(w, r, st, flashList)
	}
	s.page(w, r, http.StatusOK, "guests", v)
}

// guestName is how pages name a guest.
func guestName(g *storage.Guest) string {
	if n := strings.TrimSpace(g.FirstName + " " + g.LastName); n != "" {
		return n
	}
	return g.Username
}

// historyRow is one audit entry on a guest's page.
type historyRow struct{ When, Who, What, Detail string }

// guestData is the guest page's own data. It never holds the password.
type guestData struct {
	ID, Name, Username, Email, Phone, Company, PersonVisited, Reason, Type, Status string
	ValidFrom, ValidUntil, TimeLeft, Created, Sponsor                              string
	Language                                                                       string // of the guest's emails, in its own name
	Pending                                                                        bool
	History                                                                        []historyRow
	Actions                                                                        actionsView // the forms the staff user may use
}

func (s *Sponsor) getGuest(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		s.notFound(w, r)
		return
	}
	s.showGuest(w, r, st, id, http.StatusOK, nil)
}

// showGuest renders guest id's page with status; form, when not nil, is
// an action's form sent back with its errors (see actions.go).
func (s *Sponsor) showGuest(w http.ResponseWriter, r *http.Request, st *storage.Staff, id uuid.UUID, status int, form *actionForm) {
	ctx := r.Context()
	// GetGuestPublic reads no password: this page never shows one.
	g, err := s.store.GetGuestPublic(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "There is no such guest: it may have been deleted. Go back to your guests.")
		return
	}
	if err != nil {
		s.fail(w, r, "read guest", err)
		return
	}
	sc, err := s.scopeOf(r, st)
	if err != nil {
		s.fail(w, r, "read guest", err)
		return
	}
	if !sc.sees(st, g) {
		s.log.InfoContext(ctx, "sponsor: guest outside the staff user's scope", "staff_id", st.ID, "guest_id", g.ID)
		s.message(w, r, http.StatusForbidden, "Not your guest",
			"This guest is sponsored by someone else. Ask them, or an administrator, if something needs doing.")
		return
	}
	d := guestData{
		ID: g.ID.String(), Name: guestName(g), Username: g.Username, Email: g.Email, Phone: g.Phone, Company: g.Company,
		PersonVisited: g.PersonVisited, Reason: g.Reason, Type: g.GuestType, Status: string(g.Status),
		ValidFrom: s.formatTime(g.ValidFrom), ValidUntil: s.formatTime(g.ValidUntil), Created: s.formatTime(g.CreatedAt),
		TimeLeft: timeLeft(g.ValidUntil, s.now()), Pending: g.Status == storage.GuestPending, Sponsor: "none (registered themselves)",
	}
	if words, err := i18n.Default(); err == nil {
		d.Language = words.Localizer(cmp.Or(g.Language, i18n.English)).Name()
	}
	if g.SponsorID != uuid.Nil {
		if sp, err := s.store.GetStaff(ctx, g.SponsorID); err == nil {
			d.Sponsor = cmpName(sp)
		} else {
			d.Sponsor = "a staff user who no longer exists"
		}
	}
	entries, err := s.store.ListAuditFor(ctx, g.ID.String(), 0, 50)
	if err != nil {
		s.fail(w, r, "read guest history", err)
		return
	}
	for _, e := range entries {
		d.History = append(d.History, historyRow{When: s.formatTime(e.At), Who: e.Actor, What: e.Action, Detail: e.Detail})
	}
	if d.Actions, err = s.actionsFor(ctx, guest.Actor{Staff: st, Group: sc.group}, g, form); err != nil {
		s.fail(w, r, "read guest", err)
		return
	}
	var wf *webkit.Form
	if form != nil {
		wf = form.form
	}
	v := s.view(r, d.Name, st, "", wf, d)
	if status == http.StatusOK {
		v.Notice = s.takeFlash(w, r, st, g.ID.String())
	}
	s.page(w, r, status, "guest", v)
}

// timeLeft says how long until end, in words: "2 days 3 hours",
// "40 minutes", "ended".
func timeLeft(end, now time.Time) string {
	if end.IsZero() {
		return "no end"
	}
	left := end.Sub(now)
	if left <= 0 {
		return "ended"
	}
	days, hours, mins := int(left/(24*time.Hour)), int(left%(24*time.Hour)/time.Hour), int(left%time.Hour/time.Minute)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case days > 0:
		return plural(days, "day") + " " + plural(hours, "hour")
	case hours > 0:
		return plural(hours, "hour") + " " + plural(mins, "minute")
	case mins > 0:
		return plural(mins, "minute")
	}
	return "less than a minute"
}

// visiting lists the pending guests, up to a page, who name st as the
// person visited and whom st sees only for that (not their sponsor, not
// ManageAll), matching query; none when st may not approve or has no email.
func (s *Sponsor) visiting(r *http.Request, st *storage.Staff, sc scope, query string) ([]*storage.Guest, error) {
	if sc.all || st.Email == "" || sc.group == nil || !sc.group.May(storage.PermApprove) {
		return nil, nil
	}
	page, err := s.store.ListGuests(r.Context(), storage.GuestFilter{
		Status: []storage.GuestStatus{storage.GuestPending}, PersonVisited: st.Email, Query: query, Limit: s.cfg.PageSize,
	})
	if err != nil {
		return nil, err
	}
	var out []*storage.Guest
	for _, g := range page.Guests {
		if g.SponsorID != st.ID { // those are on the page already
			out = append(out, g)
		}
	}
	return out, nil
}

// rowDetails is the line under a guest's name in the list: their email,
// company and username, leaving out the empty ones (a batch account has
// neither email nor company) and the username when it is the email.
func rowDetails(g *storage.Guest) string {
	var parts []string
	for _, p := range []string{g.Email, g.Company} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if g.Username != "" && !strings.EqualFold(g.Username, g.Email) {
		parts = append(parts, g.Username)
	}
	return strings.Join(parts, " · ")
}
