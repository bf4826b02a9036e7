//go:build integration

package integration

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// TestRADIUSFreeRADIUS puts Lobby behind the real FreeRADIUS with the
// shipped configuration (deploy/freeradius) and signs guests in with
// radtest as a wireless controller would (PAP): an active guest is
// accepted with Session-Timeout set to the rest of their validity; a wrong
// password, a suspended guest and an expired one are rejected, with the
// reason in the audit log. Accounting Start and Stop reach the audit log.
func TestRADIUSFreeRADIUS(t *testing.T) {
	progs := radiusFindPrograms(t)
	lb := radiusStartLobby(t)
	fr := radiusStartFreeRADIUS(t, progs, lb.URL, lb.Secret)
	ctx := t.Context()

	now := time.Now().UTC().Truncate(time.Second)
	guests := map[string]*storage.Guest{}
	for _, g := range []struct {
		name   string
		status storage.GuestStatus
		from   time.Time
		until  time.Time
	}{
		{"active", storage.GuestActive, now.Add(-time.Hour), now.Add(2*time.Hour + 17*time.Minute)},
		{"suspended", storage.GuestSuspended, now.Add(-time.Hour), now.Add(2 * time.Hour)},
		{"expired", storage.GuestExpired, now.Add(-3 * time.Hour), now.Add(-time.Hour)},
		{"lapsed", storage.GuestActive, now.Add(-3 * time.Hour), now.Add(-time.Minute)}, // active, but past its validity
	} {
		rec := &storage.Guest{ID: uuid.New(), Username: "radius-" + g.name, Password: "Pw" + radiusRandom(t)[:10],
			FirstName: "Ada", LastName: strings.ToUpper(g.name[:1]) + g.name[1:], Email: g.name + "@visitor.example",
			GuestType: "daily", Status: g.status, ValidFrom: g.from, ValidUntil: g.until}
		if err := lb.store.CreateGuest(ctx, rec); err != nil {
			t.Fatalf("create guest %s: %v", g.name, err)
		}
		guests[g.name] = rec
	}

	t.Run("accept", func(t *testing.T) {
		g := guests["active"]
		r := radiusTest(t, progs, fr, g.Username, g.Password)
		if r.Code != "Access-Accept" {
			t.Fatalf("got %q, want Access-Accept; radtest said:\n%s", r.Code, r.Out)
		}
		got, err := strconv.Atoi(r.Attrs["Session-Timeout"])
		if err != nil {
			t.Fatalf("Session-Timeout %q is not a number; radtest said:\n%s", r.Attrs["Session-Timeout"], r.Out)
		}
		want := int(time.Until(g.ValidUntil) / time.Second)
		if got < want-5 || got > want+5 {
			t.Errorf("Session-Timeout = %d s, want the remaining validity, %d s (± 5)", got, want)
		}
	})

	for _, c := range []struct {
		name, user, password, reason string
	}{
		{"wrong password", guests["active"].Username, "not-the-password", "wrong_password"},
		{"unknown user", "nobody-here", "whatever-it-is", "unknown_user"},
		{"suspended", guests["suspended"].Username, guests["suspended"].Password, "suspended"},
		{"expired", guests["expired"].Username, guests["expired"].Password, "expired"},
		{"past its validity", guests["lapsed"].Username, guests["lapsed"].Password, "expired"},
	} {
		t.Run("reject "+c.name, func(t *testing.T) {
			r := radiusTest(t, progs, fr, c.user, c.password)
			if r.Code != "Access-Reject" {
				t.Fatalf("got %q, want Access-Reject; radtest said:\n%s", r.Code, r.Out)
			}
			if _, ok := r.Attrs["Session-Timeout"]; ok {
				t.Errorf("a reject carries Session-Timeout %s", r.Attrs["Session-Timeout"])
			}
			if !radiusAudited(t, lb, "guest.network_reject", c.reason) {
				t.Errorf("no guest.network_reject audit entry with the reason %q", c.reason)
			}
		})
	}

	t.Run("accounting", func(t *testing.T) {
		g := guests["active"]
		start := radiusAccounting(t, progs, fr, "User-Name = "+g.Username+", Acct-Status-Type = Start, Acct-Session-Id = \"sess-1\", Calling-Station-Id = \"02-00-00-00-00-01\"")
		if start.Code != "Accounting-Response" {
			t.Fatalf("Start: got %q, want Accounting-Response; radclient said:\n%s", start.Code, start.Out)
		}
		stop := radiusAccounting(t, progs, fr, "User-Name = "+g.Username+", Acct-Status-Type = Stop, Acct-Session-Id = \"sess-1\", "+
			"Acct-Session-Time = 600, Acct-Input-Octets = 1000, Acct-Output-Octets = 2000, Acct-Input-Gigawords = 1, Acct-Terminate-Cause = User-Request")
		if stop.Code != "Accounting-Response" {
			t.Fatalf("Stop: got %q, want Accounting-Response; radclient said:\n%s", stop.Code, stop.Out)
		}
		if !radiusAudited(t, lb, "guest.network_session_start", "session sess-1") {
			t.Error("no guest.network_session_start audit entry for sess-1")
		}
		if !radiusAudited(t, lb, "guest.network_session_stop", "10m0s, 4294968296 bytes in, 2000 bytes out") {
			t.Error("no guest.network_session_stop audit entry with the session's totals")
		}
	})
}

// TestRADIUSFreeRADIUSMisconfigured: FreeRADIUS with another secret than
// Lobby's, or with Lobby unreachable, starts and rejects everyone.
func TestRADIUSFreeRADIUSMisconfigured(t *testing.T) {
	progs := radiusFindPrograms(t)
	lb := radiusStartLobby(t)
	now := time.Now().UTC().Truncate(time.Second)
	g := &storage.Guest{ID: uuid.New(), Username: "radius-active", Password: "Pw" + radiusRandom(t)[:10], FirstName: "Ada",
		LastName: "Active", Email: "active@visitor.example", GuestType: "daily", Status: storage.GuestActive,
		ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(time.Hour)}
	if err := lb.store.CreateGuest(t.Context(), g); err != nil {
		t.Fatal(err)
	}

	t.Run("another secret", func(t *testing.T) {
		fr := radiusStartFreeRADIUS(t, progs, lb.URL, radiusRandom(t))
		if r := radiusTest(t, progs, fr, g.Username, g.Password); r.Code != "Access-Reject" {
			t.Fatalf("got %q, want Access-Reject; radtest said:\n%s", r.Code, r.Out)
		}
		if radiusAudited(t, lb, "guest.network_login", "") {
			t.Error("a request with another secret signed the guest in")
		}
	})
	t.Run("Lobby unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + ln.Addr().String()
		ln.Close()
		fr := radiusStartFreeRADIUS(t, progs, closed, lb.Secret)
		if r := radiusTest(t, progs, fr, g.Username, g.Password); r.Code != "Access-Reject" {
			t.Fatalf("got %q, want Access-Reject; radtest said:\n%s", r.Code, r.Out)
		}
	})
}

// radiusAudited reports whether the audit log has an entry of action whose
// detail holds want.
func radiusAudited(t *testing.T, lb *radiusLobby, action, want string) bool {
	t.Helper()
	entries, err := lb.store.ListAudit(t.Context(), 0, 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action == action && strings.Contains(e.Detail, want) {
			return true
		}
	}
	return false
}
