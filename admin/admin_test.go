package admin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

func TestEveryPageNeedsAnAdmin(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "sally", storage.RoleSponsor)
		b.staff(t, "ada", storage.RoleAdmin)
		paths := []string{"/", "/no-such-page?x=1"}
		for _, p := range paths {
			r := b.client(t, "").get(p)
			want := signIn + "?return=" + url.QueryEscape(mount+p)
			if r.status != http.StatusSeeOther || r.location != want {
				t.Errorf("stranger GET %s = %d %q, want 303 to %q", p, r.status, r.location, want)
			}
			r = b.client(t, "sally").get(p)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "Administrators only") ||
				!strings.Contains(r.body, `rel="stylesheet"`) || strings.Contains(r.body, "Signed in as") {
				t.Errorf("sponsor GET %s = %d, want the styled 403 without the admin nav:\n%s", p, r.status, r.body)
			}
		}
		// A stranger's post: no CSRF token to be had, refused; with the
		// CSRF cookie and token of a page (signed out since), sent to sign in
		// and back to the admin home, not to the form's action.
		if r := b.client(t, "").post("/smtp/save", "", nil); r.status != http.StatusForbidden {
			t.Errorf("stranger POST /smtp/save = %d, want 403", r.status)
		}
		leaver := b.client(t, "ada")
		tok := leaver.csrf("/")
		u, _ := url.Parse(b.srv.URL + "/")
		leaver.http.Jar.SetCookies(u, []*http.Cookie{{Name: "test_staff", Value: "", Path: "/", MaxAge: -1}})
		if r := leaver.post("/smtp/save", tok, nil); r.status != http.StatusSeeOther || r.location != signIn+"?return="+url.QueryEscape(mount+"/") {
			t.Errorf("signed-out POST /smtp/save = %d %q, want 303 to sign in, back to the admin home", r.status, r.location)
		}
		for _, p := range []string{"/smtp", "/certificates"} {
			if r := b.client(t, "sally").get(p); r.status != http.StatusForbidden {
				t.Errorf("sponsor GET %s = %d, want 403", p, r.status)
			}
		}
		sally := b.client(t, "sally")
		sally.get("/smtp") // the CSRF cookie, whose value the form must carry
		tok = ""
		for _, c := range sally.http.Jar.Cookies(u) {
			if c.Name == "lobby_csrf" {
				tok = c.Value
			}
		}
		if r := sally.post("/smtp/save", tok, nil); tok == "" || r.status != http.StatusForbidden || !strings.Contains(r.body, "Administrators only") {
			t.Errorf("sponsor POST /smtp/save = %d, want 403", r.status)
		}
		r := b.client(t, "ada").get("/")
		if r.status != http.StatusOK || !strings.Contains(r.body, "<h1>Administration</h1>") ||
			!strings.Contains(r.body, "Signed in as Staff ada (admin)") {
			t.Errorf("admin GET / = %d:\n%s", r.status, r.body)
		}
		r = b.client(t, "ada").get("/no-such-page")
		if r.status != http.StatusNotFound || !strings.Contains(r.body, "Page not found") {
			t.Errorf("admin GET /no-such-page = %d:\n%s", r.status, r.body)
		}
	})
}

func TestPostWithoutCSRFIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", nil)
	b.staff(t, "ada", storage.RoleAdmin)
	c := b.client(t, "ada")
	tok := c.csrf("/")
	for _, p := range []string{"/nothing", "/smtp/test", "/smtp/save", "/smtp/send", "/certificates", "/certificates/delete"} {
		if r := c.post(p, "", url.Values{"x": {"1"}}); r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
			t.Errorf("POST %s without the CSRF token = %d:\n%s", p, r.status, r.body)
		}
	}
	if r := c.post("/nothing", tok, url.Values{"x": {"1"}}); r.status != http.StatusNotFound {
		t.Errorf("POST with the CSRF token to no page = %d, want 404:\n%s", r.status, r.body)
	}
}

func TestFlashIsReadOnceByItsPage(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", nil)
	ada := b.staff(t, "ada", storage.RoleAdmin)
	other := b.staff(t, "bob", storage.RoleAdmin)
	rec := newRecorder()
	req, _ := http.NewRequest(http.MethodGet, "http://lobby.test"+mount+"/", nil)
	b.admin.setFlash(rec, req, ada, "home", "Saved.")
	cookie := rec.Result().Cookies()[0]
	for _, tc := range []struct {
		who    *storage.Staff
		target string
		want   string
	}{{ada, "smtp", ""}, {other, "home", ""}, {ada, "home", "Saved."}} {
		req, _ := http.NewRequest(http.MethodGet, "http://lobby.test"+mount+"/", nil)
		req.AddCookie(cookie)
		if got := b.admin.takeFlash(newRecorder(), req, tc.who, tc.target); got != tc.want {
			t.Errorf("takeFlash(%s, %s) = %q, want %q", tc.who.Username, tc.target, got, tc.want)
		}
	}
}
