package notify

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestFromName: a message's FromName survives the outbox and becomes the
// display name of the From header, whose address stays the settings'
// sender mailbox; without one, From is the settings' as it is; a name with
// a line break is refused at Enqueue.
func TestFromName(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	m := credentialsMessage("eve@example.org")
	m.FromName = " Contoso Reception "
	id, err := Enqueue(t.Context(), b.store, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodePayload(mustGetMail(t, b.store, id).Payload)
	if err != nil || got.FromName != "Contoso Reception" {
		t.Fatalf("payload FromName = %q, %v; want Contoso Reception", got.FromName, err)
	}
	for _, tc := range []struct {
		from, name, want string
	}{
		{"lobby@example.com", "Contoso Reception", `From: "Contoso Reception" <lobby@example.com>`},
		{"Lobby <lobby@example.com>", "Contoso Reception", `From: "Contoso Reception" <lobby@example.com>`},
		{"Lobby <lobby@example.com>", "", `From: "Lobby" <lobby@example.com>`},
		{"lobby@example.com", "", `From: <lobby@example.com>`},
		{"lobby@example.com", "Réception Zoë", `From: =?utf-8?q?R=C3=A9ception_Zo=C3=AB?= <lobby@example.com>`},
	} {
		m := got
		m.FromName = tc.name
		s := Settings{From: tc.from}
		msg, err := (&Dispatcher{}).email(uuid.New(), m, s).message(s)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := msg.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), tc.want+"\r\n") {
			t.Errorf("From %q, name %q: want %s in:\n%s", tc.from, tc.name, tc.want, buf.String())
		}
	}

	for name, bad := range map[string]string{
		"header in it":   "Contoso\r\nBcc: x@evil.example",
		"line separator": "Contoso\u2028Reception",
	} {
		m := credentialsMessage("eve@example.org")
		m.FromName = bad
		if _, err := Enqueue(t.Context(), b.store, m); !errors.Is(err, ErrBadMessage) || !strings.Contains(err.Error(), "from name") {
			t.Errorf("%s: err = %v, want ErrBadMessage about the from name", name, err)
		}
	}
}
