package captive

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// fakeGate is the gate the tests decide: guests by ID, admitted when
// active, within their validity and the session is newer than their
// SessionsValidAfter; the cookie is the header "Cookie-Guest: id issued".
type fakeGate struct {
	mu     sync.Mutex
	now    time.Time
	guests map[uuid.UUID]*storage.Guest
}

func (f *fakeGate) signedIn(r *http.Request) (uuid.UUID, time.Time, bool) {
	id, issued, ok := strings.Cut(r.Header.Get("Cookie-Guest"), " ")
	if !ok {
		return uuid.Nil, time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, issued)
	return uuid.MustParse(id), at, err == nil
}

func (f *fakeGate) admitted(_ *http.Request, id uuid.UUID, issued time.Time) (*storage.Guest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.guests[id]
	if !ok || !issued.After(g.SessionsValidAfter) || !g.CanLogIn(f.now) {
		return nil, false
	}
	return g, true
}

func (f *fakeGate) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeGate) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

const ttl = 12 * time.Hour

func newTest(t *testing.T, max int) (*API, *fakeGate) {
	t.Helper()
	f := &fakeGate{now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), guests: map[uuid.UUID]*storage.Guest{}}
	a, err := New(Config{
		SignedIn: f.signedIn, Admitted: f.admitted,
		ClientIP:  func(r *http.Request) string { return strings.Split(r.RemoteAddr, ":")[0] },
		PortalURL: "https://wifi.example.com/guest/portal/", VenueURL: "https://example.com/visitors",
		SessionTTL: ttl, MaxClients: max, Now: f.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, f
}

func (f *fakeGate) add(status storage.GuestStatus, from, until time.Duration) *storage.Guest {
	g := &storage.Guest{ID: uuid.New(), Status: status, ValidFrom: f.now.Add(from), ValidUntil: f.now.Add(until)}
	f.mu.Lock()
	f.guests[g.ID] = g
	f.mu.Unlock()
	return g
}

func request(ip string, cookie string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/captive-portal/api", nil)
	r.RemoteAddr = ip + ":50000"
	if cookie != "" {
		r.Header.Set("Cookie-Guest", cookie)
	}
	return r
}

func cookie(id uuid.UUID, at time.Time) string {
	return id.String() + " " + at.Format(time.RFC3339Nano)
}

// get serves r and checks what RFC 8908 asks of every answer.
func get(t *testing.T, a *API, r *http.Request) State {
	t.Helper()
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/captive+json" {
		t.Errorf("Content-Type %q, want application/captive+json", ct)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "private" {
		t.Errorf("Cache-Control %q, want private", cc)
	}
	var raw map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, w.Body)
	}
	if _, ok := raw["captive"].(bool); !ok {
		t.Errorf("no boolean captive in %s", w.Body)
	}
	if raw["user-portal-url"] != "https://wifi.example.com/guest/portal/" || raw["venue-info-url"] != "https://example.com/visitors" {
		t.Errorf("portal and venue URLs wrong in %s", w.Body)
	}
	if v, ok := raw["can-extend-session"]; !ok || v != false {
		t.Errorf("can-extend-session is %v, want false, in %s", v, w.Body)
	}
	_, hasLeft := raw["seconds-remaining"]
	if hasLeft == raw["captive"] {
		t.Errorf("seconds-remaining must be there exactly when not captive: %s", w.Body)
	}
	var st State
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func left(st State) int64 {
	if st.SecondsRemaining == nil {
		return -1
	}
	return *st.SecondsRemaining
}

