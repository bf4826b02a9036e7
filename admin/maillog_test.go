package admin

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/storage"
)

// secretPayload is in every test message's payload: no page may show it.
const secretPayload = "payload-with-password-Zq8!vX"

func TestMailLog(t *testing.T) {
	t.Parallel()
	eachQuiet(t, func(t *testing.T, b *bundle, m *stubMailer) {
		ctx := t.Context()
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		pl := []byte(secretPayload)
		for i := range 50 {
			b.enqueue(t, fmt.Sprintf("guest%02d@example.com", i), fmt.Sprintf("Your Wi-Fi access %02d", i), "guest.credentials", pl)
		}
		alarm := b.enqueue(t, "admins@corp.example", "Lobby alarm: dead letters", "admin.alarm", pl)
		dead := b.enqueue(t, "Carol.Dead@Example.com", "Your Wi-Fi credentials", "guest.credentials", pl)
		l, err := b.store.LeaseMailByID(ctx, dead, "test", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.store.MarkMailDead(ctx, dead, l.LeaseToken, "535 5.7.3 Authentication unsuccessful", "mailbox_rejected_token"); err != nil {
			t.Fatal(err)
		}
		ids := regexp.MustCompile(`href="\./mail/([0-9a-f-]{36})"`)
		rowsOf := func(body string) []string {
			var out []string
			for _, m := range ids.FindAllStringSubmatch(body, -1) {
				out = append(out, m[1])
			}
			return out
		}

		// Pages of 50, newest first, and a Next page link that keeps the filters.
		first := c.get("/mail")
		if got := rowsOf(first.body); len(got) != 50 || got[0] != dead.String() || got[1] != alarm.String() {
			t.Fatalf("first page: %d rows starting %v:\n%s", len(got), got[:min(2, len(got))], first.body)
		}
		next := regexp.MustCompile(`href="\./(mail\?after=[^"]+)" rel="next"`).FindStringSubmatch(first.body)
		if next == nil {
			t.Fatalf("no Next page link:\n%s", first.body)
		}
		second := c.get("/" + html.UnescapeString(next[1]))
		if got := rowsOf(second.body); len(got) != 2 || slices.Contains(rowsOf(first.body), got[0]) || strings.Contains(second.body, `rel="next"`) ||
			!strings.Contains(second.body, "First page") {
			t.Errorf("second page: %v:\n%s", got, second.body)
		}

		// Filters and search.
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"status=dead", []string{dead.String()}},
			{"kind=admin.alarm", []string{alarm.String()}},
			{"q=carol.dead", []string{dead.String()}},
			{"q=alarm%3A+dead", []string{alarm.String()}},
			{"q=credentials&status=dead", []string{dead.String()}},
			{"status=sent", nil},
			{"status=nonsense&kind=admin.alarm", []string{alarm.String()}},
		} {
			r := c.get("/mail?" + tc.query)
			if got := rowsOf(r.body); r.status != http.StatusOK || !slices.Equal(got, tc.want) {
				t.Errorf("GET /mail?%s = %d, rows %v; want %v", tc.query, r.status, got, tc.want)
			}
		}
		r := c.get("/mail?status=dead")
		for _, want := range []string{"mailbox_rejected_token", "535 5.7.3 Authentication unsuccessful", "Carol.Dead@Example.com", `<option value="dead" selected>`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the dead letter's row lacks %q:\n%s", want, r.body)
			}
		}
		if r := c.get("/mail?after=garbage"); r.status != http.StatusSeeOther || r.location != "mail" {
			t.Errorf("a bad cursor = %d %q, want 303 to the first page", r.status, r.location)
		}

		// A message's page: details, Retry now on a dead letter only.
		page := c.get("/mail/" + dead.String())
		for _, want := range []string{"Message to Carol.Dead@Example.com", "<dt>Attempts</dt><dd>1</dd>", "<code>mailbox_rejected_token</code> 535 5.7.3", "Retry now", "guest.credentials"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("the dead letter's page lacks %q:\n%s", want, page.body)
			}
		}
		if page := c.get("/mail/" + alarm.String()); strings.Contains(page.body, "Retry now") {
			t.Errorf("a queued message offers Retry now:\n%s", page.body)
		}
		if r := c.get("/mail/" + "00000000-0000-0000-0000-000000000000"); r.status != http.StatusNotFound {
			t.Errorf("an unknown message = %d, want 404", r.status)
		}

		// Retry now: queued again, handed to the sender, audited.
		r = c.post("/mail/"+dead.String()+"/retry", c.csrf("/mail/"+dead.String()), nil)
		if r.status != http.StatusSeeOther || r.location != "../"+dead.String() {
			t.Fatalf("retry = %d %q:\n%s", r.status, r.location, r.body)
		}
		got, err := b.store.GetMail(ctx, dead)
		if err != nil || got.Status != storage.MailQueued || got.Attempts != 0 || string(got.Payload) != secretPayload {
			t.Fatalf("after retry: %+v, %v; want queued with its payload", got, err)
		}
		if tr := m.Tracked(); len(tr) != 1 || tr[0] != dead {
			t.Errorf("tracked %v, want [%s]", tr, dead)
		}
		if page := c.get("/mail/" + dead.String()); !strings.Contains(page.body, "Queued again and handed to the sender") || strings.Contains(page.body, "Retry now") {
			t.Errorf("after retry:\n%s", page.body)
		}
		if e, err := b.store.ListAuditWhere(ctx, storage.AuditFilter{ActionPrefix: "mail.retry"}); err != nil || len(e) != 1 || e[0].Subject != dead.String() || e[0].Actor != "staff:ada" {
			t.Errorf("audit of the retry: %+v, %v", e, err)
		}
		// Again: not a dead letter any more.
		c.post("/mail/"+dead.String()+"/retry", c.csrf("/mail/"+dead.String()), nil)
		if page := c.get("/mail/" + dead.String()); !strings.Contains(page.body, "not a dead letter") || len(m.Tracked()) != 1 {
			t.Errorf("a second retry:\n%s", page.body)
		}

		if strings.Contains(b.seen().String(), secretPayload) {
			t.Error("a page showed a message's payload")
		}
	})
}

