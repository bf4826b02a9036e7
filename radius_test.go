package lobby

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// radiusPost sends an Access-Request's attributes, as rlm_rest sends them,
// to the RADIUS endpoint with the Authorization header auth.
func (b *testBundle) radiusPost(t *testing.T, auth, user, password string) (int, map[string]any) {
	t.Helper()
	body := `{"User-Name":{"type":"string","value":[` + quote(user) + `]},"User-Password":{"type":"string","value":[` + quote(password) + `]}}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.srv.URL+"/guest/radius/authenticate", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return res.StatusCode, out
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestRADIUSEndpoint: /radius/ is served only with Config.RADIUSSecret,
// and then checks a registered guest's emailed credentials.
func TestRADIUSEndpoint(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123456789abcdef"
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		b := setup(t, hostNetHTTP, nil)
		if status, _ := b.radiusPost(t, "Bearer "+secret, "ada", "pw"); status != http.StatusNotFound {
			t.Errorf("without RADIUSSecret: %d, want 404", status)
		}
	})
	t.Run("on", func(t *testing.T) {
		t.Parallel()
		b := setup(t, hostNetHTTP, func(_ *testBundle, cfg *Config) { cfg.RADIUSSecret = secret })
		b.register(t, "Ada", "Lovelace", "ada@visitor.example")
		user, pw := b.credentials(t, "ada@visitor.example")
		if status, _ := b.radiusPost(t, "Bearer not-"+secret, user, pw); status != http.StatusUnauthorized {
			t.Errorf("with a wrong secret: %d, want 401", status)
		}
		status, body := b.radiusPost(t, "Bearer "+secret, user, pw)
		if status != http.StatusOK {
			t.Fatalf("a registered guest's credentials: %d %v, want 200", status, body)
		}
		// The default guest type: 24 hours from the registration.
		if st, ok := body["reply:Session-Timeout"].(float64); !ok || st < 23*3600 || st > 24*3600 {
			t.Errorf("Session-Timeout %v, want about a day", body["reply:Session-Timeout"])
		}
		if status, _ := b.radiusPost(t, "Bearer "+secret, user, pw+"x"); status != http.StatusUnauthorized {
			t.Errorf("a wrong password: %d, want 401", status)
		}
	})
	t.Run("short secret", func(t *testing.T) {
		t.Parallel()
		cfg := Config{Store: nil, BaseURL: "http://lobby.test", SecretKey: make([]byte, 32), RADIUSSecret: "short"}
		b := setup(t, hostNetHTTP, nil)
		cfg.Store = b.store
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), "RADIUSSecret") {
			t.Errorf("New with a short RADIUSSecret: %v, want an error naming it", err)
		}
	})
}
