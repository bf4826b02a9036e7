package exchangetest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// TestDecodeBody reads the text and HTML bodies out of the MIME shapes
// mailers produce.
func TestDecodeBody(t *testing.T) {
	t.Parallel()
	crlf := func(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }
	tests := []struct {
		name, raw string
		want      exchangetest.Body
		wantErr   bool
	}{
		{name: "plain, no content type", raw: "Subject: hi\n\nHello\nthere\n",
			want: exchangetest.Body{Text: "Hello\nthere\n", HasText: true}},
		{name: "quoted-printable", raw: "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n" +
			"caf=C3=A9 and a soft=\n break, 1 =3D 1\n",
			want: exchangetest.Body{Text: "café and a soft break, 1 = 1\n", HasText: true}},
		{name: "base64", raw: "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nVXNlcm5hbWU6IGFk\nYUBleGFtcGxlLm9yZw==\n",
			want: exchangetest.Body{Text: "Username: ada@example.org", HasText: true}},
		{name: "alternative, html first", raw: "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n" +
			"--b1\nContent-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: base64\n\nPHA+aHRtbDwvcD4=\n" +
			"--b1\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\nPassword: Xy=3D7\n" +
			"--b1--\n", want: exchangetest.Body{Text: "Password: Xy=7", HasText: true, HTML: "<p>html</p>", HasHTML: true}},
		{name: "mixed with nested alternative", raw: "Content-Type: multipart/mixed; boundary=outer\n\n" +
			"--outer\nContent-Type: multipart/alternative; boundary=inner\n\n" +
			"--inner\nContent-Type: text/plain\n\nnested text\n--inner\nContent-Type: text/html\n\n<b>x</b>\n--inner--\n" +
			"--outer\nContent-Type: application/pdf\n\n%PDF\n--outer--\n",
			want: exchangetest.Body{Text: "nested text", HasText: true, HTML: "<b>x</b>", HasHTML: true}},
		{name: "first text part wins", raw: "Content-Type: multipart/mixed; boundary=b\n\n" +
			"--b\nContent-Type: text/plain\n\none\n--b\nContent-Type: text/plain\n\ntwo\n--b--\n",
			want: exchangetest.Body{Text: "one", HasText: true}},
		{name: "html only", raw: "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n<p class=3D\"x\">x</p>\n",
			want: exchangetest.Body{HTML: "<p class=\"x\">x</p>\n", HasHTML: true}},
		{name: "bad content type", raw: "Content-Type: text/plain; charset\n\nx\n", wantErr: true},
		{name: "not a message", raw: "no header separator", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := exchangetest.DecodeBody(crlf(tc.raw))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("DecodeBody = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("DecodeBody = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestTextBody: TextBody gives the text/plain body, and ErrNoTextPart for a
// message with none.
func TestTextBody(t *testing.T) {
	t.Parallel()
	if got, err := exchangetest.TextBody([]byte("Subject: x\r\n\r\nhi\r\n")); err != nil || got != "hi\n" {
		t.Errorf("TextBody(plain) = %q, %v", got, err)
	}
	if got, err := exchangetest.TextBody([]byte("Content-Type: text/html\r\n\r\n<p>x</p>\r\n")); !errors.Is(err, exchangetest.ErrNoTextPart) {
		t.Errorf("TextBody(html only) = %q, %v; want ErrNoTextPart", got, err)
	}
}

// TestCapturedMessageDecoded: a message sent over SMTP is captured with its
// encoded-word Subject decoded, and its bodies read back through Body.
func TestCapturedMessageDecoded(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	c := ready(t, srv)
	to := "guest@example.org"
	data := "From: Lobby <" + srv.Mailbox() + ">\r\nTo: " + to + "\r\n" +
		"Subject: =?UTF-8?Q?Your_Wi-Fi_acc=C3=A8s?= =?UTF-8?B?IOKAlCByZWFkeQ==?=\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nUsername: ad=\r\na\r\n" +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Username: ada</p>\r\n--b--\r\n"
	want(t, c.send(srv.Mailbox(), []string{to}, data), 250, "")
	msgs, err := srv.WaitForMessages(ctx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.Subject != "Your Wi-Fi accès — ready" {
		t.Errorf("Subject = %q", m.Subject)
	}
	b, err := m.Body()
	if err != nil {
		t.Fatal(err)
	}
	if want := (exchangetest.Body{Text: "Username: ada", HasText: true, HTML: "<p>Username: ada</p>", HasHTML: true}); b != want {
		t.Errorf("Body = %+v, want %+v", b, want)
	}
	if text, err := m.TextBody(); err != nil || text != b.Text {
		t.Errorf("TextBody = %q, %v", text, err)
	}
}
