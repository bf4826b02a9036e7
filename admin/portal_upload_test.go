package admin

import (
	"bytes"
	"html"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// postMultipart sends form and one file (none when file is nil) to path
// as a browser's file upload: the CSRF token travels in the form.
func (c *client) postMultipart(path string, form url.Values, field, filename string, file []byte) resp {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if file != nil {
		fw, _ := mw.CreateFormFile(field, filename)
		_, _ = fw.Write(file)
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.b.srv.URL+mount+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func pngLogo(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestPortalLogoUpload: a logo file is uploaded with the page's form (its
// CSRF token in the multipart form); a file that is no image, or too big,
// gets the field's error and saves nothing; without the token, 403;
// "Remove the logo" still removes it.
func TestPortalLogoUpload(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		page := c.get("/portal")
		if !strings.Contains(page.body, `enctype="multipart/form-data"`) || !strings.Contains(page.body, `<input type="file" id="f-logo" name="logo"`) {
			t.Fatalf("the page has no logo upload:\n%s", page.body)
		}
		version := func() int64 {
			t.Helper()
			ps, err := b.guests.PortalSettings(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return ps.Version
		}

		// Without the CSRF token: refused, nothing saved.
		form := portalValues(page.body)
		if r := c.postMultipart("/portal", form, "logo", "logo.png", pngLogo(t)); r.status != http.StatusForbidden {
			t.Errorf("upload without the CSRF token = %d, want 403", r.status)
		}

		for _, bad := range []struct {
			name string
			file []byte
			want string
		}{
			{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "must be a PNG, JPEG, GIF or WebP image"},
			{"text", []byte("hello"), "must be a PNG, JPEG, GIF or WebP image"},
			{"too big", append(pngLogo(t), make([]byte, guest.MaxLogoBytes)...), "use an image of at most 48 KB"},
			{"empty", []byte{}, "The file is empty"},
		} {
			form := portalValues(page.body)
			form.Set("csrf_token", c.csrf("/portal"))
			r := c.postMultipart("/portal", form, "logo", bad.name, bad.file)
			body := html.UnescapeString(r.body)
			if r.status != http.StatusUnprocessableEntity || !strings.Contains(body, `<a href="#f-logo">`) || !strings.Contains(body, bad.want) {
				t.Errorf("%s: = %d, want 422 with %q at the logo field:\n%s", bad.name, r.status, bad.want, r.body)
			}
		}
		if v := version(); v != 0 {
			t.Fatalf("a refused upload saved the settings (version %d)", v)
		}

		form = portalValues(page.body)
		form.Set("csrf_token", c.csrf("/portal"))
		logo := pngLogo(t)
		if r := c.postMultipart("/portal", form, "logo", "logo.png", logo); r.status != http.StatusSeeOther {
			t.Fatalf("upload = %d:\n%s", r.status, r.body)
		}
		ps, _ := b.guests.PortalSettings(t.Context())
		if !bytes.Equal(ps.Logo, logo) || ps.LogoType != "image/png" || ps.Version != 1 {
			t.Fatalf("after the upload: %d bytes of %q, version %d", len(ps.Logo), ps.LogoType, ps.Version)
		}

		// A save without a file keeps the logo; "Remove the logo" removes it.
		page = c.get("/portal")
		if !strings.Contains(page.body, "A logo is shown beside the site name.") {
			t.Errorf("the page does not say a logo is set:\n%s", page.body)
		}
		form = portalValues(page.body)
		form.Set("csrf_token", c.csrf("/portal"))
		if r := c.postMultipart("/portal", form, "", "", nil); r.status != http.StatusSeeOther {
			t.Fatalf("save without a file = %d:\n%s", r.status, r.body)
		}
		if ps, _ := b.guests.PortalSettings(t.Context()); !bytes.Equal(ps.Logo, logo) {
			t.Error("a save without a file lost the logo")
		}
		form.Set("version", "2")
		form.Set("remove_logo", "yes")
		if r := c.postMultipart("/portal", form, "", "", nil); r.status != http.StatusSeeOther {
			t.Fatalf("remove = %d:\n%s", r.status, r.body)
		}
		if ps, _ := b.guests.PortalSettings(t.Context()); len(ps.Logo) != 0 || ps.LogoType != "" {
			t.Errorf("Remove the logo kept %d bytes", len(ps.Logo))
		}
	})
}

// TestPortalGuestEmailSettings: the sender name and the sponsor's Reply-To
// are shown, saved and checked on the portal page.
func TestPortalGuestEmailSettings(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		page := c.get("/portal")
		form := portalValues(page.body)
		if form.Get("sponsor_reply_to") != "yes" || form.Get("mail_from_name") != "" || !strings.Contains(page.body, "<legend>Guest emails</legend>") {
			t.Fatalf("the page does not show the default email settings: %v\n%s", form, page.body)
		}

		form.Set("mail_from_name", "Contoso\r\nBcc: x@evil.example")
		r := c.post("/portal", c.csrf("/portal"), form)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `<a href="#f-mail_from_name">The sender name must be on one line`) {
			t.Errorf("a sender name with a line break = %d:\n%s", r.status, r.body)
		}
		form.Set("mail_from_name", strings.Repeat("x", guest.MaxMailFromName+1))
		if r := c.post("/portal", c.csrf("/portal"), form); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "64 characters or fewer") {
			t.Errorf("a long sender name = %d:\n%s", r.status, r.body)
		}
		if ps, _ := b.guests.PortalSettings(t.Context()); ps.Version != 0 {
			t.Fatalf("an invalid save was stored (version %d)", ps.Version)
		}

		form.Set("mail_from_name", "Contoso Reception")
		form.Del("sponsor_reply_to")
		if r := c.post("/portal", c.csrf("/portal"), form); r.status != http.StatusSeeOther {
			t.Fatalf("save = %d:\n%s", r.status, r.body)
		}
		ps, _ := b.guests.PortalSettings(t.Context())
		if ps.MailFromName != "Contoso Reception" || ps.SponsorReplyTo {
			t.Errorf("saved sender name %q, sponsor Reply-To %t", ps.MailFromName, ps.SponsorReplyTo)
		}
		form = portalValues(c.get("/portal").body)
		if form.Get("mail_from_name") != "Contoso Reception" || form.Has("sponsor_reply_to") {
			t.Errorf("the page after the save shows %v", form)
		}
	})
}