// Retry now with a sender running: a dead letter is delivered.
func TestRetryNowDelivers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		srv := exchangetest.NewServer(t, exchangetest.Options{})
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		c.trustEmulator(srv)
		form := emuForm(srv)
		if r := c.save(withHidden(form, c.test(form).body)); r.status != http.StatusSeeOther {
			t.Fatalf("save = %d:\n%s", r.status, r.body)
		}
		// The recipient's server refuses for good: a dead letter.
		srv.FailNextMail(1, 550, "5.7.1", "Client does not have permissions to send as this sender")
		if r := c.post("/smtp/send", c.csrf("/smtp"), url.Values{"to": {"dora@example.net"}}); !strings.Contains(r.body, "Lobby stopped trying") {
			t.Fatalf("the test email did not die:\n%s", r.body)
		}
		dead, err := b.store.ListMail(ctx, storage.MailFilter{Status: []storage.MailStatus{storage.MailDead}})
		if err != nil || len(dead) != 1 {
			t.Fatalf("dead letters: %d, %v", len(dead), err)
		}
		id := dead[0].ID.String()
		if r := c.post("/mail/"+id+"/retry", c.csrf("/mail/"+id), nil); r.status != http.StatusSeeOther {
			t.Fatalf("retry = %d:\n%s", r.status, r.body)
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if msgs, err := srv.WaitForMessages(wctx, 1); err != nil || len(msgs) != 1 {
			t.Fatalf("the emulator got %d messages, %v; want the retried one", len(msgs), err)
		}
		for {
			m, err := b.store.GetMail(ctx, dead[0].ID)
			if err == nil && m.Status == storage.MailSent {
				break
			}
			select {
			case <-wctx.Done():
				t.Fatalf("the retried message is %v, %v; want sent", m, err)
			case <-time.After(20 * time.Millisecond): // polling with a deadline
			}
		}
		if page := c.get("/mail/" + id); !strings.Contains(page.body, "<dt>Status</dt><dd>sent</dd>") {
			t.Errorf("the message's page after delivery:\n%s", page.body)
		}
	})
}
