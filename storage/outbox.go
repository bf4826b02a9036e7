package storage

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// MailStatus is where an outbox message is.
type MailStatus string

// Outbox statuses. A message is leasable when queued or deferred and due, or
// when its lease ran out.
const (
	MailQueued   MailStatus = "queued"
	MailSending  MailStatus = "sending" // leased by a worker
	MailDeferred MailStatus = "deferred"
	MailSent     MailStatus = "sent"
	MailDead     MailStatus = "dead"
)

// A message whose sealed payload does not open (its bytes were altered, or
// it was sealed for another row) can never be sent: a lease marks it dead
// with this diagnosis and last error, and goes on with the others.
const (
	DiagnosisPayloadUnreadable = "payload_unreadable"
	PayloadUnreadableError     = "the sealed payload could not be opened: it was altered, or sealed under another key or for another message"
)

// OutboxMessage is an email waiting for delivery. Payload is the message as
// notify encodes it; it may carry credentials, so the store seals it at rest.
type OutboxMessage struct {
	ID             uuid.UUID
	IdempotencyKey string // optional; unique when set
	Kind           string // e.g. "guest.credentials", "admin.test"
	Recipient      string // for the mail log and search; the payload has the full list
	Subject        string
	Payload        []byte
	Status         MailStatus
	Attempts       int // times leased
	NextAttemptAt  time.Time
	LeaseOwner     string     // who leased it, for the mail log
	LeaseToken     LeaseToken // set on a message returned by a lease only: what settles it
	LeaseUntil     time.Time
	LastError      string
	Diagnosis      string // a notify diagnosis code
	CreatedAt      time.Time
	SentAt         time.Time
	UpdatedAt      time.Time
}

// LeaseToken identifies one lease of one outbox message. Every lease draws
// a fresh random token, returned in OutboxMessage.LeaseToken, and
// MarkMailSent, MarkMailDeferred, MarkMailDead and ReleaseMail act only with
// the token of the message's current lease. So a worker that stalled past
// its lease cannot settle a message that was leased again meanwhile, even by
// the same owner. The zero LeaseToken matches no lease.
type LeaseToken struct{ s string }

// NewLeaseToken returns a fresh random lease token (128 bits).
func NewLeaseToken() LeaseToken { return LeaseToken{s: rand.Text()} }

// String is the token as stored; "" for the zero token. It is an
// identifier, not a secret.
func (t LeaseToken) String() string { return t.s }

// MailFilter selects messages for the mail log. Zero fields do not filter.
type MailFilter struct {
	Status []MailStatus
	Kind   string
	// Query matches the recipient or the subject anywhere,
	// case-insensitive; a trigram index serves three characters or more
	// (fewer scan the newest messages until a page is full).
	Query string
	// CreatedFrom and CreatedBefore bound CreatedAt: From <= CreatedAt < Before.
	CreatedFrom, CreatedBefore time.Time
	// After is the cursor of the last message of the previous page
	// (MailCursor); "" is the first page.
	After string
	Limit int // default 50, at most 500
}

// MailCursor is the cursor of m for MailFilter.After.
func MailCursor(m *OutboxMessage) string {
	return EncodeCursor(Cursor{CreatedAt: m.CreatedAt, ID: m.ID})
}

// NextMailCursor is the cursor of the page after list, listed with f, or ""
// when list is the last page (shorter than the limit).
func NextMailCursor(f MailFilter, list []*OutboxMessage) string {
	if len(list) == 0 || len(list) < PageLimit(f.Limit) {
		return ""
	}
	return MailCursor(list[len(list)-1])
}

// CheckLease checks the arguments that LeaseMail and LeaseMailByID take on
// every backend: a lease needs an owner (for the mail log) and a positive
// duration.
func CheckLease(owner string, lease time.Duration) error {
	if owner == "" {
		return errors.New("the lease owner is empty")
	}
	if lease <= 0 {
		return fmt.Errorf("the lease duration %v is not positive", lease)
	}
	return nil
}

// QueuedMail is the row EnqueueMail stores for m at now, on every backend:
// m's ID (a new one when zero), idempotency key, kind, recipient, subject and
// payload; queued, due at m.NextAttemptAt (now when zero), created and
// updated now, with no attempt, lease, error or diagnosis, whatever m says.
// m itself is left alone.
func QueuedMail(m *OutboxMessage, now time.Time) OutboxMessage {
	now = Truncate(now)
	q := OutboxMessage{
		ID:             m.ID,
		IdempotencyKey: m.IdempotencyKey,
		Kind:           m.Kind,
		Recipient:      m.Recipient,
		Subject:        m.Subject,
		Payload:        m.Payload,
		Status:         MailQueued,
		NextAttemptAt:  now,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	if q.ID == uuid.Nil {
		q.ID = uuid.New()
	}
	if !m.NextAttemptAt.IsZero() {
		q.NextAttemptAt = Truncate(m.NextAttemptAt)
	}
	return q
}

// AlarmPayloadUnreadable is the key of the alarm a backend raises when it
// marks a message dead because its sealed payload does not open.
const AlarmPayloadUnreadable = "mail." + DiagnosisPayloadUnreadable

// PayloadUnreadableAlarm is that alarm for message id. Backends raise it in
// the transaction that marks the message dead, so the admin learns of mail
// that will never go out.
func PayloadUnreadableAlarm(id uuid.UUID) Alarm {
	return Alarm{
		Key:      AlarmPayloadUnreadable,
		Severity: SeverityCritical,
		Title:    "An email in the outbox could not be read and was not sent",
		Detail: "Message " + id.String() + ": " + PayloadUnreadableError + ". If the database was restored or edited, " +
			"check that Lobby runs with the secret key it was written with; otherwise ask the recipient to request the email again.",
	}
}
