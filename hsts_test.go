package lobby

import (
	"testing"

	"github.com/lobbyhq/lobby/internal/webkit"
)

// TestHSTSUnderHTTPSBaseURL: with an https base URL every answer of Lobby
// (portal pages, static files, health checks, redirects) carries
// Strict-Transport-Security; with an http one none does.
func TestHSTSUnderHTTPSBaseURL(t *testing.T) {
	t.Parallel()
	paths := []string{"/guest/", "/guest/portal/register", "/guest/healthz", "/guest/admin/", "/guest/no-such-page"}
	secure := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) { cfg.BaseURL = "https://wifi.example.com/guest" })
	for _, p := range paths {
		res, _ := secure.get(t, p)
		if got := res.Header.Get("Strict-Transport-Security"); got != webkit.HSTSValue {
			t.Errorf("GET %s (https base URL): %d, Strict-Transport-Security %q, want %q", p, res.StatusCode, got, webkit.HSTSValue)
		}
	}
	plain := setup(t, hostNetHTTP, nil)
	for _, p := range paths {
		res, _ := plain.get(t, p)
		if got := res.Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("GET %s (http base URL): Strict-Transport-Security %q, want none", p, got)
		}
	}
}
