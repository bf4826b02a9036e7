package notify

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestReplyTo: a message's ReplyTo survives the outbox and becomes the
// Reply-To header of the email sent; a bad one is refused at Enqueue.
func TestReplyTo(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	m := credentialsMessage("eve@example.org")
	m.ReplyTo = " sponsor@example.com "
	id, err := Enqueue(t.Context(), b.store, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodePayload(mustGetMail(t, b.store, id).Payload)
	if err != nil || got.ReplyTo != "sponsor@example.com" {
		t.Fatalf("payload ReplyTo = %q, %v; want sponsor@example.com", got.ReplyTo, err)
	}
	e := (&Dispatcher{}).email(id, got, Settings{From: "lobby@example.com"})
	if e.Headers["Reply-To"] != "sponsor@example.com" {
		t.Errorf("email headers = %v, want Reply-To sponsor@example.com", e.Headers)
	}
	msg, err := e.message(Settings{From: "lobby@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Reply-To: sponsor@example.com") {
		t.Errorf("sent message has no Reply-To header:\n%s", buf.String())
	}
	if e := (&Dispatcher{}).email(uuid.New(), credentialsMessage("eve@example.org"), Settings{From: "lobby@example.com"}); e.Headers["Reply-To"] != "" {
		t.Errorf("without ReplyTo: headers = %v, want no Reply-To", e.Headers)
	}

	for name, bad := range map[string]string{
		"malformed":      "sponsor at example.com",
		"header in it":   "sponsor@example.com\r\nBcc: x@evil.example",
		"line separator": "sponsor\u2028x@example.com",
	} {
		m := credentialsMessage("eve@example.org")
		m.ReplyTo = bad
		if _, err := Enqueue(t.Context(), b.store, m); !errors.Is(err, ErrBadMessage) || !strings.Contains(err.Error(), "reply-to") {
			t.Errorf("%s: err = %v, want ErrBadMessage about the reply-to", name, err)
		}
	}
}
