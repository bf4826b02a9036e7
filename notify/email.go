package notify

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wneessen/go-mail"
)

// Email is one message to send. Text, HTML or both make the body (both: a
// multipart/alternative message).
type Email struct {
	// From overrides Settings.From; with Exchange Online a From other than
	// the mailbox needs SendAs permission.
	From    string            `json:"from,omitempty"`
	To      []string          `json:"to"`
	Subject string            `json:"subject"`
	Text    string            `json:"text,omitempty"`
	HTML    string            `json:"html,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// MessageID (without angle brackets) lets a retried message keep its
	// identity; empty means a new random one.
	MessageID string `json:"message_id,omitempty"`
}

// ErrNoRecipient is returned for an email without recipients.
var ErrNoRecipient = errors.New("notify: email has no recipient")

// headers Lobby sets itself and an Email must not override.
var reservedHeaders = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "subject": true, "message-id": true,
	"date": true, "mime-version": true, "content-type": true, "content-transfer-encoding": true,
}

// message builds the go-mail message for e sent with s.
func (e *Email) message(s Settings) (*mail.Msg, error) {
	if e == nil || len(e.To) == 0 {
		return nil, ErrNoRecipient
	}
	m := mail.NewMsg()
	from := e.From
	if from == "" {
		from = s.From
	}
	if err := m.From(from); err != nil {
		return nil, fmt.Errorf("notify: email: from %q: %w", from, err)
	}
	if err := m.To(e.To...); err != nil {
		return nil, fmt.Errorf("notify: email: to: %w", err)
	}
	m.Subject(e.Subject)
	if id := strings.Trim(strings.TrimSpace(e.MessageID), "<>"); id != "" {
		m.SetMessageIDWithValue(id)
	} else {
		m.SetMessageID()
	}
	m.SetDate()
	for k, v := range e.Headers {
		if reservedHeaders[strings.ToLower(k)] {
			return nil, fmt.Errorf("notify: email: header %q is set by Lobby itself", k)
		}
		if strings.ContainsAny(k+v, "\r\n") {
			return nil, fmt.Errorf("notify: email: header %q contains a line break", k)
		}
		m.SetGenHeader(mail.Header(k), v)
	}
	switch {
	case e.Text != "" && e.HTML != "":
		m.SetBodyString(mail.TypeTextPlain, e.Text)
		m.AddAlternativeString(mail.TypeTextHTML, e.HTML)
	case e.HTML != "":
		m.SetBodyString(mail.TypeTextHTML, e.HTML)
	default:
		m.SetBodyString(mail.TypeTextPlain, e.Text)
	}
	return m, nil
}
