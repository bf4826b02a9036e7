package guest

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// NetworkOutcome is what AuthenticateNetwork decided about a sign-in to the
// network (a wireless controller checking a guest's portal credentials).
type NetworkOutcome string

// Outcomes of AuthenticateNetwork. Every one but NetworkAccept is a reject.
const (
	NetworkAccept        NetworkOutcome = "accept"
	NetworkUnknown       NetworkOutcome = "unknown_user"   // no guest of that username or email
	NetworkWrongPassword NetworkOutcome = "wrong_password" // the guest exists, the password is not theirs
	NetworkPending       NetworkOutcome = "pending"        // waiting for a sponsor's approval
	NetworkSuspended     NetworkOutcome = "suspended"
	NetworkDenied        NetworkOutcome = "denied"
	NetworkExpired       NetworkOutcome = "expired"       // expired, or past the end of their validity
	NetworkNotYetValid   NetworkOutcome = "not_yet_valid" // before the start of their validity
)

// Message is what a network device may show the guest for o (a RADIUS
// Reply-Message): the same words for an unknown user and a wrong password.
func (o NetworkOutcome) Message() string {
	switch o {
	case NetworkAccept:
		return ""
	case NetworkPending:
		return "Your registration is still waiting for approval."
	case NetworkSuspended:
		return "Your access has been suspended. Ask the person you are visiting."
	case NetworkDenied:
		return "Your registration was not approved."
	case NetworkExpired:
		return "Your access has expired. Ask the person you are visiting to extend it."
	case NetworkNotYetValid:
		return "Your access has not started yet."
	}
	return "The username or password is not right. Check the email we sent you."
}

// NetworkClient says where a network sign-in or session comes from, for
// the log and the audit log. Every field is optional.
type NetworkClient struct {
	NAS     string // the network device: its NAS-Identifier or NAS-IP-Address
	Station string // the guest's device: its Calling-Station-Id (a MAC address)
}

func (c NetworkClient) String() string {
	var parts []string
	if c.NAS != "" {
		parts = append(parts, "nas "+c.NAS)
	}
	if c.Station != "" {
		parts = append(parts, "device "+c.Station)
	}
	return strings.Join(parts, ", ")
}

// NetworkAuth is the outcome of AuthenticateNetwork.
type NetworkAuth struct {
	Outcome NetworkOutcome
	// Guest is the guest the username named (as stored after the sign-in
	// when accepted), nil for NetworkUnknown.
	Guest *storage.Guest
	// Remaining is how long an accepted guest's access lasts from now (at
	// least a second); zero for a reject.
	Remaining time.Duration
}

// maxNetworkName bounds the username recorded for an unknown user.
const maxNetworkName = 64

// AuthenticateNetwork checks a guest's portal credentials for the network,
// by the same rules as the portal's sign-in: username (or email) and
// password, then an active guest within their validity. An accepted
// sign-in counts as the guest's first sign-in when it is one (a guest type
// that counts its validity from it starts it), and Remaining says how long
// the access lasts. Every outcome is logged and audited
// (guest.network_login, guest.network_reject with the reason); the
// password never is. The error is for a store that failed: the caller
// then rejects.
func (s *Service) AuthenticateNetwork(ctx context.Context, username, password string, from NetworkClient) (NetworkAuth, error) {
	g, err := s.networkGuest(ctx, username)
	if err != nil {
		return NetworkAuth{}, fmt.Errorf("guest: network sign-in: %w", err)
	}
	// Compare even when there is no such guest, against a stand-in, so
	// that both cases take the same time.
	want := "\x00no such guest\x00"
	if g != nil {
		want = g.Password
	}
	match := subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1 && password != ""
	now := s.now()
	out := NetworkAuth{Guest: g}
	switch {
	case g == nil:
		out.Outcome = NetworkUnknown
	case !match:
		out.Outcome = NetworkWrongPassword
	case g.Status == storage.GuestPending:
		out.Outcome = NetworkPending
	case g.Status == storage.GuestSuspended:
		out.Outcome = NetworkSuspended
	case g.Status == storage.GuestDenied:
		out.Outcome = NetworkDenied
	case g.Status == storage.GuestExpired, g.Status == storage.GuestActive && !now.Before(g.ValidUntil):
		out.Outcome = NetworkExpired
	case g.Status == storage.GuestActive && now.Before(g.ValidFrom):
		out.Outcome = NetworkNotYetValid
	case g.CanLogIn(now):
		out.Outcome = NetworkAccept
	default:
		return NetworkAuth{}, fmt.Errorf("guest: network sign-in: guest %s has the unknown status %q", g.ID, g.Status)
	}

	if out.Outcome != NetworkAccept {
		s.auditNetwork(ctx, username, g, "guest.network_reject", joinDetail(string(out.Outcome), from.String()))
		args := []any{"reason", string(out.Outcome)}
		if g != nil {
			args = append(args, "guest_id", g.ID)
		}
		if from.NAS != "" {
			args = append(args, "nas", from.NAS)
		}
		if from.Station != "" {
			args = append(args, "station", from.Station)
		}
		s.log.InfoContext(ctx, "guest network sign-in rejected", args...)
		return out, nil
	}

	// The first sign-in may start the validity (and so change it). When it
	// cannot be recorded the guest is refused (the caller answers with an
	// error, which FreeRADIUS turns into a reject): for a type counted from
	// the first sign-in, ValidUntil is still the whole sign-in window, and
	// accepting would hand out a Session-Timeout of that window. Only a
	// first sign-in writes, so later ones do not depend on the store.
	got, err := s.SignedIn(ctx, g)
	if err != nil {
		return NetworkAuth{}, fmt.Errorf("guest: network sign-in: record the first sign-in of guest %s: %w", g.ID, err)
	}
	out.Guest = got
	out.Remaining = max(out.Guest.ValidUntil.Sub(now), time.Second)
	s.auditNetwork(ctx, username, out.Guest, "guest.network_login",
		joinDetail(fmt.Sprintf("valid until %s", out.Guest.ValidUntil.UTC().Format(time.RFC3339)), from.String()))
	s.log.InfoContext(ctx, "guest network sign-in accepted", "guest_id", g.ID, "remaining_s", int64(out.Remaining/time.Second),
		"nas", from.NAS, "station", from.Station)
	return out, nil
}

