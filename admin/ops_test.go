package admin

import (
	"context"
	"github.com/lobbyhq/lobby/guest"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/testclock"
	"github.com/lobbyhq/lobby/internal/teststore"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// The tests of the operations pages (alarms, mail log, staff, groups,
// audit, export): no dispatcher runs, so that the outbox holds still; the
// Mailer records what Retry now hands it.

// stubMailer is a Mailer with Track; it sends nothing.
type stubMailer struct {
	mu      sync.Mutex
	tracked []uuid.UUID
}

func (m *stubMailer) Submit(context.Context, notify.Message) *notify.Future { return nil }

func (m *stubMailer) Track(id uuid.UUID) *notify.Future {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tracked = append(m.tracked, id)
	return nil
}

func (m *stubMailer) Tracked() []uuid.UUID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]uuid.UUID(nil), m.tracked...)
}

// quietSetup serves the admin side on a store of backend with no
// dispatcher: mod may change the Config.
func quietSetup(t testing.TB, backend string, mod func(*Config)) (*bundle, *stubMailer) {
	t.Helper()
	clk := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	b := &bundle{clock: clk, logs: &logBuffer{}}
	b.store = teststore.Open(t, backend, time.Now)
	m := &stubMailer{}
	guests, err := guest.New(guest.Config{Store: b.store, BaseURL: "http://lobby.test/lobby/portal",
		Logger: slog.New(slog.DiscardHandler), Policy: guest.Policy{TimeZone: time.UTC}})
	if err != nil {
		t.Fatal(err)
	}
	b.guests = guests
	cfg := Config{Store: b.store, Guests: guests, Staff: testStaff{b.store}, SignInURL: signIn, SignOutURL: "/lobby/sponsor/logout", BaseURL: "http://lobby.test" + mount,
		SecretKey: []byte(strings.Repeat("k", 32)), Now: clk.Now, TimeZone: time.UTC,
		Logger: slog.New(slog.NewTextHandler(b.logs, nil)), Mail: m,
		// The real settings file is the root package's, tested with these
		// pages there.
		ExportSettings: func(context.Context) ([]byte, error) { return []byte(`{"version": 1}`), nil }}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.admin = a
	mux := http.NewServeMux()
	mux.Handle(mount+"/", http.StripPrefix(mount, a.Handler()))
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b, m
}

// eachQuiet runs fn as a parallel subtest per backend on a quietSetup.
func eachQuiet(t *testing.T, fn func(t *testing.T, b *bundle, m *stubMailer)) {
	t.Helper()
	for _, name := range teststore.Backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, m := quietSetup(t, name, nil)
			fn(t, b, m)
			if t.Failed() {
				t.Logf("the log:\n%s", b.logs.String())
			}
		})
	}
}

// opsGets and opsPosts are the operations pages' addresses ({id} a staff
// user's or a message's ID).
var (
	opsGets  = []string{"/alarms", "/alarms?show=cleared", "/mail", "/mail/{mail}", "/staff", "/staff/new", "/staff/{staff}", "/groups", "/groups/edit", "/audit", "/export", "/export/settings.json"}
	opsPosts = []string{"/alarms/ack", "/mail/{mail}/retry", "/staff/new", "/staff/{staff}/disable", "/staff/{staff}/group", "/staff/{staff}/password",
		"/staff/{staff}/delete", "/groups/edit", "/groups/delete", "/export/import"}
)

func TestOpsPagesNeedAnAdmin(t *testing.T) {
	t.Parallel()
	eachQuiet(t, func(t *testing.T, b *bundle, _ *stubMailer) {
		b.staff(t, "sally", storage.RoleSponsor)
		ada := b.staff(t, "ada", storage.RoleAdmin)
		msg := b.enqueue(t, "x@example.com", "Hello", "guest.credentials", nil)
		fill := strings.NewReplacer("{mail}", msg.String(), "{staff}", ada.ID.String())
		for _, p := range opsGets {
			p = fill.Replace(p)
			r := b.client(t, "").get(p)
			if want := signIn + "?return=" + url.QueryEscape(mount+p); r.status != http.StatusSeeOther || r.location != want {
				t.Errorf("stranger GET %s = %d %q, want 303 to %q", p, r.status, r.location, want)
			}
			if r := b.client(t, "sally").get(p); r.status != http.StatusForbidden || !strings.Contains(r.body, "Administrators only") {
				t.Errorf("sponsor GET %s = %d, want 403", p, r.status)
			}
			if r := b.client(t, "ada").get(p); r.status != http.StatusOK {
				t.Errorf("admin GET %s = %d:\n%s", p, r.status, r.body)
			}
		}
		sally := b.client(t, "sally")
		sally.get("/alarms")
		tok := ""
		u, _ := url.Parse(b.srv.URL + "/")
		for _, c := range sally.http.Jar.Cookies(u) {
			if c.Name == "lobby_csrf" {
				tok = c.Value
			}
		}
		c := b.client(t, "ada")
		for _, p := range opsPosts {
			p = fill.Replace(p)
			if r := sally.post(p, tok, nil); tok == "" || r.status != http.StatusForbidden || !strings.Contains(r.body, "Administrators only") {
				t.Errorf("sponsor POST %s = %d, want 403", p, r.status)
			}
			if r := c.post(p, "", url.Values{"x": {"1"}}); r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
				t.Errorf("admin POST %s without the CSRF token = %d, want 403", p, r.status)
			}
		}
		if got, _ := b.store.GetStaff(t.Context(), ada.ID); got == nil || got.Disabled {
			t.Errorf("a refused post changed ada: %+v", got)
		}
	})
}

// enqueue puts a message in the outbox (no dispatcher sends it).
func (b *bundle) enqueue(t testing.TB, to, subject, kind string, payload []byte) uuid.UUID {
	t.Helper()
	if payload == nil {
		payload = []byte("payload of " + subject)
	}
	m := &storage.OutboxMessage{Kind: kind, Recipient: to, Subject: subject, Payload: payload}
	if err := b.store.EnqueueMail(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	return m.ID
}
