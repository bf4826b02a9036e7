package lobby

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// The "Send email to guests" switch of the admin's portal page, through
// the whole of Lobby: the admin page, the guest portal, the sponsor pages,
// the real dispatcher and the Exchange Online emulator.

var (
	shownUsernameRE = regexp.MustCompile(`<dt>Username</dt>\s*<dd><code>([^<]+)</code></dd>`)
	shownPasswordRE = regexp.MustCompile(`<dt>Password</dt>\s*<dd><code>([^<]+)</code></dd>`)
	guestEmailBoxRE = regexp.MustCompile(`<input type="checkbox" id="f-send_guest_email" name="send_guest_email" value="yes"( checked)?`)
	selectedTypeRE  = regexp.MustCompile(`<option value="([^"]+)"[^>]* selected`)
)

// savePortal saves the admin's portal page with guest email on or off,
// the rest as it is shown.
func (s *staffBrowser) savePortal(t *testing.T, guestEmail bool) {
	t.Helper()
	_, page := s.get(t, "/guest/admin/portal")
	form := hidden(t, page)
	form.Set("site_name", html.UnescapeString(regexp.MustCompile(`id="f-site_name" name="site_name"[^>]* value="([^"]*)"`).FindStringSubmatch(page)[1]))
	form.Set("terms", "Be kind to the network.")
	form.Set("sponsor_reply_to", "yes")
	if guestEmail {
		form.Set("send_guest_email", "yes")
	}
	if res, page := s.post(t, "/guest/admin/portal", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the portal page: %d\n%s", res.StatusCode, page)
	}
}

// registerPage registers on the portal and returns the success page.
func (b *testBundle) registerPage(t *testing.T, first, email string) string {
	t.Helper()
	_, page := b.get(t, "/guest/portal/register")
	form := hidden(t, page)
	form.Set("first_name", first)
	form.Set("last_name", "Guest")
	form.Set("email", email)
	form.Set("terms", "on")
	res, page := b.post(t, "/guest/portal/register", form)
	loc, err := res.Location()
	if res.StatusCode != http.StatusSeeOther || err != nil {
		t.Fatalf("POST register: %d (%v)\n%s", res.StatusCode, err, page)
	}
	res, page = b.get(t, loc.RequestURI())
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", loc, res.StatusCode, page)
	}
	return page
}

