package lobby

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/notify/exchangetest/devmail"
)

// devMailSettings are the SMTP settings that send through the test's
// emulator.
func devMailSettings(srv *exchangetest.Server) notify.Settings { return devmail.Settings(srv) }

// devMailbox is the emulator's captured mailbox as Config.DevMailbox, wired
// the way lobby serve --dev wires it.
func devMailbox(srv *exchangetest.Server) DevMailbox {
	return DevMailboxFunc(func() []DevMessage {
		msgs := srv.Messages()
		out := make([]DevMessage, 0, len(msgs))
		for _, m := range msgs {
			body, err := m.Body()
			if err == nil && !body.HasText {
				err = exchangetest.ErrNoTextPart
			}
			out = append(out, DevMessage{ReceivedAt: m.ReceivedAt, From: m.From, To: m.To, Subject: m.Subject,
				Text: body.Text, HasHTML: body.HasHTML, DecodeErr: err})
		}
		return out
	})
}

// textBody is the plain-text body of a raw message Lobby sent.
func textBody(raw []byte) (string, error) { return exchangetest.TextBody(raw) }

// TestDevMailboxLoopbackHostOnly: the mailbox page answers only requests
// whose Host is a loopback name or address (or the base URL's host), so
// that a page on another site cannot read it through DNS rebinding.
func TestDevMailboxLoopbackHostOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) {
		s := devMailSettings(b.emu)
		cfg.DevMailbox = devMailbox(b.emu)
		cfg.MailSettings = func(context.Context) (notify.Settings, error) { return s, nil }
		cfg.BaseURL = "http://lobby.test:8080/guest"
	})
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.1", true},
		{"127.1.2.3:8080", true},
		{"localhost:8080", true},
		{"LOCALHOST", true},
		{"[::1]:8080", true},
		{"[::1]", true},
		{"lobby.test:8080", true}, // the base URL's host
		{"lobby.test", false},     // not the base URL's port
		{"evil.example:8080", false},
		{"evil.example", false},
		{"localhost.evil.example:8080", false},
		{"127.0.0.1.evil.example", false},
		{"192.168.1.10:8080", false},
		{"[::ffff:8.8.8.8]:8080", false},
		{"0.0.0.0:8080", false},
	} {
		req, err := http.NewRequest("GET", b.srv.URL+"/guest/dev/mailbox", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tc.host
		res, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got := res.StatusCode == http.StatusOK && strings.Contains(string(body), "Development mailbox")
		if got != tc.ok {
			t.Errorf("Host %q: %d, served the mailbox %v, want %v", tc.host, res.StatusCode, got, tc.ok)
		}
		if !tc.ok && res.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host %q: %d, want 421", tc.host, res.StatusCode)
		}
	}
}

// TestDevMailboxAnyCatcher: the page lists whatever the DevMailbox gives,
// newest first, escaped, and says so when a body could not be decoded; it
// needs no emulator.
func TestDevMailboxAnyCatcher(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	box := DevMailboxFunc(func() []DevMessage {
		return []DevMessage{
			{ReceivedAt: at, From: "lobby@example.org", To: []string{"a@example.org", "b@example.org"},
				Subject: "Older <b>one</b>", Text: "older text & more"},
			{ReceivedAt: at.Add(time.Minute), From: "lobby@example.org", To: []string{"c@example.org"},
				Subject: "Newer", HasHTML: true, DecodeErr: errors.New("bad base64")},
		}
	})
	b := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) { cfg.DevMailbox = box })
	res, body := b.get(t, "/guest/dev/mailbox")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /dev/mailbox: %d", res.StatusCode)
	}
	for _, s := range []string{
		"a@example.org, b@example.org", "Older &lt;b&gt;one&lt;/b&gt;", "older text &amp; more",
		"2026-03-04 05:06:07 UTC", "(the text body could not be decoded: bad base64)",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("mailbox page lacks %q:\n%s", s, body)
		}
	}
	if i, j := strings.Index(body, "Newer"), strings.Index(body, "Older"); i < 0 || j < 0 || i > j {
		t.Errorf("the mailbox is not newest first (newer at %d, older at %d)", i, j)
	}
}
