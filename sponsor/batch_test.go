package sponsor

import (
	"encoding/csv"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

var (
	cardRe  = regexp.MustCompile(`(?s)<li class="card">.*?<dt>Username</dt><dd><code>([^<]+)</code></dd>\s*<dt>Password</dt><dd><code>([^<]+)</code></dd>`)
	tokenRe = regexp.MustCompile(`name="batch" value="([^"]+)"`)
)

func TestBatchSheetAndCSV(t *testing.T) {
	t.Parallel()
	eachCreating(t, func(t *testing.T, b *creating) {
		c, st := b.signedInAs(t, "desk", storage.RoleSponsor, "desk")
		if r := c.get("/batch"); r.status != http.StatusOK || !strings.Contains(r.body, `name="count"`) {
			t.Fatalf("GET /batch = %d", r.status)
		}
		form := url.Values{"count": {"10"}, "prefix": {"conf"}, "guest_type": {"daily"}, "valid_from": {"2026-03-02T10:00"}, "validity": {"8h"}}
		form.Set("csrf_token", c.csrf("/batch"))
		res, sheet := c.raw("/batch", form)
		if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("POST /batch = %d, Cache-Control %q; want 200, no-store:\n%s", res.StatusCode, res.Header.Get("Cache-Control"), sheet)
		}
		cards := cardRe.FindAllStringSubmatch(sheet, -1)
		if len(cards) != 10 {
			t.Fatalf("the sheet has %d cards, want 10", len(cards))
		}
		for _, want := range []string{"Lobby-Guest", "http://lobby.test/lobby/portal/login", "Valid until"} {
			if !strings.Contains(sheet, want) {
				t.Errorf("the sheet lacks %q", want)
			}
		}
		stored := b.guestsOf(t, st)
		if len(stored) != 10 {
			t.Fatalf("desk sponsors %d guests, want 10", len(stored))
		}
		passwords := map[string]string{} // username → password, from the sheet
		for _, m := range cards {
			passwords[html.UnescapeString(m[1])] = html.UnescapeString(m[2])
		}
		start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		for _, lg := range stored {
			g, err := b.store.GetGuest(t.Context(), lg.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(g.Username, "conf-") || passwords[g.Username] != g.Password || g.Password == "" {
				t.Errorf("guest %s: the sheet's password does not sign in (sheet %q)", g.Username, passwords[g.Username])
			}
			if !g.ValidFrom.Equal(start) || !g.ValidUntil.Equal(start.Add(8*time.Hour)) || g.SponsorID != st.ID || g.GuestType != "daily" {
				t.Errorf("guest %s valid %v–%v, sponsor %v; want 10:00–18:00, desk", g.Username, g.ValidFrom, g.ValidUntil, g.SponsorID)
			}
			if !g.CanLogIn(start.Add(time.Hour)) {
				t.Errorf("guest %s cannot sign in during the event", g.Username)
			}
		}
		css := c.get("/static/" + regexp.MustCompile(`static/([^"]+\.css)`).FindStringSubmatch(sheet)[1])
		if !strings.Contains(css.body, "@media print") || !strings.Contains(css.body, "break-inside: avoid") {
			t.Error("the stylesheet has no print rules for the cards")
		}

		// The CSV: the same accounts, for the same sponsor.
		m := tokenRe.FindStringSubmatch(sheet)
		if m == nil {
			t.Fatal("the sheet has no CSV download form")
		}
		token := html.UnescapeString(m[1])
		csrf := c.csrf("/batch")
		res, body := c.raw("/batch/csv", url.Values{"batch": {token}, "csrf_token": {csrf}})
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
			res.Header.Get("Cache-Control") != "no-store" ||
			res.Header.Get("Content-Disposition") != `attachment; filename="guests-2026-03-02-0900.csv"` {
			t.Fatalf("POST /batch/csv = %d %v:\n%s", res.StatusCode, res.Header, body)
		}
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || len(rows) != 11 || strings.Join(rows[0], ",") != "username,password,valid_from,valid_until" {
			t.Fatalf("CSV = %q, %v; want a header and 10 rows", rows, err)
		}
		for _, row := range rows[1:] {
			if passwords[row[0]] != row[1] || row[2] != "2026-03-02T10:00:00Z" || row[3] != "2026-03-02T18:00:00Z" {
				t.Errorf("CSV row %q does not match the sheet", row)
			}
		}

		// Another sponsor with the token: 403, no passwords.
		o, _ := b.signedInAs(t, "other", storage.RoleSponsor, "desk")
		if r := o.post("/batch/csv", o.csrf("/batch"), url.Values{"batch": {token}}); r.status != http.StatusForbidden || strings.Contains(r.body, rows[1][1]) {
			t.Errorf("another sponsor downloads the batch: %d; want 403", r.status)
		}
		// A tampered token: 403.
		if r := c.post("/batch/csv", csrf, url.Values{"batch": {token[:len(token)-2] + "AA"}}); r.status != http.StatusForbidden {
			t.Errorf("a tampered token: %d, want 403", r.status)
		}
		// Without CSRF: 403.
		if r := c.post("/batch/csv", "", url.Values{"batch": {token}}); r.status != http.StatusForbidden {
			t.Errorf("the download without CSRF: %d, want 403", r.status)
		}
		// Expired: 410, also for its own sponsor.
		b.clock.Advance(batchCSVTTL + time.Second)
		if r := c.post("/batch/csv", csrf, url.Values{"batch": {token}}); r.status != http.StatusGone || strings.Contains(r.body, rows[1][1]) {
			t.Errorf("an expired token: %d, want 410", r.status)
		}
		if r := o.post("/batch/csv", o.csrf("/batch"), url.Values{"batch": {token}}); r.status != http.StatusForbidden {
			t.Errorf("another sponsor's expired token: %d, want 403", r.status)
		}
	})
}

func TestBatchErrors(t *testing.T) {
	t.Parallel()
	eachCreating(t, func(t *testing.T, b *creating) {
		c, st := b.signedInAs(t, "desk", storage.RoleSponsor, "desk")
		for _, tc := range []struct {
			form  url.Values
			field string
		}{
			{url.Values{"count": {"0"}}, "count"},
			{url.Values{"count": {"501"}}, "count"},
			{url.Values{"count": {"ten"}}, "count"},
			{url.Values{"count": {"3"}, "prefix": {"Bad Prefix!"}}, "prefix"},
			{url.Values{"count": {"3"}, "validity": {"8d"}}, "validity"},
			{url.Values{"count": {"3"}, "valid_from": {"2026-02-01T09:00"}}, "valid_from"},
		} {
			tc.form.Set("guest_type", "daily")
			r := c.post("/batch", c.csrf("/batch"), tc.form)
			if r.status != http.StatusUnprocessableEntity || errorFor(r.body, tc.field) == "" {
				t.Errorf("batch %v: %d, error on %s %q; want 422 with one", tc.form, r.status, tc.field, errorFor(r.body, tc.field))
			}
		}
		if r := c.post("/batch", c.csrf("/batch"), url.Values{"count": {"3"}, "guest_type": {"contractor"}}); r.status != http.StatusForbidden {
			t.Errorf("a batch of a type the group may not use: %d, want 403", r.status)
		}
		if n := len(b.guestsOf(t, st)); n != 0 {
			t.Errorf("refused batches created %d guests", n)
		}
	})
}

func TestCSVCell(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"guest-abc": "guest-abc", "=HYPERLINK(1)": "'=HYPERLINK(1)", "+1": "'+1", "-2": "'-2", "@SUM": "'@SUM",
		"\t=1": "'\t=1", "": "", "a=b": "a=b",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// The largest batch's token (500 IDs) fits the form body limit, and the CSV
// has every account.
func TestBatchCSVOfTheLargestBatch(t *testing.T) {
	t.Parallel()
	eachCreating(t, func(t *testing.T, b *creating) {
		c, _ := b.signedInAs(t, "desk", storage.RoleSponsor, "desk")
		r := c.post("/batch", c.csrf("/batch"), url.Values{"count": {"500"}, "guest_type": {"daily"}})
		m := tokenRe.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || m == nil || len(cardRe.FindAllString(r.body, -1)) != 500 {
			t.Fatalf("a batch of 500: %d, token found %v", r.status, m != nil)
		}
		res, body := c.raw("/batch/csv", url.Values{"batch": {html.UnescapeString(m[1])}, "csrf_token": {c.csrf("/batch")}})
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if res.StatusCode != http.StatusOK || err != nil || len(rows) != 501 {
			t.Fatalf("its CSV: %d, %d rows, %v; want a header and 500 rows", res.StatusCode, len(rows), err)
		}
	})
}
