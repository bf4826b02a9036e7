package portal

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// TestGuestsShared: the Service Portal.Guests returns works on the
// portal's store, mailer and policy: a guest a sponsor creates through it
// gets the credentials email with the portal's sign-in link, handed to the
// portal's mailer, and can sign in on the portal's pages.
func TestGuestsShared(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	svc := b.portal.Guests()
	if svc == nil || svc.Store() != b.store || svc.Policy().SiteName != "Test Lobby" {
		t.Fatalf("Guests() = %v, want the portal's rules", svc)
	}
	sponsor := guest.Actor{
		Staff: &storage.Staff{ID: uuid.New(), Username: "olga", Email: "olga@corp.example", Role: storage.RoleSponsor},
		Group: &storage.SponsorGroup{Name: storage.DefaultSponsorGroup, Permissions: storage.AllPermissions},
	}
	res, err := svc.Create(t.Context(), sponsor, guest.NewGuest{FirstName: "Eve", LastName: "Example", Email: "eve@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if tr := b.mail.Tracked(); len(tr) != 1 || tr[0] != res.Mail {
		t.Errorf("tracked %v, want the credentials email %s", tr, res.Mail)
	}
	c := b.client(t)
	if r := c.login(res.Guest.Username, res.Guest.Password, ""); r.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-in with the credentials of a guest created through Guests(): %d\n%s", r.StatusCode, r.body)
	}
}

// TestNotifyExtensionReachesTheRules: Policy.NotifyExtension is the guest
// rules' (the extension email is theirs to send).
func TestNotifyExtensionReachesTheRules(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		b := setup(t, func(c *Config) { c.Policy.NotifyExtension = on })
		if got := b.portal.Guests().Policy().NotifyExtension; got != on {
			t.Errorf("Policy.NotifyExtension %v: the rules have %v", on, got)
		}
	}
}
