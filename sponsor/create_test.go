package sponsor

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/teststore"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// creating is a bundle whose sponsor side has the guest rules, set up as
// the root package does (guest.New on the same store), with two guest
// types and three groups: "default" (every permission, every type), "desk"
// (create and batch, daily guests only) and "viewers" (no create, no
// batch).
type creating struct {
	*bundle
	guests *guest.Service
}

func setupCreating(t *testing.T, backend string) *creating {
	return setupCreatingMail(t, backend, false)
}

// setupCreatingMail is setupCreating, with a running mail dispatcher that
// "sends" through a sender that accepts everything when withMail is set.
func setupCreatingMail(t *testing.T, backend string, withMail bool) *creating {
	t.Helper()
	var svc *guest.Service
	b := setup(t, backend, func(c *Config) {
		var mail guest.Mailer
		if withMail {
			mail = teststore.Mail(t, c.Store, acceptAll{})
		}
		var err error
		svc, err = guest.New(guest.Config{Store: c.Store, Mail: mail, BaseURL: "http://lobby.test/lobby/portal", Now: c.Now,
			Policy: guest.Policy{TimeZone: time.UTC, GuestTypes: []storage.GuestType{
				{Name: "daily", DefaultDuration: 24 * time.Hour, MaxDuration: 7 * 24 * time.Hour},
				{Name: "contractor", DefaultDuration: 7 * 24 * time.Hour, MaxDuration: 30 * 24 * time.Hour},
			}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.EnsureGuestTypes(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.Guests = svc
		c.NetworkName = "Lobby-Guest"
		c.MailWait = time.Minute // the Future settles long before: no flaky "queued"
	})
	for _, g := range []storage.SponsorGroup{
		{Name: "desk", GuestTypes: []string{"daily"}, Permissions: []storage.Permission{storage.PermCreate, storage.PermBatch}},
		{Name: "viewers", Permissions: []storage.Permission{storage.PermResend}},
	} {
		if err := b.store.PutSponsorGroup(t.Context(), g); err != nil {
			t.Fatal(err)
		}
	}
	return &creating{bundle: b, guests: svc}
}

// acceptAll is a notify.Sender that accepts every email.
type acceptAll struct{}

func (acceptAll) Send(context.Context, notify.Settings, *notify.Email) error { return nil }

// eachCreating runs fn as a parallel subtest per backend.
func eachCreating(t *testing.T, fn func(t *testing.T, b *creating)) {
	t.Helper()
	for _, name := range teststore.Backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, setupCreating(t, name))
		})
	}
}

// signedInAs makes a staff user of group and a client signed in as them.
func (b *creating) signedInAs(t *testing.T, username string, role storage.Role, group string) (*client, *storage.Staff) {
	t.Helper()
	st := b.staff(t, username, pw, role, group)
	c := b.client(t)
	c.mustSignIn(username, pw)
	return c, st
}

