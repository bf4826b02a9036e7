package sponsor

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

var reportRowRe = regexp.MustCompile(`<tr class="(ok|failed)"><td>(\d+)</td><td>(.*?)</td><td>(.*?)</td></tr>`)

// report reads the import report: row line → "ok" or the failure text.
func report(body string) map[string]string {
	out := map[string]string{}
	for _, m := range reportRowRe.FindAllStringSubmatch(body, -1) {
		out[m[2]] = m[1]
		if m[1] == "failed" {
			out[m[2]] = m[4]
		}
	}
	return out
}

func TestImport(t *testing.T) {
	t.Parallel()
	eachCreating(t, func(t *testing.T, b *creating) {
		c, st := b.signedInAs(t, "desk", storage.RoleSponsor, "desk")
		if r := c.get("/import"); r.status != http.StatusOK || !strings.Contains(r.body, `enctype="multipart/form-data"`) {
			t.Fatalf("GET /import = %d", r.status)
		}
		// Columns in another order and case; rows 3, 5, 6 and 7 are bad.
		file := "\xef\xbb\xbfEmail,First_Name,last_name,Company,valid_until\r\n" +
			"ada@example.com,Ada,Lovelace,Analytical Engines,2026-03-04 18:00\r\n" +
			"not-an-email,Bad,Address,,\r\n" +
			"alan@example.com,Alan,Turing,,\r\n" +
			",No,Email,,\r\n" +
			"long@example.com,Too,Long,,2026-04-30 18:00\r\n" +
			"when@example.com,Bad,Date,,next week\r\n" +
			"\r\n"
		r := c.upload("/import", c.csrf("/import"), "guests.csv", file, url.Values{"guest_type": {"daily"}, "send_email": {"yes"}})
		if r.status != http.StatusOK || !strings.Contains(r.body, "2 created, 4 failed") {
			t.Fatalf("POST /import = %d; want the report with 2 created, 4 failed:\n%s", r.status, r.body)
		}
		rep := report(r.body)
		for line, want := range map[string]string{"2": "ok", "3": "email", "4": "ok", "5": "email", "6": "at most 7 days", "7": "valid_until"} {
			if got := rep[line]; !strings.Contains(got, want) {
				t.Errorf("row %s: %q, want %q", line, got, want)
			}
		}
		if len(rep) != 6 {
			t.Errorf("the report has %d rows, want 6: %v", len(rep), rep)
		}
		gs := b.guestsOf(t, st)
		got := map[string]*storage.Guest{}
		for _, g := range gs {
			got[g.Email] = g
		}
		if len(gs) != 2 || got["ada@example.com"] == nil || got["alan@example.com"] == nil {
			t.Fatalf("stored guests %v; want ada and alan only", got)
		}
		if ada := got["ada@example.com"]; !ada.ValidUntil.Equal(time.Date(2026, 3, 4, 18, 0, 0, 0, time.UTC)) || ada.Company != "Analytical Engines" {
			t.Errorf("ada: until %v, company %q", ada.ValidUntil, ada.Company)
		}
		if alan := got["alan@example.com"]; !alan.ValidUntil.Equal(alan.ValidFrom.Add(24 * time.Hour)) {
			t.Errorf("alan: valid %v–%v; want the type's default day", alan.ValidFrom, alan.ValidUntil)
		}
		mail, err := b.store.ListMail(t.Context(), storage.MailFilter{Query: "@example.com"})
		if err != nil || len(mail) != 2 {
			t.Errorf("outbox: %d messages, %v; want the 2 created guests' credentials", len(mail), err)
		}
	})
}

func TestImportBadFiles(t *testing.T) {
	t.Parallel()
	eachCreating(t, func(t *testing.T, b *creating) {
		c, st := b.signedInAs(t, "desk", storage.RoleSponsor, "desk")
		many := strings.Builder{}
		many.WriteString("first_name,last_name,email\n")
		for i := range importMaxRows + 1 {
			fmt.Fprintf(&many, "A,B,a%d@example.com\n", i)
		}
		for _, tc := range []struct {
			name, file, want string
			status           int
		}{
			{"no required column", "first_name,last_name\nAda,Lovelace\n", "lacks the column email", http.StatusUnprocessableEntity},
			{"no header", "Ada,Lovelace,ada@example.com\n", "lacks the column", http.StatusUnprocessableEntity},
			{"unknown column", "first_name,last_name,email,emial\nAda,Lovelace,ada@example.com,x\n", "does not know: emial", http.StatusUnprocessableEntity},
			{"not CSV", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV text file", http.StatusUnprocessableEntity},
			{"bad quotes", "first_name,last_name,email\n\"Ada,Lovelace,ada@example.com\n", "not valid CSV", http.StatusUnprocessableEntity},
			{"header only", "first_name,last_name,email\n", "no guests", http.StatusUnprocessableEntity},
			{"empty", "", "empty", http.StatusUnprocessableEntity},
			{"too many rows", many.String(), "more than 1000", http.StatusUnprocessableEntity},
			{"too big", "first_name,last_name,email\n" + strings.Repeat("x", importMaxBody), "larger than 1 MiB", http.StatusRequestEntityTooLarge},
		} {
			r := c.upload("/import", c.csrf("/import"), "guests.csv", tc.file, url.Values{"guest_type": {"daily"}, "send_email": {"yes"}})
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Errorf("%s: %d, want %d with %q:\n%s", tc.name, r.status, tc.status, tc.want, r.body)
			}
		}
		if r := c.upload("/import", c.csrf("/import"), "", "", url.Values{"guest_type": {"daily"}, "send_email": {"yes"}}); r.status != http.StatusUnprocessableEntity || errorFor(r.body, "file") == "" {
			t.Errorf("no file: %d, want 422 with an error on the file", r.status)
		}
		if n := len(b.guestsOf(t, st)); n != 0 {
			t.Errorf("bad files created %d guests", n)
		}
	})
}
