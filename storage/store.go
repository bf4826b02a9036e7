package storage

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Store is Lobby's persistent state. Both backends implement it and pass
// storage/storetest. Methods are safe for concurrent use.
type Store interface {
	// WithTx runs fn in one transaction: it commits when fn returns nil and
	// rolls back otherwise. The Store handed to fn is bound to the
	// transaction; calling WithTx on it runs fn in the same transaction.
	// Leader locks are not transactional: TryLeader, ReleaseLeader and
	// Close on the transaction's Store return ErrInTx.
	WithTx(ctx context.Context, fn func(tx Store) error) error

	// Ping checks that the database answers (for /readyz).
	Ping(ctx context.Context) error
	// Backend names the backend: "postgres" or "sqlite".
	Backend() string
	// Close releases the store's connections and locks. On the Store of a
	// transaction it does nothing and returns ErrInTx.
	Close() error

	GuestStore
	JobStore
	StaffStore
	SettingsStore
	OutboxStore
	AlarmStore
	LeaderLock
	APITokenStore
}

// GuestStore keeps guests and guest types.
type GuestStore interface {
	// CreateGuest inserts g, filling ID, CreatedAt and UpdatedAt when zero,
	// and folds the email (FoldKey). A username or email taken as FoldKey
	// compares them is ErrConflict.
	CreateGuest(ctx context.Context, g *Guest) error
	GetGuest(ctx context.Context, id uuid.UUID) (*Guest, error)
	// GetGuestByUsername and GetGuestByEmail compare as FoldKey folds.
	GetGuestByUsername(ctx context.Context, username string) (*Guest, error)
	GetGuestByEmail(ctx context.Context, email string) (*Guest, error)
	// GetGuestPublic returns the guest with id without its password: the
	// sealed column is neither read nor opened, and Guest.Password is
	// empty. It is what a per-request access check needs (status,
	// validity, SessionsValidAfter and the public fields), at the cost of
	// one indexed read. A missing guest is ErrNotFound.
	GetGuestPublic(ctx context.Context, id uuid.UUID) (*Guest, error)
	// GetGuestStamp returns the fields of the guest with id that a request
	// gate decides on (the values GetGuestPublic returns), or ErrNotFound.
	GetGuestStamp(ctx context.Context, id uuid.UUID) (GuestStamp, error)
	// ListGuests returns one page of guests matching f, newest first
	// unless f.Sort says otherwise; f.Query is served by an index. Lists
	// never carry secrets: the password is neither read nor opened, and
	// Guest.Password is empty; GetGuest* return it.
	ListGuests(ctx context.Context, f GuestFilter) (*GuestPage, error)
	// UpdateGuest applies u and returns the guest as stored afterwards. A
	// missing guest is ErrNotFound; a guest that no longer meets u's
	// preconditions (IfStatus, IfUpdatedAt) is ErrConflict, unchanged.
	// UpdatedAt becomes now, or a microsecond after its last value if that
	// is not earlier. SessionsValidAfter only moves forward.
	UpdateGuest(ctx context.Context, id uuid.UUID, u GuestUpdate) (*Guest, error)
	DeleteGuest(ctx context.Context, id uuid.UUID) error

	PutGuestType(ctx context.Context, t GuestType) error
	GetGuestType(ctx context.Context, name string) (*GuestType, error)
	ListGuestTypes(ctx context.Context) ([]GuestType, error)
	DeleteGuestType(ctx context.Context, name string) error
	// CountGuestsOfType counts the guests of any status whose GuestType is
	// name (index-backed).
	CountGuestsOfType(ctx context.Context, name string) (int, error)
}

