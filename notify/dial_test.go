package notify

import (
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A token endpoint that redirects (307 keeps the method and the body) must
// not get the client secret re-posted to the new location, least of all
// over plain HTTP to another host: the redirect is refused and diagnosed.
func TestTokenRequestRefusesRedirect(t *testing.T) {
	t.Parallel()
	var leaked atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Add(1)
		http.Error(w, "should not be here", http.StatusTeapot)
	}))
	t.Cleanup(elsewhere.Close)
	endpoint := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/collect/oauth2/v2.0/token?tenant=x", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(endpoint.Close)

	s := testSettings()
	s.TokenEndpointBase = endpoint.URL
	s.TrustedCAPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: endpoint.Certificate().Raw}))
	s = s.WithDefaults()

	for name, fetch := range map[string]func() error{
		"cache": func() error {
			c := NewTokenCache(TokenCacheOptions{})
			defer c.Close()
			_, _, err := c.Token(ctxT(t), s)
			return err
		},
		"connection test": func() error { _, err := fetchToken(ctxT(t), s, slog.New(slog.DiscardHandler)); return err },
	} {
		err := fetch()
		if err == nil {
			t.Fatalf("%s: token request through a redirect succeeded", name)
		}
		d := Diagnose(err)
		if d.Code != CodeTokenRequestFailed || d.Temporary {
			t.Errorf("%s: Diagnose(%v) = %+v, want permanent %s", name, err, d, CodeTokenRequestFailed)
		}
		if want := "the token endpoint redirected to " + elsewhere.URL; d.Detail != want {
			t.Errorf("%s: Detail %q, want %q (scheme and host only)", name, d.Detail, want)
		}
		if strings.Contains(d.String(), "collect") || strings.Contains(d.String(), testClientSecret) {
			t.Errorf("%s: diagnosis shows more than the redirect's host: %s", name, d)
		}
	}
	if n := leaked.Load(); n != 0 {
		t.Errorf("the redirect target got %d request(s): the client secret left for another host", n)
	}
}
