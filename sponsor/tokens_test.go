package sponsor

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

var apiTokenRe = regexp.MustCompile(`<code>(lobby_[A-Za-z0-9_-]{43})</code>`)

// TestTokensPage: a staff user makes a token (shown once, on the answer
// to the post), sees it listed by its start only, and revokes it, after
// which it no longer works; they cannot revoke another user's token.
func TestTokensPage(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		ann := b.staff(t, "ann", pw, storage.RoleSponsor, "")
		bob := b.staff(t, "bob", pw, storage.RoleSponsor, "")
		bobTok, bobRec, err := guest.NewAPIToken(t.Context(), b.store, guest.Actor{Staff: bob}, bob, "bob's", time.Time{}, b.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		c := b.client(t)
		c.mustSignIn("ann", pw)
		if r := c.get("/tokens"); r.status != http.StatusOK || !strings.Contains(r.body, "You have no API tokens") || strings.Contains(r.body, bobRec.Hint) {
			t.Fatalf("GET /tokens: %d\n%s", r.status, r.body)
		}
		csrf := c.csrf("/tokens")
		if r := c.post("/tokens", csrf, url.Values{"name": {""}, "expires": {"soon"}}); r.status != http.StatusUnprocessableEntity ||
			!strings.Contains(r.body, "Name the token") || !strings.Contains(r.body, "such as 30d") {
			t.Errorf("bad form: %d\n%s", r.status, r.body)
		}
		r := c.post("/tokens", csrf, url.Values{"name": {"visitor kiosk"}, "expires": {"30d"}})
		m := apiTokenRe.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || m == nil {
			t.Fatalf("make token: %d\n%s", r.status, r.body)
		}
		token := m[1]
		a, rec, err := b.guests.APITokenActor(t.Context(), token)
		if err != nil || a.Staff.ID != ann.ID || !rec.ExpiresAt.Equal(b.clock.Now().Add(30*24*time.Hour).Truncate(time.Microsecond)) {
			t.Fatalf("the token shown: %v, %+v", err, rec)
		}
		r = c.get("/tokens")
		if strings.Contains(r.body, token) || !strings.Contains(r.body, token[:10]+"…") || !strings.Contains(r.body, "visitor kiosk") {
			t.Errorf("the list shows the token again, or not its start:\n%s", r.body)
		}
		// Another user's token: not ann's to revoke.
		if r := c.post("/tokens/"+bobRec.ID.String()+"/revoke", csrf, nil); r.status != http.StatusSeeOther {
			t.Errorf("revoke bob's: %d", r.status)
		}
		if _, _, err := b.guests.APITokenActor(t.Context(), bobTok); err != nil {
			t.Errorf("ann revoked bob's token: %v", err)
		}
		if r := c.post("/tokens/"+rec.ID.String()+"/revoke", csrf, nil); r.status != http.StatusSeeOther {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if _, _, err := b.guests.APITokenActor(t.Context(), token); err == nil {
			t.Error("a revoked token still works")
		}
		if r := c.get("/tokens"); !strings.Contains(r.body, "Token revoked") {
			t.Errorf("no notice after revoking:\n%s", r.body)
		}
		es, err := b.store.ListAuditFor(t.Context(), ann.ID.String(), 0, 10)
		if err != nil || len(es) < 2 || es[0].Action != "api_token.revoke" || es[1].Action != "api_token.create" || es[0].Actor != "staff:ann" {
			t.Errorf("audit: %+v, %v", es, err)
		}
	})
}
