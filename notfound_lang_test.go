package lobby

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The 404 page outside the portal speaks the browser's language too, with
// the link to the portal.
func TestNotFoundPageLanguage(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, nil)
	for accept, want := range map[string]string{
		"":      `<html lang="en">`,
		"de":    `<h1>Seite nicht gefunden</h1>`,
		"fr-CA": `<h1>Page introuvable</h1>`,
		"es":    `<a href="/guest/portal/">portal de invitados</a>`,
		"ja":    `<h1>Page not found</h1>`,
	} {
		req, err := http.NewRequest("GET", b.srv.URL+"/guest/nowhere", nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		res, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), want) {
			t.Errorf("Accept-Language %q: %d, want 404 with %s:\n%s", accept, res.StatusCode, want, body)
		}
	}
}
