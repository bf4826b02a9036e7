package lobby

import (
	"bytes"
	"context"
	"html"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// What an admin saves on the portal page shows on the guest portal at once:
// the admin side and the portal share one set of guest rules.
func TestAdminPortalSettingsShowOnTheGuestPageAtOnce(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, backend, hostNetHTTP, nil)
			register := func() string {
				t.Helper()
				res, err := http.Get(b.srv.URL + "/guest/portal/register")
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				return string(body)
			}
			if page := register(); strings.Contains(page, "No streaming on the guest network.") {
				t.Fatal("the new terms are there before the save")
			}
			admin := b.signInStaffAt(t, "desk", storage.RoleAdmin, "")
			form := admin.form(t, "/guest/admin/portal")
			form.Set("site_name", "Contoso Visitors")
			form.Set("terms", "No streaming on the guest network.\n\nBe kind.")
			if res, page := admin.post(t, "/guest/admin/portal", form); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("save portal settings: %d\n%s", res.StatusCode, page)
			}
			page := register()
			for _, want := range []string{"<p>No streaming on the guest network.</p>", "Contoso Visitors"} {
				if !strings.Contains(page, want) {
					t.Errorf("the guest page lacks %q after the save:\n%s", want, page)
				}
			}
		})
	}
}

// A logo an admin uploads on the portal page is what the guest portal
// serves at its logo URL, at once.
func TestAdminLogoUploadShowsOnTheGuestPortal(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, backend, hostNetHTTP, nil)
			get := func(path string) (*http.Response, []byte) {
				t.Helper()
				res, err := http.Get(b.srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				return res, body
			}
			if _, page := get("/guest/portal/register"); strings.Contains(string(page), "brand/logo") {
				t.Fatal("a logo is shown before the upload")
			}
			var img bytes.Buffer
			if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 8, 4))); err != nil {
				t.Fatal(err)
			}

			admin := b.signInStaffAt(t, "desk", storage.RoleAdmin, "")
			form := admin.form(t, "/guest/admin/portal")
			form.Set("site_name", "Contoso Visitors")
			form.Set("terms", "Be kind.")
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			for k := range form {
				_ = mw.WriteField(k, form.Get(k))
			}
			fw, _ := mw.CreateFormFile("logo", "logo.png")
			_, _ = fw.Write(img.Bytes())
			_ = mw.Close()
			res, err := admin.client.Post(b.srv.URL+"/guest/admin/portal", mw.FormDataContentType(), &body)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("upload: %d\n%s", res.StatusCode, page)
			}

			_, reg := get("/guest/portal/register")
			m := regexp.MustCompile(`src="([^"]*brand/logo\?v=[^"]*)"`).FindSubmatch(reg)
			if m == nil {
				t.Fatalf("the guest page shows no logo after the upload:\n%s", reg)
			}
			u, err := url.Parse(html.UnescapeString(string(m[1])))
			if err != nil {
				t.Fatal(err)
			}
			logoURL := (&url.URL{Path: "/guest/portal/"}).ResolveReference(u).String()
			res, got := get(logoURL)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" || !bytes.Equal(got, img.Bytes()) {
				t.Errorf("GET %s = %d %q, %d bytes; want the uploaded PNG (%d bytes)", logoURL, res.StatusCode, res.Header.Get("Content-Type"), len(got), img.Len())
			}
		})
	}
}

// The guest email settings an admin saves on the portal page reach the
// emails sent through the Exchange emulator: the From display name changes
// while the address stays the sender mailbox, and with the sponsor's
// Reply-To turned off a sponsor's resend has none.
func TestAdminGuestEmailSettingsReachTheEmails(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, backend, hostNetHTTP, nil)
			const email = "rita@guest.example"
			g := b.activeGuest(t, "Rita", email, "Old-Pass-2026")
			staff := b.signInStaff(t)
			received := func(n int) *mail.Message {
				t.Helper()
				ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
				defer cancel()
				msgs, err := b.emu.WaitForMessages(ctx, n)
				if err != nil {
					t.Fatalf("email %d did not arrive: %v (mail log: %s)", n, err, b.mailLog(t))
				}
				m := msgs[n-1]
				if len(m.To) != 1 || m.To[0] != email || !strings.EqualFold(m.From, b.emu.Mailbox()) {
					t.Fatalf("email %d: MAIL FROM %q, RCPT TO %v; want %s to %s", n, m.From, m.To, b.emu.Mailbox(), email)
				}
				msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					t.Fatal(err)
				}
				return msg
			}
			from := func(msg *mail.Message) *mail.Address {
				t.Helper()
				a, err := mail.ParseAddress(msg.Header.Get("From"))
				if err != nil {
					t.Fatalf("From %q: %v", msg.Header.Get("From"), err)
				}
				return a
			}

			staff.act(t, g, "resend", nil)
			msg := received(1)
			if a := from(msg); !strings.EqualFold(a.Address, b.emu.Mailbox()) || msg.Header.Get("Reply-To") != "desk@corp.example" {
				t.Errorf("before: From %v, Reply-To %q; want the sender mailbox and the sponsor", a, msg.Header.Get("Reply-To"))
			}

			_, page := staff.get(t, "/guest/admin/portal")
			form := hidden(t, page)
			form.Set("site_name", "Contoso Visitors")
			form.Set("terms", "Be kind.")
			form.Set("mail_from_name", "Contoso Reception")
			form.Set("send_guest_email", "yes") // ticked on the page: a browser sends it
			// sponsor_reply_to unticked: not sent, as a browser does.
			if res, body := staff.post(t, "/guest/admin/portal", form); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("save: %d\n%s", res.StatusCode, body)
			}

			b.clock.Advance(time.Minute) // a resend within the minute is the same email
			staff.act(t, g, "resend", nil)
			msg = received(2)
			if a := from(msg); a.Name != "Contoso Reception" || !strings.EqualFold(a.Address, b.emu.Mailbox()) {
				t.Errorf("after: From %v, want Contoso Reception <%s>", a, b.emu.Mailbox())
			}
			if rt := msg.Header.Get("Reply-To"); rt != "" {
				t.Errorf("after: Reply-To %q, want none", rt)
			}
		})
	}
}