// StaffStore keeps sponsors and admins.
type StaffStore interface {
	// CreateStaff inserts s, filling ID and CreatedAt when zero, and sets
	// PasswordChangedAt to CreatedAt (the caller's value is not taken). A
	// taken username is ErrConflict.
	CreateStaff(ctx context.Context, s *Staff) error
	GetStaff(ctx context.Context, id uuid.UUID) (*Staff, error)
	// GetStaffByUsername compares as FoldKey folds.
	GetStaffByUsername(ctx context.Context, username string) (*Staff, error)
	ListStaff(ctx context.Context) ([]*Staff, error)
	SetStaffPassword(ctx context.Context, id uuid.UUID, hash string) error
	SetStaffDisabled(ctx context.Context, id uuid.UUID, disabled bool) error
	// DeleteStaff deletes the staff user with id; a missing one is
	// ErrNotFound. The audit log keeps what they did; their guests keep
	// their SponsorID. Rules such as keeping one admin are the caller's.
	DeleteStaff(ctx context.Context, id uuid.UUID) error
	// SetStaffGroup puts the staff user with id in the sponsor group
	// called group ("" is DefaultSponsorGroup). A missing user or group is
	// ErrNotFound.
	SetStaffGroup(ctx context.Context, id uuid.UUID, group string) error

	// RecordStaffLoginFailure counts a failed sign-in of the staff user
	// with id, in one statement, and returns the count since the last good
	// sign-in. A missing user is ErrNotFound.
	RecordStaffLoginFailure(ctx context.Context, id uuid.UUID, now time.Time) (failures int, err error)
	// SetStaffLockedUntil refuses sign-ins of the staff user with id until
	// until. It only moves the lock later: an earlier until changes
	// nothing, so that two racing failures keep the longer lock.
	SetStaffLockedUntil(ctx context.Context, id uuid.UUID, until time.Time) error
	// RecordStaffLogin records a good sign-in at now: LastLoginAt is now,
	// the failures are forgotten and the lock is lifted, in one statement.
	RecordStaffLogin(ctx context.Context, id uuid.UUID, now time.Time) error
	// EndStaffSessions ends the sessions of the staff user with id issued
	// at or before at: SessionsValidAfter becomes at unless it is later.
	EndStaffSessions(ctx context.Context, id uuid.UUID, at time.Time) error

	// PutSponsorGroup inserts g or replaces the group of the same name,
	// stamping UpdatedAt; its permissions are stored in the order of
	// AllPermissions, and an unknown one is an error.
	PutSponsorGroup(ctx context.Context, g SponsorGroup) error
	// GetSponsorGroup returns the group called name ("" is
	// DefaultSponsorGroup), or ErrNotFound.
	GetSponsorGroup(ctx context.Context, name string) (*SponsorGroup, error)
	// ListSponsorGroups returns every group by name.
	ListSponsorGroups(ctx context.Context) ([]SponsorGroup, error)
	// DeleteSponsorGroup deletes the group called name. The default group
	// and a group some staff user is in are ErrConflict; a missing group
	// is ErrNotFound.
	DeleteSponsorGroup(ctx context.Context, name string) error
}

// SettingsStore keeps versioned settings documents with sealed secrets.
type SettingsStore interface {
	// GetSetting returns the current version of key, or ErrNotFound.
	GetSetting(ctx context.Context, key string) (*Setting, error)
	// PutSetting saves s as the next version. s.Version must be the version
	// the caller read (0 for a first save); otherwise ErrConflict. On
	// success s.Version and s.UpdatedAt are the new ones.
	PutSetting(ctx context.Context, s *Setting) error
}

// OutboxStore is the mail outbox: nothing accepted here is lost.
type OutboxStore interface {
	// EnqueueMail inserts m as queued and due now (or at m.NextAttemptAt if
	// set), and fills m in as stored (see QueuedMail: the caller's status,
	// attempts, lease, errors and times other than NextAttemptAt are not
	// taken). With an idempotency key already present it returns
	// ErrDuplicate (only: it is not an ErrConflict) and sets m.ID to the
	// existing message's ID, changing nothing else. On any other error m is
	// left as it was.
	EnqueueMail(ctx context.Context, m *OutboxMessage) error
	// LeaseMail leases up to n messages that are due (queued or deferred with
	// NextAttemptAt <= now, or sending with an expired lease), oldest due
	// first, to owner until now+lease, each with a fresh LeaseToken. Each
	// lease increments Attempts.
	// Concurrent callers never get the same message. An empty owner or a
	// lease that is not positive is an error (see CheckLease); n <= 0
	// leases nothing. A leased message whose payload does not open is
	// marked dead (DiagnosisPayloadUnreadable) in the same transaction and
	// left out, so that it cannot stop the others: fewer than n messages
	// may come back while more are due.
	LeaseMail(ctx context.Context, owner string, n int, lease time.Duration) ([]*OutboxMessage, error)
	// LeaseMailByID leases one message if it is leasable; otherwise it
	// returns ErrNotFound (gone) or ErrConflict (not leasable now). A
	// message whose payload does not open is marked dead
	// (DiagnosisPayloadUnreadable) and the error wraps ErrUnreadable.
	LeaseMailByID(ctx context.Context, id uuid.UUID, owner string, lease time.Duration) (*OutboxMessage, error)
	// MarkMailSent, MarkMailDeferred and MarkMailDead record the outcome of
	// an attempt of the message leased with token (the LeaseToken of the
	// message the lease returned). They return ErrLeaseLost unless that
	// lease is still the message's current one (a lease that ran out but
	// was not taken over still counts), and ErrNotFound when there is no
	// message id. MarkMailSent also clears the payload, which may hold
	// credentials; the kind, recipient and subject stay for the mail log.
	MarkMailSent(ctx context.Context, id uuid.UUID, token LeaseToken) error
	MarkMailDeferred(ctx context.Context, id uuid.UUID, token LeaseToken, next time.Time, lastErr, diagnosis string) error
	MarkMailDead(ctx context.Context, id uuid.UUID, token LeaseToken, lastErr, diagnosis string) error
	// PostponeMail is MarkMailDeferred for a try that was not an attempt
	// (no SMTP settings yet, a send cut off by shutdown): deferred until
	// next with the diagnosis, and Attempts decremented, so waiting for an
	// admin does not use up the message's attempts. Errors as MarkMailSent.
	PostponeMail(ctx context.Context, id uuid.UUID, token LeaseToken, next time.Time, lastErr, diagnosis string) error
	// ReleaseMail gives a leased message back unattempted (graceful shutdown):
	// queued, due now, Attempts decremented. Errors as MarkMailSent.
	ReleaseMail(ctx context.Context, id uuid.UUID, token LeaseToken) error
	// GetMail returns the message with id and its payload opened, or
	// ErrNotFound. A payload that does not open is ErrUnreadable, except on
	// a message marked dead for it, which comes back without a payload, as
	// does a sent message.
	GetMail(ctx context.Context, id uuid.UUID) (*OutboxMessage, error)
	// ListMail lists one page of the messages matching f, newest first
	// (by CreatedAt, then ID), for the mail log; f.After continues after a
	// page (see MailFilter). Every filter is served by an index. Lists
	// never carry secrets: the payload is neither read nor opened, and
	// OutboxMessage.Payload is empty; GetMail and the leases return it.
	ListMail(ctx context.Context, f MailFilter) ([]*OutboxMessage, error)
	// RetryDeadMail puts the dead message id back in the queue: queued,
	// due now, with no attempts, error or diagnosis (its payload stayed
	// when it died). A missing message is ErrNotFound; one that is not
	// dead, or has no payload to send, is ErrConflict.
	RetryDeadMail(ctx context.Context, id uuid.UUID) error
	// DeadMail counts the dead messages and gives the last time one died
	// (zero when there is none), from an index.
	DeadMail(ctx context.Context) (n int, last time.Time, err error)
	// CountMail counts messages by status.
	CountMail(ctx context.Context) (map[MailStatus]int, error)
	// PurgeMail deletes the sent and dead messages last updated before
	// olderThan and returns how many it deleted; queued, deferred and
	// leased messages stay whatever their age. A purged message's
	// idempotency key is free again. It deletes in statements of at most
	// MaxPurgeBatch rows, each its own transaction outside WithTx, so that no
	// one statement holds SQLite's writer for long.
	PurgeMail(ctx context.Context, olderThan time.Time) (int, error)
}

