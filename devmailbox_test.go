package lobby

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/notify"
)

// TestTextBody reads the text/plain body out of the MIME shapes mailers
// produce.
func TestTextBody(t *testing.T) {
	t.Parallel()
	crlf := func(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }
	tests := []struct {
		name, raw, want string
		wantErr         bool
	}{
		{name: "plain, no content type", raw: "Subject: hi\n\nHello\nthere\n", want: "Hello\nthere\n"},
		{name: "quoted-printable", raw: "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n" +
			"caf=C3=A9 and a soft=\n break, 1 =3D 1\n", want: "café and a soft break, 1 = 1\n"},
		{name: "base64", raw: "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nVXNlcm5hbWU6IGFk\nYUBleGFtcGxlLm9yZw==\n",
			want: "Username: ada@example.org"},
		{name: "alternative, html first", raw: "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n" +
			"--b1\nContent-Type: text/html; charset=UTF-8\n\n<p>html</p>\n" +
			"--b1\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\nPassword: Xy=3D7\n" +
			"--b1--\n", want: "Password: Xy=7"},
		{name: "mixed with nested alternative", raw: "Content-Type: multipart/mixed; boundary=outer\n\n" +
			"--outer\nContent-Type: multipart/alternative; boundary=inner\n\n" +
			"--inner\nContent-Type: text/plain\n\nnested text\n--inner\nContent-Type: text/html\n\n<b>x</b>\n--inner--\n" +
			"--outer\nContent-Type: application/pdf\n\n%PDF\n--outer--\n", want: "nested text"},
		{name: "html only", raw: "Content-Type: text/html\n\n<p>x</p>\n", wantErr: true},
		{name: "not a message", raw: "no header separator", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := textBody(crlf(tc.raw))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("textBody = %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("textBody = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDevMailboxLoopbackHostOnly: the mailbox page answers only requests
// whose Host is a loopback name or address (or the base URL's host), so
// that a page on another site cannot read it through DNS rebinding.
func TestDevMailboxLoopbackHostOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) {
		s := DevMailSettings(b.emu)
		cfg.DevMailbox = b.emu
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
