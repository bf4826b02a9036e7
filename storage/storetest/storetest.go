package storetest

import (
	"fmt"
	"github.com/lobbyhq/lobby/internal/testclock"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lobbyhq/lobby/storage"
)

// Backend is what the suite needs from a backend.
type Backend struct {
	// Name is what Store.Backend reports, e.g. "sqlite".
	Name string
	// New makes a fresh, empty database for one test and returns an opener
	// for it. The first open migrates the database and stores the key check.
	// Each call of open gives a separate Store (its own pool and connections)
	// on that same database, so tests can model two processes. The suite
	// closes what it opens.
	New func(t *testing.T) (open func(opts storage.Options) (storage.Store, error))
	// Raw runs one SQL statement without parameters on the database behind s,
	// bypassing the Store, and returns every column of every row as bytes
	// (text as its UTF-8, blobs and bytea as they are, NULL as nil). The
	// statements are plain SQL valid on every backend, over the shared table
	// and column names (guests.password, settings.secrets, outbox.payload);
	// one may be an UPDATE, which returns no rows.
	Raw func(t *testing.T, s storage.Store, query string) [][]byte
	// LeaderTTLApplies is true when a leader lock runs out after its ttl even
	// though its holder is still connected (SQLite's lease row); false when
	// the lock lives as long as the holder's session (Postgres advisory locks).
	LeaderTTLApplies bool
}

// Run runs the conformance suite against b, each test in parallel on its own
// database.
func Run(t *testing.T, b Backend) {
	if b.New == nil || b.Raw == nil {
		t.Fatal("storetest: Backend.New and Backend.Raw are required")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"PingAndBackend", testPingAndBackend},
		{"GuestCRUD", testGuestCRUD},
		{"GuestPublic", testGuestPublic},
		{"GuestStamp", testGuestStamp},
		{"GuestUnique", testGuestUnique},
		{"FoldedNames", testFoldedNames},
		{"GuestListFilters", testGuestListFilters},
		{"GuestPagination", testGuestPagination},
		{"GuestSearch", testGuestSearch},
		{"GuestSearchFilters", testGuestSearchFilters},
		{"GuestSearchPagination", testGuestSearchPagination},
		{"GuestUpdate", testGuestUpdate},
		{"GuestUpdatePreconditions", testGuestUpdatePreconditions},
		{"SessionsValidAfter", testSessionsValidAfter},
		{"GuestLanguage", testGuestLanguage},
		{"GuestDelete", testGuestDelete},
		{"GuestsDue", testGuestsDue},
		{"PurgeGuests", testPurgeGuests},
		{"PurgeMailBatches", testPurgeMailBatches},
		{"GuestTypes", testGuestTypes},
		{"Staff", testStaff},
		{"SponsorGroups", testSponsorGroups},
		{"StaffLoginThrottle", testStaffLoginThrottle},
		{"Settings", testSettings},
		{"SettingsConcurrentSave", testSettingsConcurrentSave},
		{"SecretsAtRest", testSecretsAtRest},
		{"WrongKey", testWrongKey},
		{"TxCommit", testTxCommit},
		{"TxRollback", testTxRollback},
		{"TxBoundStore", testTxBoundStore},
		{"OutboxEnqueue", testOutboxEnqueue},
		{"OutboxIdempotency", testOutboxIdempotency},
		{"LeaseConcurrentTwoStores", testLeaseConcurrent},
		{"LeaseExpiry", testLeaseExpiry},
		{"LeaseIdentity", testLeaseIdentity},
		{"LeaseOldestDueFirst", testLeaseOldestDueFirst},
		{"LeaseArguments", testLeaseArguments},
		{"LeaseUnreadablePayload", testLeaseUnreadablePayload},
		{"MailDeferredAndDead", testMailDeferredAndDead},
		{"MailPostpone", testMailPostpone},
		{"MailRelease", testMailRelease},
		{"LeaseMailByID", testLeaseMailByID},
		{"DeliveryStore", testDeliveryStore},
		{"ListAndCountMail", testListAndCountMail},
		{"MailRetention", testMailRetention},
		{"MailLogFilters", testMailLogFilters},
		{"RetryDeadMail", testRetryDeadMail},
		{"AlarmLevels", testAlarmLevels},
		{"Alarms", testAlarms},
		{"Audit", testAudit},
		{"AuditFor", testAuditFor},
		{"AuditWhere", testAuditWhere},
		{"DeleteStaff", testDeleteStaff},
		{"APITokens", testAPITokens},
		{"Leader", testLeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, b)
		})
	}
}

// clock is a settable clock for Options.Now.
type clock struct{ *testclock.Clock }

// now is the clock as the stores record it.
func (c *clock) now() time.Time { return storage.Truncate(c.Now()) }

// bundle is one test's database, clock and first Store.
type bundle struct {
	open   func(opts storage.Options) (storage.Store, error)
	clock  *clock
	sealer *storage.Sealer
	store  storage.Store
}

