package lobby

import (
	"bytes"
	"html"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

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
