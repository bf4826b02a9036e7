package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// Message is a notification to send, rendered already (see [Renderer]).
type Message struct {
	Kind    string   `json:"kind"`    // "guest.credentials", "guest.approval", "guest.expiry", "admin.test", ...
	To      []string `json:"to"`      // recipients (at least one)
	Subject string   `json:"subject"` // one line; line breaks and control characters are replaced by spaces
	Text    string   `json:"text"`    // plain-text body
	HTML    string   `json:"html,omitempty"`
	// ReplyTo is an optional address for replies (the Reply-To header),
	// such as the sponsor of the guest the message is about.
	ReplyTo string `json:"reply_to,omitempty"`
	// FromName is an optional display name for the From header, such as
	// "Contoso Reception". The address stays the settings' sender
	// (Settings.From, the Exchange sender mailbox): only the name changes.
	// Empty: From as the settings have it.
	FromName string `json:"from_name,omitempty"`
	// IdempotencyKey is optional; a second Enqueue with the same key does not
	// queue another message.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// payloadVersion is the version of the outbox payload encoding.
const payloadVersion = 1

// payload is how a Message is stored in the outbox (which seals it at rest:
// it may carry a guest's password).
type payload struct {
	V int `json:"v"`
	Message
}

// ErrBadMessage is wrapped by the errors Enqueue returns for a message it
// refuses (no recipient, a malformed address, no body, no kind).
var ErrBadMessage = errors.New("bad message")

// Enqueue writes m to the outbox through st. Pass the transaction-bound Store
// inside [storage.Store.WithTx] so that the message commits together with the
// state change it goes with (a new guest and their credentials email commit
// together or not at all). It returns the outbox ID. A duplicate idempotency
// key returns the existing message's ID and a nil error.
//
// Enqueue only queues: a [Dispatcher] sends, right away when the caller hands
// it the ID with [Dispatcher.Track] after the commit, otherwise at its next poll.
func Enqueue(ctx context.Context, st storage.Store, m Message) (uuid.UUID, error) {
	m, err := normalizeMessage(m)
	if err != nil {
		return uuid.Nil, err
	}
	body, err := encodePayload(m)
	if err != nil {
		return uuid.Nil, err
	}
	row := &storage.OutboxMessage{
		IdempotencyKey: m.IdempotencyKey,
		Kind:           m.Kind,
		Recipient:      strings.Join(m.To, ", "),
		Subject:        m.Subject,
		Payload:        body,
	}
	switch err := st.EnqueueMail(ctx, row); {
	case errors.Is(err, storage.ErrDuplicate):
		return row.ID, nil
	case err != nil:
		return uuid.Nil, fmt.Errorf("notify: enqueue %s: %w", m.Kind, err)
	}
	return row.ID, nil
}

// normalizeMessage checks m and returns it with its subject on one line and
// its recipients trimmed.
func normalizeMessage(m Message) (Message, error) {
	bad := func(format string, args ...any) (Message, error) {
		return Message{}, fmt.Errorf("notify: enqueue: "+format+": %w", append(args, ErrBadMessage)...)
	}
	m.Kind = strings.TrimSpace(m.Kind)
	if m.Kind == "" {
		return bad("the message has no kind (such as %q)", "guest.credentials")
	}
	if len(m.To) == 0 {
		return bad("the %s message has no recipient", m.Kind)
	}
	to := make([]string, 0, len(m.To))
	for _, addr := range m.To {
		addr = strings.TrimSpace(addr)
		if strings.IndexFunc(addr, breaksLine) >= 0 {
			return bad("recipient %q contains a line break or a control character", addr)
		}
		if _, err := mail.ParseAddress(addr); err != nil {
			return bad("%q is not a valid email address", addr)
		}
		to = append(to, addr)
	}
	m.To = to
	if m.ReplyTo = strings.TrimSpace(m.ReplyTo); m.ReplyTo != "" {
		if strings.IndexFunc(m.ReplyTo, breaksLine) >= 0 {
			return bad("reply-to %q contains a line break or a control character", m.ReplyTo)
		}
		if _, err := mail.ParseAddress(m.ReplyTo); err != nil {
			return bad("reply-to %q is not a valid email address", m.ReplyTo)
		}
	}
	if m.FromName = strings.TrimSpace(m.FromName); strings.IndexFunc(m.FromName, breaksLine) >= 0 {
		return bad("from name %q contains a line break or a control character", m.FromName)
	}
	if m.Text == "" && m.HTML == "" {
		return bad("the %s message has no body", m.Kind)
	}
	m.Subject = singleLine(m.Subject)
	return m, nil
}

// breaksLine reports a character that has no place in a header value: a
// control character (CR, LF, tab, NUL, NEL U+0085, ...) or a Unicode line
// or paragraph separator (U+2028, U+2029), which some software treats as a
// line break.
func breaksLine(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp)
}

// singleLine replaces each run of line breaks, controls and spaces around
// them in s by one space, and trims it, so that a value placed in a header
// can never start another header. A value without any is only trimmed.
func singleLine(s string) string {
	if strings.IndexFunc(s, breaksLine) < 0 {
		return strings.TrimSpace(s)
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == ' ' || breaksLine(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

func encodePayload(m Message) ([]byte, error) {
	b, err := json.Marshal(payload{V: payloadVersion, Message: m})
	if err != nil {
		return nil, fmt.Errorf("notify: enqueue: encode: %w", err)
	}
	return b, nil
}

// decodePayload reads a payload written by encodePayload.
func decodePayload(b []byte) (Message, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return Message{}, fmt.Errorf("notify: outbox payload: %w", err)
	}
	if p.V != payloadVersion {
		return Message{}, fmt.Errorf("notify: outbox payload: unknown version %d (written by a newer Lobby?)", p.V)
	}
	if len(p.To) == 0 {
		return Message{}, fmt.Errorf("notify: outbox payload: no recipient")
	}
	return p.Message, nil
}