// setup makes a fresh database and opens a Store on it.
func setup(t *testing.T, b Backend) *bundle {
	t.Helper()
	bb := newBundle(t, b)
	bb.store = bb.openStore(t)
	return bb
}

// newBundle makes a fresh database and opens nothing yet.
func newBundle(t *testing.T, b Backend) *bundle {
	t.Helper()
	return &bundle{
		open: b.New(t),
		// Nanoseconds on purpose: stores keep microseconds.
		clock:  &clock{testclock.New(time.Date(2025, 3, 1, 9, 0, 0, 123456789, time.UTC))},
		sealer: NewSealer(t),
	}
}

// opts are the Options every Store of the bundle shares.
func (bb *bundle) opts() storage.Options {
	return storage.Options{Sealer: bb.sealer, Now: bb.clock.Now}
}

// openStore opens another Store on the bundle's database, closed at cleanup.
func (bb *bundle) openStore(t *testing.T) storage.Store {
	t.Helper()
	s, err := bb.open(bb.opts())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// NewSealer returns a sealer with a fresh random key, for a store under
// test.
func NewSealer(t testing.TB) *storage.Sealer {
	t.Helper()
	k, err := storage.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := storage.ParseKey(k)
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// staff creates a sponsor called username.
func (bb *bundle) sponsor(t *testing.T, username string) *storage.Staff {
	t.Helper()
	st := &storage.Staff{Username: username, Email: username + "@corp.example", DisplayName: username,
		Role: storage.RoleSponsor, PasswordHash: "$2a$10$abcdefghijklmnopqrstuv"}
	if err := bb.store.CreateStaff(t.Context(), st); err != nil {
		t.Fatalf("CreateStaff(%s): %v", username, err)
	}
	return st
}

// guest returns an active guest with every field set, valid from now for a day.
func (bb *bundle) guest(username, email string) *storage.Guest {
	now := bb.clock.now()
	return &storage.Guest{
		Username:      username,
		Password:      "pw-" + username,
		FirstName:     "First " + username,
		LastName:      "Last " + username,
		Email:         email,
		Phone:         "+1 555 0100",
		Company:       "Company " + username,
		PersonVisited: "Host " + username,
		Reason:        "meeting",
		GuestType:     "daily",
		Status:        storage.GuestActive,
		ValidFrom:     now,
		ValidUntil:    now.Add(24 * time.Hour),
	}
}

// createGuest creates g or fails the test.
func (bb *bundle) createGuest(t *testing.T, g *storage.Guest) *storage.Guest {
	t.Helper()
	if err := bb.store.CreateGuest(t.Context(), g); err != nil {
		t.Fatalf("CreateGuest(%s): %v", g.Username, err)
	}
	return g
}

// mail returns a message to enqueue.
func mail(recipient, subject string) *storage.OutboxMessage {
	return &storage.OutboxMessage{
		Kind:      "guest.credentials",
		Recipient: recipient,
		Subject:   subject,
		Payload:   []byte(`{"to":["` + recipient + `"],"subject":"` + subject + `"}`),
	}
}

// enqueue enqueues m or fails the test.
func (bb *bundle) enqueue(t *testing.T, m *storage.OutboxMessage) *storage.OutboxMessage {
	t.Helper()
	if err := bb.store.EnqueueMail(t.Context(), m); err != nil {
		t.Fatalf("EnqueueMail: %v", err)
	}
	return m
}

// secretFields are redacted in diffs: test output shows no secret.
var secretFields = map[string]bool{"Password": true, "PasswordHash": true, "Payload": true, "Secrets": true}

// diff compares two records of the same struct type field by field (times
// with Equal) and describes the differences, or returns "".
func diff(want, got any) string {
	wv, gv := reflect.Indirect(reflect.ValueOf(want)), reflect.Indirect(reflect.ValueOf(got))
	if !gv.IsValid() {
		return "got nil"
	}
	var out []string
	for i := range wv.NumField() {
		name := wv.Type().Field(i).Name
		w, g := wv.Field(i).Interface(), gv.Field(i).Interface()
		same := reflect.DeepEqual(w, g)
		if wt, ok := w.(time.Time); ok {
			same = wt.Equal(g.(time.Time))
		}
		if wb, ok := w.([]byte); ok && len(wb) == 0 {
			same = len(g.([]byte)) == 0
		}
		switch {
		case same:
		case secretFields[name]:
			out = append(out, name+" differs (value not shown)")
		default:
			out = append(out, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	return strings.Join(out, "; ")
}

// ids lists the IDs of guests, for messages.
func guestIDs(gs []*storage.Guest) []uuid.UUID {
	ids := make([]uuid.UUID, len(gs))
	for i, g := range gs {
		ids[i] = g.ID
	}
	return ids
}

func mailIDs(ms []*storage.OutboxMessage) []uuid.UUID {
	ids := make([]uuid.UUID, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

func testPingAndBackend(t *testing.T, b Backend) {
	bb := setup(t, b)
	if err := bb.store.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if got := bb.store.Backend(); got != b.Name {
		t.Fatalf("Backend() = %q, want %q", got, b.Name)
	}
}
