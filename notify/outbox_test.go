package notify

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

func TestEnqueueIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	m := credentialsMessage("eve@example.org")
	m.IdempotencyKey = "guest:42:credentials"
	id1, err := Enqueue(t.Context(), b.store, m)
	if err != nil {
		t.Fatal(err)
	}
	m.Subject = "a second try"
	id2, err := Enqueue(t.Context(), b.store, m)
	if err != nil || id2 != id1 {
		t.Fatalf("second Enqueue = %s, %v; want the first ID %s and no error", id2, err, id1)
	}
	counts, err := b.store.CountMail(t.Context())
	if err != nil || counts[storage.MailQueued] != 1 {
		t.Fatalf("queued = %v, %v; want 1", counts, err)
	}
	row := mustGetMail(t, b.store, id1)
	if row.Subject != "Your guest access" || row.Kind != "guest.credentials" || row.Recipient != "eve@example.org" {
		t.Errorf("row = %+v", row)
	}
	got, err := decodePayload(row.Payload)
	if err != nil || got.Text != m.Text || got.HTML != m.HTML || got.IdempotencyKey != m.IdempotencyKey {
		t.Errorf("payload = %+v, %v", got, err)
	}
}

func TestEnqueueCommitsWithTheTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	boom := errors.New("the guest could not be created")
	err := b.store.WithTx(t.Context(), func(tx storage.Store) error {
		if _, err := Enqueue(t.Context(), tx, credentialsMessage("eve@example.org")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WithTx = %v", err)
	}
	var id2 uuid.UUID
	err = b.store.WithTx(t.Context(), func(tx storage.Store) error {
		var err error
		id2, err = Enqueue(t.Context(), tx, credentialsMessage("eve@example.org"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := b.store.CountMail(t.Context())
	if err != nil || counts[storage.MailQueued] != 1 {
		t.Fatalf("queued = %v, %v; want only the committed message", counts, err)
	}
	mustGetMail(t, b.store, id2)
}

func TestEnqueueRejectsBadMessages(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ok := credentialsMessage("eve@example.org")
	tests := []struct {
		name string
		mod  func(*Message)
		want string
	}{
		{"no kind", func(m *Message) { m.Kind = " " }, "no kind"},
		{"no recipient", func(m *Message) { m.To = nil }, "no recipient"},
		{"malformed recipient", func(m *Message) { m.To = []string{"eve at example.org"} }, "not a valid email address"},
		{"header injection in a recipient", func(m *Message) { m.To = []string{"eve@example.org\r\nBcc: x@evil.example"} }, "line break"},
		{"line separator in a recipient", func(m *Message) { m.To = []string{"eve\u2028x@example.org"} }, "line break"},
		{"paragraph separator in a recipient", func(m *Message) { m.To = []string{"Eve <eve\u2029x@example.org>"} }, "line break"},
		{"next line in a recipient", func(m *Message) { m.To = []string{"eve\u0085x@example.org"} }, "line break"},
		{"control in a recipient", func(m *Message) { m.To = []string{"eve\x00x@example.org"} }, "line break"},
		{"no body", func(m *Message) { m.Text, m.HTML = "", "" }, "no body"},
	}
	for _, tt := range tests {
		m := ok
		tt.mod(&m)
		_, err := Enqueue(t.Context(), b.store, m)
		if !errors.Is(err, ErrBadMessage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want ErrBadMessage saying %q", tt.name, err, tt.want)
		}
	}
	counts, err := b.store.CountMail(t.Context())
	if err != nil || counts[storage.MailQueued] != 0 {
		t.Fatalf("counts = %v, %v; want nothing queued", counts, err)
	}
}

func TestEnqueueSubjectIsOneLine(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	m := credentialsMessage("eve@example.org")
	for _, tc := range []struct{ in, want string }{
		{"Hello\r\nBcc: attacker@evil.example\n\tmore", "Hello Bcc: attacker@evil.example more"},
		{"Hello\u2028Bcc: a@evil.example\u2029more\u0085end", "Hello Bcc: a@evil.example more end"},
		{"  bell\a and\x00nul\x7f del  ", "bell and nul del"},
		{"Welcome  to   Lobby", "Welcome  to   Lobby"}, // nothing to clean: left as it is
	} {
		m.Subject = tc.in
		m.IdempotencyKey = tc.in
		id, err := Enqueue(t.Context(), b.store, m)
		if err != nil {
			t.Fatal(err)
		}
		row := mustGetMail(t, b.store, id)
		got, _ := decodePayload(row.Payload)
		for _, s := range []string{row.Subject, got.Subject} {
			if s != tc.want {
				t.Errorf("subject %q stored as %q, want %q", tc.in, s, tc.want)
			}
		}
	}
}

// The payload carries a guest's password: the store keeps it sealed.
func TestPayloadSealedAtRest(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if _, err := Enqueue(t.Context(), b.store, credentialsMessage("eve@example.org")); err != nil {
		t.Fatal(err)
	}
	if err := b.store.Close(); err != nil { // flush the WAL into the file
		t.Fatal(err)
	}
	files, _ := filepath.Glob(b.path + "*")
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(testGuestPassword)) {
			t.Errorf("%s holds the password in plain text", filepath.Base(f))
		}
	}
}

func TestDecodePayloadRejectsUnknown(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{`not json`, `{"v":2,"to":["a@example.org"]}`, `{"v":1,"to":[]}`} {
		if _, err := decodePayload([]byte(raw)); err == nil {
			t.Errorf("decodePayload(%s) succeeded", raw)
		}
	}
}
