package lobby

import (
	"net/http"
	"strings"
	"testing"
)

// An address Lobby does not serve gets a styled page, not Go's bare
// "404 page not found", from the root handler and from the portal's.
func TestNotFoundPages(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, nil)
	css := "/guest/static/" + b.lobby.assets.URL("lobby.css")
	for _, path := range []string{"/guest/nowhere", "/guest/a/b/c", "/guest/dev/mailbox", "/guest/portal/nowhere",
		"/guest/portal/registered/", "/guest/portal/static/missing.css", "/guest/static/missing.css"} {
		res, body := b.get(t, path)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
			continue
		}
		if strings.Contains(body, "404 page not found") {
			t.Errorf("GET %s: Go's bare 404 page", path)
		}
		if path == "/guest/static/missing.css" {
			continue // assets outside the portal answer plain text: no page asks for them
		}
		if !strings.Contains(body, "<h1>Page not found</h1>") || !strings.Contains(res.Header.Get("Content-Type"), "text/html") ||
			res.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: not the styled 404 page (%s):\n%s", path, res.Header.Get("Content-Type"), body)
		}
		if !strings.Contains(body, `rel="stylesheet" href="`) || !strings.Contains(body, "lobby.css") {
			t.Errorf("GET %s: the 404 page has no stylesheet:\n%s", path, body)
		}
		if strings.HasPrefix(path, "/guest/nowhere") && !strings.Contains(body, `href="`+css+`"`) {
			t.Errorf("GET %s: stylesheet is not %s:\n%s", path, css, body)
		}
	}
}
