package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/testclock"
	"github.com/lobbyhq/lobby/internal/teststore"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// mount is where the tests mount the API: under a prefix, as Lobby does.
const mount = "/lobby/api/v1"

type bundle struct {
	store  storage.Store
	guests *guest.Service
	clock  *testclock.Clock
	srv    *httptest.Server
}

// options change a test's set-up.
type options struct {
	sender notify.Sender // a running dispatcher sends through it; nil: no dispatcher
	limit  Limit
}

// eachBackend runs fn as a parallel subtest per backend.
func eachBackend(t *testing.T, o options, fn func(t *testing.T, b *bundle)) {
	t.Helper()
	for _, name := range teststore.Backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, name, o))
		})
	}
}

// setup opens a store of backend with the guest rules (and a dispatcher
// when o.sender is set) and serves the API on it.
func setup(t testing.TB, backend string, o options) *bundle {
	t.Helper()
	clk := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	st := teststore.Open(t, backend, clk.Now)
	var mail guest.Mailer
	if o.sender != nil {
		mail = teststore.Mail(t, st, o.sender)
	}
	gs, err := guest.New(guest.Config{Store: st, Mail: mail, BaseURL: "http://lobby.test/lobby/portal", Now: clk.Now,
		Logger: slog.New(slog.DiscardHandler), Policy: guest.Policy{TimeZone: time.UTC, GuestTypes: []storage.GuestType{
			{Name: "daily", DefaultDuration: 24 * time.Hour, MaxDuration: 7 * 24 * time.Hour},
			{Name: "contractor", DefaultDuration: 7 * 24 * time.Hour, MaxDuration: 30 * 24 * time.Hour},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gs.EnsureGuestTypes(t.Context()); err != nil {
		t.Fatal(err)
	}
	limit := o.limit
	if limit.Burst == 0 {
		limit = Limit{Burst: 1000, Every: time.Millisecond}
	}
	a, err := New(Config{Guests: gs, Limit: limit, MailWait: time.Minute, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(mount+"/", http.StripPrefix(mount, a.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &bundle{store: st, guests: gs, clock: clk, srv: srv}
}

// staff creates a staff user in group (no password: the API needs none).
func (b *bundle) staff(t *testing.T, username string, role storage.Role, group string) *storage.Staff {
	t.Helper()
	st := &storage.Staff{Username: username, Email: username + "@corp.example", DisplayName: "Staff " + username,
		Role: role, PasswordHash: "$2a$04$unused", Group: group}
	if err := b.store.CreateStaff(t.Context(), st); err != nil {
		t.Fatalf("CreateStaff(%s): %v", username, err)
	}
	return st
}

// group stores a sponsor group with permissions ps.
func (b *bundle) group(t *testing.T, name string, manageAll bool, ps ...storage.Permission) {
	t.Helper()
	if err := b.store.PutSponsorGroup(t.Context(), storage.SponsorGroup{Name: name, ManageAll: manageAll, Permissions: ps}); err != nil {
		t.Fatal(err)
	}
}

// token makes an API token for st.
func (b *bundle) token(t testing.TB, st *storage.Staff, expires time.Time) (string, *storage.APIToken) {
	t.Helper()
	tok, rec, err := guest.NewAPIToken(t.Context(), b.store, guest.Actor{Staff: st}, st, "test script", expires, b.clock.Now())
	if err != nil {
		t.Fatalf("NewAPIToken(%s): %v", st.Username, err)
	}
	return tok, rec
}

// guest creates a guest sponsored by sponsor (nil: none).
func (b *bundle) guest(t *testing.T, first string, sponsor *storage.Staff, status storage.GuestStatus) *storage.Guest {
	t.Helper()
	now := b.clock.Now()
	g := &storage.Guest{Username: strings.ToLower(first) + "@guest.example", Password: "GuestSecret-" + first,
		FirstName: first, LastName: "Guest", Email: strings.ToLower(first) + "@guest.example", Company: "Acme",
		Status: status, ValidFrom: now, ValidUntil: now.Add(24 * time.Hour), GuestType: "daily"}
	if sponsor != nil {
		g.SponsorID = sponsor.ID
	}
	if err := b.store.CreateGuest(t.Context(), g); err != nil {
		t.Fatalf("CreateGuest(%s): %v", first, err)
	}
	b.clock.Advance(time.Second) // distinct creation times: a stable "newest first"
	return g
}

// resp is an answer: status, headers and body.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// problem decodes the body as a problem, failing unless it is one.
func (r resp) problem(t *testing.T) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (status %d, body %s)", ct, r.status, r.body)
	}
	var p Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %s: %v", r.body, err)
	}
	if p.Status != r.status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Errorf("problem %+v: want status %d, a type, title and detail", p, r.status)
	}
	return p
}

// decode decodes the JSON body into v.
func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
}

// call sends method path (under the mount) with token ("" for none) and
// body (nil for none; a string as it is; anything else as JSON).
func (b *bundle) call(t *testing.T, token, method, path string, body any) resp {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		buf, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+mount+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return b.send(t, req)
}

// send sends req, checks the exchange against the OpenAPI document and
// returns the answer.
func (b *bundle) send(t *testing.T, req *http.Request) resp {
	t.Helper()
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, req, res, data)
	return resp{status: res.StatusCode, header: res.Header, body: data}
}

// audit returns the audit entries about subject, newest first.
func (b *bundle) audit(t *testing.T, subject string) []storage.AuditEntry {
	t.Helper()
	es, err := b.store.ListAuditFor(t.Context(), subject, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// acceptAll is a notify.Sender that accepts every email.
type acceptAll struct{}

func (acceptAll) Send(context.Context, notify.Settings, *notify.Email) error { return nil }

// noStartTLS is a notify.Sender whose server offers no STARTTLS: a
// permanent failure with a diagnosis.
type noStartTLS struct{}

func (noStartTLS) Send(context.Context, notify.Settings, *notify.Email) error {
	return notify.ErrStartTLSUnavailable
}

// raw sends body as it is with Content-Type ctype.
func (b *bundle) raw(t *testing.T, token, method, path, ctype, body string) resp {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+mount+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+token)
	return b.send(t, req)
}

// specRouter finds a request's operation in the OpenAPI document, served
// (for the test) at http://lobby.test/api/v1.
var specRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		return nil, err
	}
	doc.Servers = openapi3.Servers{{URL: "http://lobby.test/api/v1"}}
	return legacy.NewRouter(doc)
})

// checkResponse fails t unless every answer of an operation of the
// OpenAPI document is one the document describes: its status, its
// content type and its body's schema. Answers to paths or methods the
// document does not have (404, 405) are not checked.
func checkResponse(t *testing.T, req *http.Request, res *http.Response, body []byte) {
	t.Helper()
	router, err := specRouter()
	if err != nil {
		t.Fatalf("OpenAPI router: %v", err)
	}
	vreq := req.Clone(t.Context())
	vreq.URL.Scheme, vreq.URL.Host = "http", "lobby.test"
	vreq.URL.Path = strings.TrimPrefix(req.URL.Path, strings.TrimSuffix(mount, "/api/v1"))
	vreq.Body = http.NoBody
	route, params, err := router.FindRoute(vreq)
	if err != nil {
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  res.StatusCode,
		Header:  res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(t.Context(), in); err != nil {
		t.Errorf("%s %s answered %d, not as the OpenAPI document says: %v\n%s", req.Method, vreq.URL.Path, res.StatusCode, err, body)
	}
}
