package lobby

import (
	"io"
	"net/http"
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