// NetworkSession is a RADIUS accounting record of a guest's network
// session.
type NetworkSession struct {
	Username string
	// Status is the record's Acct-Status-Type: "Start", "Stop",
	// "Interim-Update", "Accounting-On", ...; only Start and Stop are
	// recorded.
	Status    string
	SessionID string // Acct-Session-Id
	From      NetworkClient
	// Duration, InputOctets, OutputOctets and TerminateCause are a Stop
	// record's totals.
	Duration                  time.Duration
	InputOctets, OutputOctets uint64
	TerminateCause            string
}

// RecordNetworkSession records the start and the end of a guest's network
// session in the audit log (guest.network_session_start,
// guest.network_session_stop with the totals); other records are
// acknowledged and not kept. A username no guest has is recorded as it came.
func (s *Service) RecordNetworkSession(ctx context.Context, rec NetworkSession) error {
	var action string
	switch strings.ToLower(rec.Status) {
	case "start":
		action = "guest.network_session_start"
	case "stop":
		action = "guest.network_session_stop"
	default:
		return nil
	}
	g, err := s.networkGuest(ctx, rec.Username)
	if err != nil {
		return fmt.Errorf("guest: network session: %w", err)
	}
	detail := joinDetail("session "+rec.SessionID, rec.From.String())
	if action == "guest.network_session_stop" {
		detail = joinDetail(detail, fmt.Sprintf("%s, %d bytes in, %d bytes out", rec.Duration.Round(time.Second), rec.InputOctets, rec.OutputOctets))
		if rec.TerminateCause != "" {
			detail = joinDetail(detail, "cause "+rec.TerminateCause)
		}
	}
	e := networkAudit(rec.Username, g, action, detail)
	if err := s.store.Audit(ctx, e); err != nil {
		return fmt.Errorf("guest: network session: record it: %w", err)
	}
	return nil
}

// auditNetwork records a network sign-in, warning when it cannot.
func (s *Service) auditNetwork(ctx context.Context, username string, g *storage.Guest, action, detail string) {
	if err := s.store.Audit(ctx, networkAudit(username, g, action, detail)); err != nil {
		s.log.WarnContext(ctx, "guest: audit network sign-in", "action", action, "error", err.Error())
	}
}

// networkAudit is the audit entry of a network event about g, or about a
// username no guest has.
func networkAudit(username string, g *storage.Guest, action, detail string) storage.AuditEntry {
	if g != nil {
		return storage.AuditEntry{Actor: "guest:" + g.Username, Action: action, Subject: g.ID.String(), Detail: detail}
	}
	name := strings.TrimSpace(username)
	if r := []rune(name); len(r) > maxNetworkName {
		name = string(r[:maxNetworkName]) + "…"
	}
	return storage.AuditEntry{Actor: "system", Action: action, Detail: joinDetail(fmt.Sprintf("username %q", name), detail)}
}

// joinDetail joins the non-empty parts with "; ".
func joinDetail(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}

// networkGuest finds the guest a network device names: by username, or by
// email when the name looks like one. No such guest (or no name) is a nil
// guest, not an error.
func (s *Service) networkGuest(ctx context.Context, username string) (*storage.Guest, error) {
	name := strings.ToLower(strings.TrimSpace(username))
	if name == "" {
		return nil, nil
	}
	g, err := s.store.GetGuestByUsername(ctx, name)
	if errors.Is(err, storage.ErrNotFound) && strings.Contains(name, "@") {
		g, err = s.store.GetGuestByEmail(ctx, name)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the guest: %w", err)
	}
	return g, nil
}