// AlarmStore keeps alarms and the audit log.
type AlarmStore interface {
	// RaiseAlarm raises a; if an active alarm with a.Key exists, it bumps its
	// Count and LastSeen (and takes the new title, detail and severity). The
	// store counts and stamps: a's Count, RaisedAt, LastSeen and ClearedAt
	// are not taken.
	RaiseAlarm(ctx context.Context, a Alarm) error
	// RaiseAlarm also takes a.Level; an active alarm raised at another
	// level takes it and loses its acknowledgement.
	// ClearAlarm clears the active alarm with key; no active alarm is not an error.
	ClearAlarm(ctx context.Context, key string) error
	ListAlarms(ctx context.Context, includeCleared bool) ([]Alarm, error)
	// GetAlarm returns the active alarm with key, or else the one last
	// raised (cleared), or ErrNotFound.
	GetAlarm(ctx context.Context, key string) (*Alarm, error)
	// AckAlarm records that the admin by saw the active alarm with key at
	// at; it stays active. No active alarm with key is ErrNotFound.
	AckAlarm(ctx context.Context, key, by string, at time.Time) error
	// MarkAlarmNotified sets the active alarm's NotifiedLevel to its
	// current Level, in one statement, and reports whether it changed: the
	// caller that gets true (one, however many race) emails the admins, in
	// the same transaction, so that each level is emailed once. No active
	// alarm with key is false.
	MarkAlarmNotified(ctx context.Context, key string) (bool, error)

	Audit(ctx context.Context, e AuditEntry) error
	// ListAudit lists entries newest first, those with ID < before when before > 0.
	ListAudit(ctx context.Context, before int64, limit int) ([]AuditEntry, error)
	// ListAuditFor lists the entries about subject newest first, those with
	// ID < before when before > 0, served by an index on (subject, id).
	ListAuditFor(ctx context.Context, subject string, before int64, limit int) ([]AuditEntry, error)
	// ListAuditWhere lists the entries matching f newest first (by ID),
	// those with ID < f.Before when f.Before > 0: the audit log page's
	// filters. It walks the log by ID; the filters do not use an index.
	ListAuditWhere(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// LeaderLock elects one node to run background jobs.
type LeaderLock interface {
	// TryLeader takes or renews the named lock for owner and reports whether
	// owner holds it. On Postgres it is a session advisory lock held on a
	// dedicated connection (ttl unused: the lock dies with the session); on
	// SQLite it is a lease row valid for ttl.
	TryLeader(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// ReleaseLeader gives the lock up if owner holds it.
	ReleaseLeader(ctx context.Context, name, owner string) error
}

// Options configure a backend.
type Options struct {
	// Sealer seals and opens secret columns. Required.
	Sealer *Sealer
	// Now is the clock; default time.Now. Tests inject their own.
	Now func() time.Time
}

// Clock returns o.Now or time.Now.
func (o Options) Clock() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}
