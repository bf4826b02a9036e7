package admin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// TestAPITokens: an admin sees every staff user's tokens (never the
// tokens themselves), with those that do not work marked, and revokes any
// of them; a sponsor may not see the page.
func TestAPITokens(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		b.staff(t, "ada", storage.RoleAdmin)
		sam := b.staff(t, "sam", storage.RoleSponsor)
		now := time.Now()
		tok, rec, err := guest.NewAPIToken(ctx, b.store, guest.System(), sam, "kiosk", time.Time{}, now)
		if err != nil {
			t.Fatal(err)
		}
		c := b.client(t, "ada")
		r := c.get("/api-tokens")
		if r.status != http.StatusOK || !strings.Contains(r.body, "kiosk") || !strings.Contains(r.body, rec.Hint+"…") || !strings.Contains(r.body, ">sam<") {
			t.Fatalf("GET /api-tokens = %d:\n%s", r.status, r.body)
		}
		if strings.Contains(r.body, tok) {
			t.Fatal("the page shows the token")
		}
		if err := b.store.SetStaffDisabled(ctx, sam.ID, true); err != nil {
			t.Fatal(err)
		}
		if r := c.get("/api-tokens"); !strings.Contains(r.body, "disabled: the token does not work") {
			t.Errorf("a disabled user's token is not marked:\n%s", r.body)
		}
		r = c.post("/api-tokens/"+rec.ID.String()+"/revoke", c.csrf("/api-tokens"), nil)
		if r.status != http.StatusSeeOther {
			t.Fatalf("revoke = %d:\n%s", r.status, r.body)
		}
		if _, _, err := b.store.LookupAPIToken(ctx, rec.Hash); err == nil {
			t.Error("the revoked token is still there")
		}
		if r := c.get("/api-tokens"); !strings.Contains(r.body, "Token revoked") || !strings.Contains(r.body, "There are no API tokens") {
			t.Errorf("after revoking:\n%s", r.body)
		}
		es, err := b.store.ListAuditFor(ctx, sam.ID.String(), 0, 5)
		if err != nil || len(es) == 0 || es[0].Action != "api_token.revoke" || es[0].Actor != "staff:ada" {
			t.Errorf("audit: %+v, %v", es, err)
		}
		if r := b.client(t, "sam").get("/api-tokens"); r.status == http.StatusOK {
			t.Errorf("a sponsor sees the admin's token list")
		}
	})
}
