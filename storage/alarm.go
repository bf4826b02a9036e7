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
}

// AuditEntry records who did what.
type AuditEntry struct {
	ID      int64
	At      time.Time
	Actor   string // "guest:<username>", "staff:<username>", "system"
	Action  string // e.g. "guest.create"
	Subject string // e.g. the guest ID
	Detail  string
}
