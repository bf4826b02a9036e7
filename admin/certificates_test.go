package admin

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/storage"
)

func TestTrustedCertificates(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		srv := exchangetest.NewServer(t, exchangetest.Options{SeparateTokenCA: true})
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		add := func(pem string) resp {
			t.Helper()
			return c.post("/certificates", c.csrf("/certificates"), url.Values{"pem": {pem}})
		}

		// Bad input gets a clear error and changes nothing.
		for in, want := range map[string]string{
			"":          "Paste the CA certificate",
			"not a pem": "This is not a PEM certificate",
			"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n": "not a certificate: paste only CERTIFICATE blocks",
			"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n": "could not be read",
		} {
			r := add(in)
			if r.status != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(r.body), want) {
				t.Errorf("add %q = %d, want 422 with %q:\n%s", in, r.status, want, r.body)
			}
		}
		if page := c.get("/certificates"); !strings.Contains(page.body, "No certificates added") {
			t.Errorf("bad input changed the list:\n%s", page.body)
		}

		// Both CAs at once, then one again: listed once each.
		if r := add(string(srv.CACertPEM()) + string(srv.TokenCACertPEM())); r.status != http.StatusSeeOther {
			t.Fatalf("add = %d:\n%s", r.status, r.body)
		}
		add(string(srv.CACertPEM()))
		page := c.get("/certificates")
		rows := regexp.MustCompile(`<tr class="ok">`).FindAllString(page.body, -1)
		if len(rows) != 2 || !strings.Contains(page.body, "Those certificates are trusted already") || !strings.Contains(page.body, "Expires") {
			t.Fatalf("%d rows, page:\n%s", len(rows), page.body)
		}

		// Test Connection uses them: trusted, it passes.
		if r := c.test(emuForm(srv)); !strings.Contains(r.body, "Test Connection passed") {
			t.Fatalf("test with the CAs trusted:\n%s", r.body)
		}
		// Deleting the token endpoint's CA makes the token step fail.
		fps := regexp.MustCompile(`name="fingerprint" value="([0-9a-f]{64})"`).FindAllStringSubmatch(page.body, -1)
		if r := c.post("/certificates/delete", c.csrf("/certificates"), url.Values{"fingerprint": {fps[1][1]}}); r.status != http.StatusSeeOther {
			t.Fatalf("delete = %d:\n%s", r.status, r.body)
		}
		if page := c.get("/certificates"); strings.Count(page.body, `name="fingerprint"`) != 1 || !strings.Contains(page.body, "Removed ") {
			t.Errorf("after delete:\n%s", page.body)
		}
		r := c.test(emuForm(srv))
		if !strings.Contains(r.body, "<code>untrusted_certificate</code>") || !strings.Contains(r.body, `<tr class="failed"><td>Token</td>`) {
			t.Errorf("test without the token endpoint's CA:\n%s", r.body)
		}
	})
}
