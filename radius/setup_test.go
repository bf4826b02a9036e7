package radius

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/testclock"
	"github.com/lobbyhq/lobby/internal/teststore"
	"github.com/lobbyhq/lobby/storage"
)

// testSecret is the shared secret of the test endpoints.
const testSecret = "s3cret-for-the-tests-only"

// bundle is one test's endpoint on a fresh store, with its guest rules
// and clock.
type bundle struct {
	store  storage.Store
	guests *guest.Service
	clock  *testclock.Clock
	srv    *httptest.Server
}

// eachBackend runs fn as a parallel subtest on a fresh bundle of SQLite
// and of Postgres (skipped without LOBBY_TEST_DATABASE_URL).
func eachBackend(t *testing.T, fn func(t *testing.T, b *bundle)) {
	t.Helper()
	for _, backend := range teststore.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, backend))
		})
	}
}

func setup(t *testing.T, backend string) *bundle {
	t.Helper()
	clk := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	st := teststore.Open(t, backend, clk.Now)
	for _, gt := range []storage.GuestType{
		{Name: "daily", DefaultDuration: 24 * time.Hour, MaxDuration: 7 * 24 * time.Hour},
		{Name: "conference", DefaultDuration: 3 * 24 * time.Hour, MaxDuration: 30 * 24 * time.Hour, FromFirstSignIn: true},
	} {
		if err := st.PutGuestType(t.Context(), gt); err != nil {
			t.Fatal(err)
		}
	}
	gs, err := guest.New(guest.Config{Store: st, BaseURL: "http://lobby.test/portal", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Guests: gs, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/radius", h))
	t.Cleanup(srv.Close)
	return &bundle{store: st, guests: gs, clock: clk, srv: srv}
}

// guest stores a guest of status valid from from to until (relative to
// the clock), with the password "pw-<username>".
func (b *bundle) guest(t *testing.T, username string, status storage.GuestStatus, from, until time.Duration, guestType string) *storage.Guest {
	t.Helper()
	now := b.clock.Now()
	g := &storage.Guest{ID: uuid.New(), Username: username, Password: "pw-" + username, FirstName: "Ada", LastName: "Visitor",
		Email: username + "@visitor.example", GuestType: guestType, Status: status, ValidFrom: now.Add(from), ValidUntil: now.Add(until)}
	if err := b.store.CreateGuest(t.Context(), g); err != nil {
		t.Fatalf("create guest %s: %v", username, err)
	}
	return g
}

// answer is the endpoint's answer.
type answer struct {
	Status int
	Body   map[string]any
}

// post sends body to path with the Authorization header auth ("" for none).
func (b *bundle) post(t *testing.T, path, auth string, body any) answer {
	t.Helper()
	var raw []byte
	switch v := body.(type) {
	case string:
		raw = []byte(v)
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{Status: res.StatusCode}
	if len(bytes.TrimSpace(data)) > 0 {
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s answered %d with Content-Type %q, want application/json (rlm_rest decodes it)", path, res.StatusCode, ct)
		}
		if err := json.Unmarshal(data, &a.Body); err != nil {
			t.Fatalf("%s answered %d with %q, not a JSON object: %v", path, res.StatusCode, data, err)
		}
	}
	return a
}

// rlmRest is a request body as rlm_rest sends it with body = 'json'.
func rlmRest(attrs map[string]any) map[string]any {
	out := map[string]any{}
	for name, v := range attrs {
		typ := "string"
		if _, ok := v.(int); ok {
			typ = "integer"
		}
		out[name] = map[string]any{"type": typ, "value": []any{v}}
	}
	return out
}

// authenticate sends an Access-Request's attributes for user and password.
func (b *bundle) authenticate(t *testing.T, user, password string) answer {
	t.Helper()
	return b.post(t, "/radius/authenticate", "Bearer "+testSecret, rlmRest(map[string]any{
		"User-Name": user, "User-Password": password, "NAS-IP-Address": "192.0.2.10", "NAS-Port": 0,
		"Calling-Station-Id": "02-00-00-00-00-01",
	}))
}

// audited returns the audit entries of action.
func (b *bundle) audited(t *testing.T, action string) []storage.AuditEntry {
	t.Helper()
	all, err := b.store.ListAudit(t.Context(), 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.AuditEntry
	for _, e := range all {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}
