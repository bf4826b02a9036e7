package portal

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestOnSignIn: Config.OnSignIn hears of a sign-in by "Sign in now" with
// the guest and the issue time of the session the browser got, and the
// client's address as the portal takes it.
func TestOnSignIn(t *testing.T) {
	t.Parallel()
	type heard struct {
		ip     string
		id     uuid.UUID
		issued time.Time
	}
	var (
		mu   sync.Mutex
		got  []heard
		port *Portal
	)
	b := setup(t, func(c *Config) {
		c.Policy.ShowCredentials = true
		c.Policy.SuccessWait = time.Millisecond
		c.OnSignIn = func(r *http.Request, id uuid.UUID, issued time.Time) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, heard{port.ClientIP(r), id, issued})
		}
	})
	port = b.portal
	c := b.client(t)
	loc, body := registerShown(t, b, c, "ada@example.com", "")
	f, ok := findSignInNow(t, loc, body)
	if !ok {
		t.Fatalf("no Sign in now form on the success page:\n%s", body)
	}
	if r := c.postSignInNow(f.action, f.csrf, f.ret); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("Sign in now: %d\n%s", r.StatusCode, r.body)
	}
	g := b.guests(t)[0]
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+mount+"/account", nil)
	for _, ck := range c.jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	id, issued, ok := b.portal.SignedIn(req)
	if !ok || id != g.ID {
		t.Fatalf("the browser's session is %v %v, want the guest %v", id, ok, g.ID)
	}
	mu.Lock()
	defer mu.Unlock()
	want := heard{"127.0.0.1", g.ID, issued}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("OnSignIn heard %+v, want once %+v", got, want)
	}
}
