package lobby

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/lobbyhq/lobby/storage"
)

// The admin pages through the whole of Lobby: the sponsor side's sign-in
// decides who may see them.
func TestAdminPagesNeedAnAdmin(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, backend, hostNetHTTP, nil)

			// A stranger is sent to sign in, and signing in leads back.
			res, err := b.client.Get(b.srv.URL + "/guest/admin/")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			loc := res.Header.Get("Location")
			if res.StatusCode != http.StatusSeeOther || loc != "/guest/sponsor/login?return=%2Fguest%2Fadmin%2F" {
				t.Fatalf("stranger GET /guest/admin/ = %d %q", res.StatusCode, loc)
			}
			admin := b.signInStaffAt(t, "desk", storage.RoleAdmin, loc)
			if _, page := admin.get(t, "/guest/admin/"); !strings.Contains(page, "<h1>Administration</h1>") {
				t.Errorf("the admin does not see the admin home page:\n%s", page)
			}
			if _, page := admin.get(t, "/guest/sponsor/"); !strings.Contains(page, `<a href="/guest/admin/">Administration</a>`) {
				t.Errorf("the sponsor pages do not link an admin to the admin pages:\n%s", page)
			}

			sponsor := b.signInStaffAt(t, "sam", storage.RoleSponsor, "")
			res, page := sponsor.get(t, "/guest/admin/")
			if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "Administrators only") {
				t.Errorf("sponsor GET /guest/admin/ = %d:\n%s", res.StatusCode, page)
			}
			if _, page := sponsor.get(t, "/guest/sponsor/"); strings.Contains(page, "/guest/admin/") {
				t.Errorf("a sponsor sees the link to the admin pages:\n%s", page)
			}
		})
	}
}

// signInStaffAt creates a staff user and signs them in at the sponsor
// side's sign-in page from signInURL (with its return address; "" for the
// plain page), checking where sign-in leads.
func (b *testBundle) signInStaffAt(t *testing.T, username string, role storage.Role, signInURL string) *staffBrowser {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(staffPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	st := &storage.Staff{Username: username, Email: username + "@corp.example", Role: role, PasswordHash: string(h)}
	if err := b.store.CreateStaff(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	s := &staffBrowser{b: b, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if signInURL == "" {
		signInURL = "/guest/sponsor/login"
	}
	form := s.form(t, signInURL)
	form.Set("username", username)
	form.Set("password", staffPassword)
	res, page := s.post(t, signInURL, form)
	want := "./"
	if u, _ := url.Parse(signInURL); u.Query().Get("return") != "" {
		want = u.Query().Get("return")
	}
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
		t.Fatalf("sign-in of %s: %d to %q, want 303 to %q\n%s", username, res.StatusCode, res.Header.Get("Location"), want, page)
	}
	return s
}