// TestGuestEmailSwitch: guest email is on by default; an admin turns it off
// on the portal page, which then warns that addresses are not verified.
// The settings file carries the switch. A self-registered guest then sees
// their credentials on the success page and signs in with them; a sponsor's
// resend, reset, approve and create show the credentials to hand over; no email to
// a guest is queued, while the admin's test email still goes out. Turned
// on again, a registration emails the credentials.
func TestGuestEmailSwitch(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, backend, hostNetHTTP, nil)
			ctx := t.Context()
			admin := b.signInStaffAt(t, "desk", storage.RoleAdmin, "")

			_, page := admin.get(t, "/guest/admin/portal")
			if m := guestEmailBoxRE.FindStringSubmatch(page); m == nil || m[1] == "" {
				t.Fatalf("the portal page's Send email to guests box is missing or not ticked by default (%q)", m)
			}
			admin.savePortal(t, false)
			_, page = admin.get(t, "/guest/admin/portal")
			if m := guestEmailBoxRE.FindStringSubmatch(page); m == nil || m[1] != "" {
				t.Errorf("after unticking it the box is %q", m)
			}
			if !strings.Contains(page, "Guests get no email.") || !strings.Contains(page, "not verified") {
				t.Errorf("the portal page does not warn that addresses are not verified:\n%s", page)
			}
			if _, file := admin.get(t, "/guest/admin/export/settings.json"); !regexp.MustCompile(`"send_guest_email":\s*false`).MatchString(file) {
				t.Errorf("the settings file does not carry the switch:\n%s", file)
			}

			// A self-registered guest gets the credentials on the page.
			page = b.registerPage(t, "Noa", "noa@guest.example")
			u, p := shownUsernameRE.FindStringSubmatch(page), shownPasswordRE.FindStringSubmatch(page)
			if u == nil || p == nil || !strings.Contains(page, "We do not send them by email") {
				t.Fatalf("the success page does not show the credentials:\n%s", page)
			}
			if !b.portalLogin(t, html.UnescapeString(u[1]), html.UnescapeString(p[1])) {
				t.Error("the credentials the success page showed do not sign in")
			}
			if _, page := b.get(t, "/guest/portal/resend"); !strings.Contains(page, "not sent by email here") {
				t.Errorf("the resend page offers an email:\n%s", page)
			}

			// The sponsor's resend, reset and create show the credentials.
			const password = "Old-Pass-2026"
			g := b.activeGuest(t, "Rita", "rita@guest.example", password)
			guestPage := "/guest/sponsor/guests/" + g.ID.String()
			for _, action := range []string{"resend", "reset"} {
				res, page := admin.post(t, guestPage+"/"+action, admin.form(t, guestPage))
				p := shownPasswordRE.FindStringSubmatch(page)
				if res.StatusCode != http.StatusOK || p == nil || !strings.Contains(page, "not emailed: guest email is off") {
					t.Fatalf("%s: %d, want the credentials card:\n%s", action, res.StatusCode, page)
				}
				if got := html.UnescapeString(p[1]); (action == "resend") != (got == password) {
					t.Errorf("%s showed the old password: %v, want %v", action, got == password, action == "resend")
				} else if action == "reset" && !b.portalLogin(t, g.Username, got) {
					t.Error("the new password the reset showed does not sign in")
				}
			}
			now := b.clock.Now()
			pending := &storage.Guest{Username: "pat@guest.example", Password: "Pending-Pass-2026", FirstName: "Pat", LastName: "Pending",
				Email: "pat@guest.example", Status: storage.GuestPending, ValidFrom: now, ValidUntil: now.Add(24 * time.Hour), GuestType: "daily"}
			if err := b.store.CreateGuest(ctx, pending); err != nil {
				t.Fatal(err)
			}
			pendingPage := "/guest/sponsor/guests/" + pending.ID.String()
			if res, page := admin.post(t, pendingPage+"/approve", admin.form(t, pendingPage)); res.StatusCode != http.StatusOK ||
				!strings.Contains(page, "Approved Pat Pending: their credentials (not emailed: guest email is off)") ||
				!strings.Contains(page, "<code>Pending-Pass-2026</code>") {
				t.Fatalf("approve: %d, want the credentials card:\n%s", res.StatusCode, page)
			}
			_, page = admin.get(t, "/guest/sponsor/create")
			form := hidden(t, page)
			form.Set("first_name", "Cy")
			form.Set("last_name", "Created")
			form.Set("email", "cy@guest.example")
			form.Set("guest_type", selectedTypeRE.FindStringSubmatch(page)[1])
			form.Set("send_email", "yes")
			res, page := admin.post(t, "/guest/sponsor/create", form)
			if res.StatusCode != http.StatusOK || shownPasswordRE.FindStringSubmatch(page) == nil || !strings.Contains(page, "not emailed: guest email is off") {
				t.Fatalf("create: %d, want the credentials card:\n%s", res.StatusCode, page)
			}

			// The admin's test email still goes.
			form = admin.form(t, "/guest/admin/smtp")
			form.Set("to", "it@corp.example")
			if res, page := admin.post(t, "/guest/admin/smtp/send", form); res.StatusCode != http.StatusOK ||
				!regexp.MustCompile(`Sent in \d+ ms`).MatchString(page) {
				t.Fatalf("the admin's test email: %d\n%s", res.StatusCode, page)
			}
			msgs, err := b.store.ListMail(ctx, storage.MailFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if strings.HasPrefix(m.Kind, "guest.") {
					t.Errorf("with guest email off a %s email to %s was queued", m.Kind, m.Recipient)
				}
			}

			// On again: a registration is emailed its credentials.
			admin.savePortal(t, true)
			page = b.registerPage(t, "Ida", "ida@guest.example")
			if shownPasswordRE.MatchString(page) {
				t.Errorf("with guest email on the success page shows the password:\n%s", page)
			}
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if _, err := b.emu.WaitForMessages(wctx, 2); err != nil { // the test email, then Ida's credentials
				t.Fatalf("with guest email on again, no credentials email arrived: %v (mail log: %s)", err, b.mailLog(t))
			}
			if got := b.emu.Messages()[1].To; len(got) != 1 || got[0] != "ida@guest.example" {
				t.Errorf("the second email went to %q, want Ida's credentials", got)
			}
		})
	}
}