// guestsOf lists the guests st sponsors.
func (b *creating) guestsOf(t *testing.T, st *storage.Staff) []*storage.Guest {
	t.Helper()
	page, err := b.store.ListGuests(t.Context(), storage.GuestFilter{SponsorID: st.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return page.Guests
}

// errorFor returns the error text the page shows for field name ("" none).
func errorFor(body, name string) string {
	m := regexp.MustCompile(`id="f-` + regexp.QuoteMeta(name) + `-error"><span class="vh">Error:</span> ([^<]*)`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func goodGuest() url.Values {
	return url.Values{"first_name": {"Grace"}, "last_name": {"Hopper"}, "email": {"Grace@Navy.example"},
		"phone": {"+1 555 0100"}, "company": {"Navy"}, "reason": {"Compiler review"}, "guest_type": {"daily"},
		"valid_from": {"2026-03-02T09:00"}, "validity": {"2d"}, "send_email": {"yes"}}
}

// TestCreateGuestWithoutEmail: with "send by email" unticked the guest is
// created with no email, and the answer is their printable card, shown
// this once, whose password signs in (the stored one).
func TestCreateGuestWithoutEmail(t *testing.T) {
	t.Parallel()
	eachCreating(t, func(t *testing.T, b *creating) {
		c, st := b.signedInAs(t, "desk", storage.RoleSponsor, "desk")
		form := goodGuest()
		form.Del("send_email")
		r := c.post("/create", c.csrf("/create"), form)
		cards := cardRe.FindAllStringSubmatch(r.body, -1)
		if r.status != http.StatusOK || len(cards) != 1 {
			t.Fatalf("POST /create without email = %d with %d cards; want 200 and the guest's one card", r.status, len(cards))
		}
		gs := b.guestsOf(t, st)
		if len(gs) != 1 {
			t.Fatalf("desk sponsors %d guests, want 1", len(gs))
		}
		g, err := b.store.GetGuest(t.Context(), gs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if cards[0][1] != g.Username || cards[0][2] != g.Password {
			t.Error("the card's credentials are not the stored guest's")
		}
		mail, err := b.store.ListMail(t.Context(), storage.MailFilter{Query: "grace@navy.example"})
		if err != nil || len(mail) != 0 {
			t.Errorf("outbox for grace = %d messages, %v; want none", len(mail), err)
		}
		hist, err := b.store.ListAuditFor(t.Context(), g.ID.String(), 0, 10)
		if err != nil || len(hist) != 1 || !strings.Contains(hist[0].Detail, "no email") {
			t.Errorf("history = %+v, %v; want the creation, saying no email went", hist, err)
		}
	})
}

func TestCreateGuest(t *testing.T) {
	t.Parallel()
	eachCreating(t, func(t *testing.T, b *creating) {
		c, st := b.signedInAs(t, "desk", storage.RoleSponsor, "desk")
		page := c.get("/create")
		if page.status != http.StatusOK || !strings.Contains(page.body, `value="daily"`) || strings.Contains(page.body, `value="contractor"`) {
			t.Fatalf("GET /create = %d; want the form offering only the desk group's type daily:\n%s", page.status, page.body)
		}
		if !strings.Contains(page.body, `href="./create"`) || !strings.Contains(page.body, `href="./batch"`) {
			t.Error("the navigation lacks the create and batch links for a group that may")
		}
		r := c.post("/create", c.csrf("/create"), goodGuest())
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "guests/") {
			t.Fatalf("POST /create = %d %q; want a redirect to the guest's page:\n%s", r.status, r.location, r.body)
		}
		gs := b.guestsOf(t, st)
		if len(gs) != 1 {
			t.Fatalf("desk sponsors %d guests, want 1", len(gs))
		}
		g, err := b.store.GetGuest(t.Context(), gs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		if g.SponsorID != st.ID || g.Email != "grace@navy.example" || g.GuestType != "daily" || g.Status != storage.GuestActive ||
			!g.ValidFrom.Equal(want) || !g.ValidUntil.Equal(want.Add(48*time.Hour)) || g.Company != "Navy" || g.Password == "" {
			t.Errorf("stored guest = %+v; want Grace, sponsored by desk, daily, active 2 days from 09:00", g)
		}
		mail, err := b.store.ListMail(t.Context(), storage.MailFilter{Query: "grace@navy.example"})
		if err != nil || len(mail) != 1 || mail[0].Kind != "guest.credentials" || mail[0].Status != storage.MailQueued {
			t.Errorf("outbox for grace = %v, %v; want one queued credentials email", mail, err)
		}
		page = c.get("/" + r.location)
		if page.status != http.StatusOK || !strings.Contains(page.body, "credentials sent to grace@navy.example (queued)") {
			t.Errorf("the guest page after creating: %d, want the flash notice:\n%s", page.status, page.body)
		}
		if strings.Contains(page.body, g.Password) {
			t.Error("the guest page shows the password")
		}
		// The flash is sealed: words of one's own do not show.
		if p := c.get("/guests/" + g.ID.String() + "?flash=Pay%20here"); strings.Contains(p.body, "Pay here") {
			t.Error("a forged flash shows on the guest page")
		}
		entries, err := b.store.ListAuditFor(t.Context(), g.ID.String(), 0, 10)
		if err != nil || len(entries) != 1 || entries[0].Action != "guest.create" || entries[0].Actor != "staff:desk" {
			t.Errorf("audit = %+v, %v; want the guest rules' guest.create by staff:desk", entries, err)
		}

		// No start and no validity: from now, for the type's default.
		form := goodGuest()
		form.Set("email", "kay@example.com")
		form.Del("valid_from")
		form.Del("validity")
		if r := c.post("/create", c.csrf("/create"), form); r.status != http.StatusSeeOther {
			t.Fatalf("POST /create without a start: %d\n%s", r.status, r.body)
		}
		kay, err := b.store.GetGuestByEmail(t.Context(), "kay@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if now := storage.Truncate(b.clock.Now()); !kay.ValidFrom.Equal(now) || !kay.ValidUntil.Equal(now.Add(24*time.Hour)) {
			t.Errorf("kay: valid %v–%v, want from now (%v) for a day", kay.ValidFrom, kay.ValidUntil, now)
		}
	})
}

func TestCreateGuestMailSent(t *testing.T) {
	t.Parallel()
	b := setupCreatingMail(t, "sqlite", true)
	c, _ := b.signedInAs(t, "desk", storage.RoleSponsor, "desk")
	r := c.post("/create", c.csrf("/create"), goodGuest())
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /create = %d:\n%s", r.status, r.body)
	}
	page := c.get("/" + r.location)
	if !regexp.MustCompile(`credentials sent to grace@navy.example \(sent in \d+ ms\)`).MatchString(page.body) {
		t.Errorf("the guest page after a quick send lacks \"sent in N ms\":\n%s", page.body)
	}
}

func TestCreateGuestErrors(t *testing.T) {
	t.Parallel()
	eachCreating(t, func(t *testing.T, b *creating) {
		c, st := b.signedInAs(t, "desk", storage.RoleSponsor, "desk")
		for _, tc := range []struct {
			name   string
			change url.Values
			field  string
			want   string
		}{
			{"no first name", url.Values{"first_name": {""}}, "first_name", "first name"},
			{"no last name", url.Values{"last_name": {""}}, "last_name", "last name"},
			{"no email", url.Values{"email": {""}}, "email", "email address"},
			{"bad email", url.Values{"email": {"grace@"}}, "email", ""},
			{"bad phone", url.Values{"phone": {"call me maybe"}}, "phone", ""},
			{"validity over the type's maximum", url.Values{"validity": {"8d"}}, "validity", "at most 7 days"},
			{"validity unreadable", url.Values{"validity": {"two days"}}, "validity", "8h, 2d"},
			{"start in the past", url.Values{"valid_from": {"2026-03-01T09:00"}}, "valid_from", "from now on"},
			{"start unreadable", url.Values{"valid_from": {"tomorrow"}}, "valid_from", "date and time"},
		} {
			form := goodGuest()
			for k, v := range tc.change {
				form[k] = v
			}
			r := c.post("/create", c.csrf("/create"), form)
			got := errorFor(r.body, tc.field)
			if r.status != http.StatusUnprocessableEntity || got == "" || !strings.Contains(got, tc.want) {
				t.Errorf("%s: %d, error on %s = %q; want 422 with %q", tc.name, r.status, tc.field, got, tc.want)
			}
			if !strings.Contains(r.body, `value="Navy"`) && tc.field != "company" {
				t.Errorf("%s: the form lost what was typed", tc.name)
			}
		}
		// Several at once: each field its own error.
		r := c.post("/create", c.csrf("/create"), url.Values{"guest_type": {"daily"}, "send_email": {"yes"}})
		for _, f := range []string{"first_name", "last_name", "email"} {
			if errorFor(r.body, f) == "" {
				t.Errorf("an empty form: no error on %s", f)
			}
		}
		if n := len(b.guestsOf(t, st)); n != 0 {
			t.Errorf("invalid forms created %d guests", n)
		}
	})
}

func TestCreateGuestForbidden(t *testing.T) {
	t.Parallel()
	eachCreating(t, func(t *testing.T, b *creating) {
		// A type the group may not use: refused by the guest rules, 403
		// (the form never offers it), nothing created.
		c, desk := b.signedInAs(t, "desk", storage.RoleSponsor, "desk")
		form := goodGuest()
		form.Set("guest_type", "contractor")
		if r := c.post("/create", c.csrf("/create"), form); r.status != http.StatusForbidden || !strings.Contains(r.body, "contractor") {
			t.Errorf("desk creates a contractor: %d; want 403 naming the type:\n%s", r.status, r.body)
		}
		if n := len(b.guestsOf(t, desk)); n != 0 {
			t.Errorf("a refused type created %d guests", n)
		}

		// A group without PermCreate and PermBatch: no links, 403 on every page.
		v, viewer := b.signedInAs(t, "viewer", storage.RoleSponsor, "viewers")
		list := v.get("/")
		if strings.Contains(list.body, `href="./create"`) || strings.Contains(list.body, `href="./batch"`) || strings.Contains(list.body, `href="./import"`) {
			t.Error("the list links to create, batch or import for a group that may not")
		}
		token := v.csrf("/password")
		for _, p := range []string{"/create", "/batch", "/import"} {
			if r := v.get(p); r.status != http.StatusForbidden {
				t.Errorf("viewer GET %s = %d, want 403", p, r.status)
			}
		}
		if r := v.post("/create", token, goodGuest()); r.status != http.StatusForbidden {
			t.Errorf("viewer POST /create = %d, want 403", r.status)
		}
		if r := v.post("/batch", token, url.Values{"count": {"3"}, "guest_type": {"daily"}}); r.status != http.StatusForbidden {
			t.Errorf("viewer POST /batch = %d, want 403", r.status)
		}
		if r := v.upload("/import", token, "guests.csv", "first_name,last_name,email\nAda,Lovelace,ada@example.com\n", nil); r.status != http.StatusForbidden {
			t.Errorf("viewer POST /import = %d, want 403", r.status)
		}
		if n := len(b.guestsOf(t, viewer)); n != 0 {
			t.Errorf("refused requests created %d guests", n)
		}

		// CSRF: a post without the token changes nothing.
		if r := c.post("/create", "", goodGuest()); r.status != http.StatusForbidden {
			t.Errorf("POST /create without CSRF = %d, want 403", r.status)
		}
		if r := c.post("/batch", "", url.Values{"count": {"3"}, "guest_type": {"daily"}}); r.status != http.StatusForbidden {
			t.Errorf("POST /batch without CSRF = %d, want 403", r.status)
		}
		if r := c.upload("/import", "", "guests.csv", "first_name,last_name,email\nAda,Lovelace,ada@example.com\n", nil); r.status != http.StatusForbidden {
			t.Errorf("POST /import without CSRF = %d, want 403", r.status)
		}
		if r := c.upload("/import", "forged", "guests.csv", "first_name,last_name,email\nAda,Lovelace,ada@example.com\n", nil); r.status != http.StatusForbidden {
			t.Errorf("POST /import with a wrong CSRF token = %d, want 403", r.status)
		}
		if n := len(b.guestsOf(t, desk)); n != 0 {
			t.Errorf("posts without CSRF created %d guests", n)
		}
	})
}

// upload posts a multipart form with a file to path.
func (c *client) upload(path, token, filename, content string, fields url.Values) resp {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if token != "" {
		_ = mw.WriteField("csrf_token", token)
	}
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if filename != "" {
		fw, _ := mw.CreateFormFile("file", filename)
		_, _ = io.WriteString(fw, content)
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.b.srv.URL+mount+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// raw sends a form to path and returns the whole response.
func (c *client) raw(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.b.srv.URL+mount+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return r, string(body)
}

func TestParseValidity(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"": 0, "8h": 8 * time.Hour, "2d": 48 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute,
		"1w": 7 * 24 * time.Hour, " 2 D ": 48 * time.Hour,
	} {
		if got, err := parseValidity(in); err != nil || got != want {
			t.Errorf("parseValidity(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"2", "d", "two days", "0h", "1y", "-1d", "1234567h"} {
		if got, err := parseValidity(in); err == nil {
			t.Errorf("parseValidity(%q) = %v; want an error", in, got)
		}
	}
}
