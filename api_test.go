package lobby

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// TestAPIResend: the REST API through the whole of Lobby, at
// /guest/api/v1: a sponsor's token resends a guest's credentials through
// the real dispatcher and the Exchange Online emulator, the answer says
// the email was sent, the guest gets their password, and the audit log
// names the sponsor "via API"; another sponsor's token gets 403.
func TestAPIResend(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, backend, hostNetHTTP, nil)
			ctx := t.Context()
			var sponsors []*storage.Staff
			for _, name := range []string{"ann", "bob"} {
				st := &storage.Staff{Username: name, Email: name + "@corp.example", Role: storage.RoleSponsor, PasswordHash: "$2a$04$unused"}
				if err := b.store.CreateStaff(ctx, st); err != nil {
					t.Fatal(err)
				}
				sponsors = append(sponsors, st)
			}
			g := b.activeGuest(t, "Rita", "rita@guest.example", "Rita-Pass-2026")
			if _, err := b.store.UpdateGuest(ctx, g.ID, storage.GuestUpdate{SponsorID: &sponsors[0].ID}); err != nil {
				t.Fatal(err)
			}
			call := func(st *storage.Staff) (int, string) {
				t.Helper()
				tok, _, err := guest.NewAPIToken(ctx, b.store, guest.Actor{Staff: st}, st, "test", time.Time{}, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", b.srv.URL+"/guest/api/v1/guests/"+g.ID.String()+"/resend", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				return res.StatusCode, string(body)
			}
			if status, body := call(sponsors[1]); status != http.StatusForbidden || !strings.Contains(body, `"status":403`) {
				t.Errorf("another sponsor's resend: %d %s", status, body)
			}
			status, body := call(sponsors[0])
			if status != http.StatusOK {
				t.Fatalf("resend: %d %s", status, body)
			}
			var out struct {
				Mail struct{ Status, To string }
			}
			if err := json.Unmarshal([]byte(body), &out); err != nil || out.Mail.Status != "sent" || out.Mail.To != g.Email {
				t.Errorf("resend answered %s (%v); want the email sent to %s", body, err, g.Email)
			}
			if _, pw := b.mailTo(t, g.Email, 1, 30*time.Second); pw != "Rita-Pass-2026" {
				t.Errorf("the email carries password %q", pw)
			}
			es, err := b.store.ListAuditFor(ctx, g.ID.String(), 0, 10)
			if err != nil || len(es) == 0 || es[0].Actor != "staff:ann" || es[0].Action != "guest.resend" || !strings.Contains(es[0].Detail, "via API") {
				t.Errorf("audit: %+v, %v", es, err)
			}
		})
	}
}
