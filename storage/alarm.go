package storage

import (
	"time"

	"github.com/google/uuid"
)

// Severity of an alarm.
type Severity string

// Alarm severities.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Alarm is something an admin must act on. Key dedupes: raising an alarm
// whose key is already raised and not cleared counts it again instead of
// adding another.
type Alarm struct {
	ID        uuid.UUID
	Key       string
	Severity  Severity
	Title     string
	Detail    string
	Count     int
	RaisedAt  time.Time
	LastSeen  time.Time
	ClearedAt time.Time // zero while active
	// Level is the step of an alarm that escalates under one key (the
	// client secret's "30", "15", "7", "1" days left, "expired"); "" for
	// an alarm without steps. Raising the alarm at another level changes
	// it and forgets the acknowledgement: a new level is news.
	Level string
	// NotifiedLevel is the level last emailed to the admins ("" before
	// the first email); see AlarmStore.MarkAlarmNotified. Not taken by
	// RaiseAlarm.
	NotifiedLevel string
	// AcknowledgedBy and AcknowledgedAt say which admin saw the alarm and
	// when (see AlarmStore.AckAlarm); an acknowledged alarm stays active,
	// shown as seen. Not taken by RaiseAlarm.
	AcknowledgedBy string
	AcknowledgedAt time.Time
}

// Active reports whether a is not cleared.
func (a *Alarm) Active() bool { return a.ClearedAt.IsZero() }

// Acknowledged reports whether an admin acknowledged a at its current level.
func (a *Alarm) Acknowledged() bool { return !a.AcknowledgedAt.IsZero() }

// AuditEntry records who did what.
type AuditEntry struct {
	ID      int64
	At      time.Time
	Actor   string // "guest:<username>", "staff:<username>", "system"
	Action  string // e.g. "guest.create"
	Subject string // e.g. the guest ID
	Detail  string
}

// AuditFilter selects audit entries for AlarmStore.ListAuditWhere. Zero
// fields do not filter.
type AuditFilter struct {
	Actor string // exactly, such as "staff:ada"
	// ActionPrefix matches the actions that start with it, ASCII letters
	// in any case ("staff." matches "staff.create" and "staff.delete").
	ActionPrefix string
	Before       int64 // the ID of the last entry of the previous page; 0 for the first page
	Limit        int   // default 50, at most 500 (PageLimit)
}
