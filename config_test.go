package lobby

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/portal"
)

// TestNewReportsEveryProblem: New names every bad field at once.
func TestNewReportsEveryProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"empty", Config{}, []string{"Store is required", "SecretKey must be 32 bytes, got 0", "BaseURL is required"}},
		{"relative base URL", Config{BaseURL: "wifi.example.com/guest"}, []string{`BaseURL "wifi.example.com/guest" is not an absolute http(s) URL`}},
		{"other scheme", Config{BaseURL: "ftp://wifi.example.com/guest"}, []string{"is not an absolute http(s) URL"}},
		{"query", Config{BaseURL: "https://wifi.example.com/guest?x=1"}, []string{"must not have a query or fragment"}},
		{"short key", Config{SecretKey: make([]byte, 16)}, []string{"SecretKey must be 32 bytes, got 16"}},
		{"negative limit", Config{Limits: portal.Limits{Login: portal.Limit{Burst: -1}, Resend: portal.Limit{Every: -time.Second}}},
			[]string{"Limits.Login cannot be negative", "Limits.Resend cannot be negative"}},
		{"too many mail workers", Config{MailWorkers: 1000}, []string{"MailWorkers must be between 0 (the default, 3) and 256, got 1000"}},
		{"guest cache too long", Config{GuestCacheTTL: 2 * time.Second}, []string{"GuestCacheTTL must be between 0 (off) and 1s, got 2s"}},
		{"guest cache negative", Config{GuestCacheTTL: -time.Second}, []string{"GuestCacheTTL must be between 0 (off) and 1s, got -1s"}},
		{"alarm settings", Config{AlarmRecipients: []string{"noc@corp.example", "IT <it@corp.example>", "nope"}, DeliveryAlarmAfter: -time.Minute},
			[]string{`AlarmRecipients "IT <it@corp.example>" is not an email address`, `AlarmRecipients "nope" is not an email address`,
				"DeliveryAlarmAfter cannot be negative"}},
		{"integrations", Config{ForwardAuthHosts: []string{"wifi.example.com", "https://app.example.com/"}, CaptiveVenueURL: "example.com/visitors"},
			[]string{`ForwardAuthHosts "https://app.example.com/" is not a host name or host:port`,
				`CaptiveVenueURL "example.com/visitors" is not an absolute http(s) URL`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := New(tc.cfg)
			if err == nil {
				l.Close()
				t.Fatal("New accepted a bad config")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "lobby: config: ") {
				t.Errorf("error %q lacks the lobby: config: prefix", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}

// TestBasePath: the path redirects are built on.
func TestBasePath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://wifi.example.com":             "",
		"https://wifi.example.com/":            "",
		"https://wifi.example.com/guest":       "/guest",
		"https://wifi.example.com/guest/":      "/guest",
		"http://127.0.0.1:8080/a/b%20c/":       "/a/b%20c",
		"https://wifi.example.com/app/guest//": "/app/guest",
	} {
		if got := basePath(in); got != want {
			t.Errorf("basePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMailWorkersDefault: without MailWorkers the mail transport opens at
// most 3 SMTP connections, what Exchange Online allows per mailbox; a
// value given is used as is.
func TestMailWorkersDefault(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	st, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "lobby.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tc := range []struct{ workers, want int }{{0, 3}, {8, 8}} {
		l, err := New(Config{Store: st, BaseURL: "https://wifi.example.com/guest", SecretKey: key, Logger: testLogger(t), MailWorkers: tc.workers})
		if err != nil {
			t.Fatal(err)
		}
		if got := l.transport.Stats().ConnLimit; got != tc.want {
			t.Errorf("MailWorkers %d: connection limit %d, want %d", tc.workers, got, tc.want)
		}
		l.Close()
	}
}
