package sponsor

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

func TestSafeReturn(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/lobby/admin/smtp":     "/lobby/admin/smtp",
		"/admin/?x=1":           "/admin/?x=1",
		"":                      "",
		"admin/":                "",
		"//evil.example/":       "",
		"/\\evil.example/":      "",
		"https://evil.example/": "",
		"/a\r\nSet-Cookie: x":   "",
		"/a\\b":                 "",
	} {
		if got := safeReturn(in); got != want {
			t.Errorf("safeReturn(%q) = %q, want %q", in, got, want)
		}
	}
}

// Sign-in honours a local return address (the admin pages send there) and
// ignores any other; only admins see the link to the admin pages.
func TestSignInReturnsAndAdminLink(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", func(c *Config) { c.AdminURL = "/lobby/admin/" })
	b.staff(t, "ada", "correct horse battery", storage.RoleAdmin, "")
	b.staff(t, "sam", "correct horse battery", storage.RoleSponsor, "")
	for _, tc := range []struct{ user, ret, want string }{
		{"ada", "/lobby/admin/smtp", "/lobby/admin/smtp"},
		{"ada", "https://evil.example/", "./"},
		{"sam", "//evil.example", "./"},
	} {
		c := b.client(t)
		q := "?return=" + url.QueryEscape(tc.ret)
		page := c.get("/login" + q)
		if !strings.Contains(page.body, `action="login`) {
			t.Fatalf("no sign-in form: %s", page.body)
		}
		tok := csrfRe.FindStringSubmatch(page.body)[1]
		r := c.post("/login"+q, tok, url.Values{"username": {tc.user}, "password": {"correct horse battery"}})
		if r.status != http.StatusSeeOther || r.location != tc.want {
			t.Errorf("%s signs in with return %q: %d %q, want 303 to %q", tc.user, tc.ret, r.status, r.location, tc.want)
		}
		if r := c.get("/login" + q); r.location != tc.want {
			t.Errorf("%s signed in, GET login with return %q: %q, want %q", tc.user, tc.ret, r.location, tc.want)
		}
		home := c.get("/")
		hasLink := strings.Contains(home.body, `<a href="/lobby/admin/">Administration</a>`)
		if hasLink != (tc.user == "ada") {
			t.Errorf("%s: admin link shown = %v:\n%s", tc.user, hasLink, home.body)
		}
		if !strings.Contains(home.body, `<a href="./tokens">API tokens</a>`) {
			t.Errorf("%s: the menu has no link to the API tokens page:\n%s", tc.user, home.body)
		}
	}
	// The form carries the return address through a failed attempt.
	c := b.client(t)
	page := c.get("/login?return=%2Flobby%2Fadmin%2F")
	if !strings.Contains(page.body, `action="login?return=%2flobby%2fadmin%2f"`) && !strings.Contains(page.body, `action="login?return=%2Flobby%2Fadmin%2F"`) {
		t.Errorf("the sign-in form does not carry the return address:\n%s", page.body)
	}
}