// TestState: a client the gate admits, by its cookie or by the latest
// sign-in from its address, is not captive and learns how long it has; a
// suspended, expired, signed-out or unknown one is captive.
func TestState(t *testing.T) {
	t.Parallel()
	a, f := newTest(t, 0)
	now := f.now
	active := f.add(storage.GuestActive, -time.Hour, 2*time.Hour)
	long := f.add(storage.GuestActive, -time.Hour, 48*time.Hour)
	suspended := f.add(storage.GuestSuspended, -time.Hour, 2*time.Hour)
	expired := f.add(storage.GuestActive, -3*time.Hour, -time.Minute)
	notYet := f.add(storage.GuestActive, time.Hour, 2*time.Hour)
	signedOut := f.add(storage.GuestActive, -time.Hour, 2*time.Hour)
	signedOut.SessionsValidAfter = now.Add(-time.Minute)

	issued := now.Add(-5 * time.Minute)
	a.SignedIn(request("192.0.2.1", ""), active.ID, issued)
	a.SignedIn(request("192.0.2.2", ""), suspended.ID, issued)
	a.SignedIn(request("192.0.2.3", ""), signedOut.ID, now.Add(-2*time.Minute))
	a.SignedIn(request("192.0.2.4", ""), long.ID, issued)

	for _, tc := range []struct {
		name    string
		r       *http.Request
		captive bool
		left    int64
	}{
		{"cookie, active", request("198.51.100.9", cookie(active.ID, issued)), false, int64(2 * time.Hour / time.Second)},
		{"cookie: the session ends before the validity", request("198.51.100.9", cookie(long.ID, issued)), false, int64((ttl - 5*time.Minute) / time.Second)},
		{"cookie, suspended", request("198.51.100.9", cookie(suspended.ID, issued)), true, -1},
		{"cookie, expired", request("198.51.100.9", cookie(expired.ID, issued)), true, -1},
		{"cookie, not yet valid", request("198.51.100.9", cookie(notYet.ID, issued)), true, -1},
		{"cookie, signed out since", request("198.51.100.9", cookie(signedOut.ID, now.Add(-2*time.Minute))), true, -1},
		{"cookie of a suspended guest from an admitted guest's address", request("192.0.2.1", cookie(suspended.ID, issued)), true, -1},
		{"address, active", request("192.0.2.1", ""), false, int64(2 * time.Hour / time.Second)},
		{"address, suspended", request("192.0.2.2", ""), true, -1},
		{"address, signed out since", request("192.0.2.3", ""), true, -1},
		{"anonymous", request("203.0.113.5", ""), true, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := get(t, a, tc.r)
			if st.Captive != tc.captive || left(st) != tc.left {
				t.Errorf("captive %v, seconds-remaining %d; want %v, %d", st.Captive, left(st), tc.captive, tc.left)
			}
		})
	}
}

// TestSignInFromAddress: the latest sign-in from an address counts, and only
// while its session lasts.
func TestSignInFromAddress(t *testing.T) {
	t.Parallel()
	a, f := newTest(t, 0)
	first := f.add(storage.GuestActive, -time.Hour, 72*time.Hour)
	second := f.add(storage.GuestSuspended, -time.Hour, 72*time.Hour)
	a.SignedIn(request("192.0.2.1", ""), first.ID, f.now)
	if st := get(t, a, request("192.0.2.1", "")); st.Captive || left(st) != int64(ttl/time.Second) {
		t.Fatalf("after sign-in: %+v, want not captive for the session's %s", st, ttl)
	}
	f.advance(ttl)
	if st := get(t, a, request("192.0.2.1", "")); !st.Captive {
		t.Fatal("the address still counts after the session's end")
	}
	if _, ok := a.lastSignIn("192.0.2.1"); ok {
		t.Error("the sign-in of an ended session is kept")
	}
	a.SignedIn(request("192.0.2.1", ""), first.ID, f.now)
	a.SignedIn(request("192.0.2.1", ""), second.ID, f.now)
	if st := get(t, a, request("192.0.2.1", "")); !st.Captive {
		t.Fatal("a later sign-in of a suspended guest from the same address does not count")
	}
}

// TestMaxClients: the addresses remembered stay bounded; ended sessions go
// first, then the oldest live one.
func TestMaxClients(t *testing.T) {
	t.Parallel()
	a, f := newTest(t, 3)
	g := f.add(storage.GuestActive, -time.Hour, 72*time.Hour)
	a.SignedIn(request("192.0.2.1", ""), g.ID, f.now.Add(-ttl)) // ended
	a.SignedIn(request("192.0.2.2", ""), g.ID, f.now.Add(-2*time.Hour))
	a.SignedIn(request("192.0.2.3", ""), g.ID, f.now.Add(-time.Hour))
	a.SignedIn(request("192.0.2.4", ""), g.ID, f.now)
	if _, ok := a.lastSignIn("192.0.2.1"); ok {
		t.Error("the ended session was kept over a live one")
	}
	a.SignedIn(request("192.0.2.5", ""), g.ID, f.now)
	if _, ok := a.lastSignIn("192.0.2.2"); ok {
		t.Error("the oldest live session was kept when the map was full")
	}
	for _, ip := range []string{"192.0.2.3", "192.0.2.4", "192.0.2.5"} {
		if _, ok := a.lastSignIn(ip); !ok {
			t.Errorf("%s was dropped", ip)
		}
	}
	if n := len(a.clients); n != 3 {
		t.Errorf("%d addresses kept, want at most 3", n)
	}
}

func TestMethods(t *testing.T) {
	t.Parallel()
	a, _ := newTest(t, 0)
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/captive-portal/api", nil))
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q; want 405, GET, HEAD", w.Code, w.Header().Get("Allow"))
	}
	w = httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/captive-portal/api", nil))
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Type") != ContentType {
		t.Errorf("HEAD: %d, %d bytes, %q", w.Code, w.Body.Len(), w.Header().Get("Content-Type"))
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	_, err := New(Config{PortalURL: "/portal/", VenueURL: "venue", MaxClients: -1})
	if err == nil {
		t.Fatal("New accepted an empty config")
	}
	for _, want := range []string{"SignedIn", "Admitted", "ClientIP", "PortalURL", "VenueURL", "SessionTTL", "MaxClients"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
