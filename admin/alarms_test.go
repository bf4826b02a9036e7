package admin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

func TestAlarmsPageAndAcknowledge(t *testing.T) {
	t.Parallel()
	eachQuiet(t, func(t *testing.T, b *bundle, _ *stubMailer) {
		ctx := t.Context()
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		if r := c.get("/"); !strings.Contains(r.body, "No active alarms") {
			t.Errorf("home without alarms:\n%s", r.body)
		}
		for _, al := range []storage.Alarm{
			{Key: "smtp.client_secret_expiry", Severity: storage.SeverityWarning, Title: "The client secret expires in 10 days", Detail: "Renew it in Entra.", Level: "15"},
			{Key: "mail.dead_letters", Severity: storage.SeverityCritical, Title: "Dead letters", Detail: "2 messages were not sent."},
			{Key: "old.gone", Severity: storage.SeverityInfo, Title: "Something that passed", Detail: "It is over."},
		} {
			if err := b.store.RaiseAlarm(ctx, al); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.store.RaiseAlarm(ctx, storage.Alarm{Key: "mail.dead_letters", Severity: storage.SeverityCritical, Title: "Dead letters", Detail: "2 messages were not sent."}); err != nil {
			t.Fatal(err)
		}
		if err := b.store.ClearAlarm(ctx, "old.gone"); err != nil {
			t.Fatal(err)
		}
		if r := c.get("/"); !strings.Contains(r.body, "2 active alarms") {
			t.Errorf("home with 2 active alarms:\n%s", r.body)
		}
		page := c.get("/alarms")
		for _, want := range []string{"The client secret expires in 10 days", "Renew it in Entra.", "(level 15)", "Dead letters", "<td>2</td>", "First ", "Last ", "critical"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("the active alarms lack %q:\n%s", want, page.body)
			}
		}
		if strings.Contains(page.body, "Something that passed") || strings.Count(page.body, ">Acknowledge</button>") != 2 {
			t.Errorf("the active alarms list a cleared one, or not one button each:\n%s", page.body)
		}
		if cleared := c.get("/alarms?show=cleared"); !strings.Contains(cleared.body, "Something that passed") || strings.Contains(cleared.body, "Dead letters") ||
			!strings.Contains(cleared.body, "Cleared ") {
			t.Errorf("the cleared alarms:\n%s", cleared.body)
		}

		r := c.post("/alarms/ack", c.csrf("/alarms"), url.Values{"key": {"mail.dead_letters"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("ack = %d:\n%s", r.status, r.body)
		}
		al, err := b.store.GetAlarm(ctx, "mail.dead_letters")
		if err != nil || al.AcknowledgedBy != "ada" || !al.AcknowledgedAt.Equal(b.clock.Now()) || !al.Active() {
			t.Fatalf("after ack: %+v, %v; want acknowledged by ada now, still active", al, err)
		}
		page = c.get("/alarms")
		if !strings.Contains(page.body, "Acknowledged. The alarm stays listed") || !strings.Contains(page.body, "By ada") ||
			strings.Count(page.body, ">Acknowledge</button>") != 1 {
			t.Errorf("after ack:\n%s", page.body)
		}
		entries, err := b.store.ListAuditWhere(ctx, storage.AuditFilter{Actor: "staff:ada", ActionPrefix: "alarm.ack"})
		if err != nil || len(entries) != 1 || entries[0].Subject != "mail.dead_letters" {
			t.Errorf("audit of the ack: %+v, %v", entries, err)
		}
		// A cleared (or unknown) alarm cannot be acknowledged.
		r = c.post("/alarms/ack", c.csrf("/alarms"), url.Values{"key": {"old.gone"}})
		if page := c.get("/alarms"); r.status != http.StatusSeeOther || !strings.Contains(page.body, "not active any more") {
			t.Errorf("ack of a cleared alarm = %d:\n%s", r.status, page.body)
		}
	})
}
