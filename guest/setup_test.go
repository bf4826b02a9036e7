package guest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/testclock"
	"github.com/lobbyhq/lobby/internal/teststore"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// recMailer records the outbox IDs handed to it.
type recMailer struct {
	mu  sync.Mutex
	ids []uuid.UUID
}

func (m *recMailer) Track(id uuid.UUID) *notify.Future {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ids = append(m.ids, id)
	return nil
}

func (m *recMailer) tracked() []uuid.UUID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]uuid.UUID(nil), m.ids...)
}

// bundle is one test's Service on a fresh store, with its clock, mailer
// and cast of staff.
type bundle struct {
	store storage.Store
	svc   *Service
	mail  *recMailer
	clock *testclock.Clock

	admin, owner, other, manager, visited, noPerms, disabled Actor
}

// eachBackend runs fn on a fresh bundle of every backend.
func eachBackend(t *testing.T, mod func(*Config), fn func(t *testing.T, b *bundle)) {
	t.Helper()
	for _, backend := range teststore.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, backend, mod))
		})
	}
}

func setup(t *testing.T, backend string, mod func(*Config)) *bundle {
	t.Helper()
	clk := testclock.New(time.Now().UTC().Truncate(time.Second))
	st := teststore.Open(t, backend, clk.Now)
	if err := st.PutGuestType(t.Context(), storage.GuestType{Name: "daily", DefaultDuration: 24 * time.Hour, MaxDuration: 7 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutGuestType(t.Context(), storage.GuestType{Name: "contractor", DefaultDuration: 30 * 24 * time.Hour, MaxDuration: 90 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	b := &bundle{store: st, mail: &recMailer{}, clock: clk}
	cfg := Config{Store: st, Mail: b.mail, BaseURL: "https://wifi.example.com/portal/", Now: clk.Now,
		Policy: Policy{SiteName: "Test Lobby", TimeZone: time.UTC}}
	if mod != nil {
		mod(&cfg)
	}
	var err error
	if b.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	all := &storage.SponsorGroup{Name: storage.DefaultSponsorGroup, Permissions: storage.AllPermissions}
	staff := func(name string, role storage.Role) *storage.Staff {
		return &storage.Staff{ID: uuid.New(), Username: name, Email: name + "@corp.example", Role: role}
	}
	b.admin = Actor{Staff: staff("ada", storage.RoleAdmin)}
	b.owner = Actor{Staff: staff("olga", storage.RoleSponsor), Group: all}
	b.other = Actor{Staff: staff("otto", storage.RoleSponsor), Group: all}
	b.manager = Actor{Staff: staff("mia", storage.RoleSponsor), Group: &storage.SponsorGroup{Name: "reception", ManageAll: true, Permissions: storage.AllPermissions}}
	b.visited = Actor{Staff: staff("vera", storage.RoleSponsor), Group: all}
	b.noPerms = Actor{Staff: b.owner.Staff, Group: &storage.SponsorGroup{Name: "viewers"}}
	dis := *b.owner.Staff
	dis.Disabled = true
	b.disabled = Actor{Staff: &dis, Group: all}
	return b
}

// guest stores a guest of status sponsored by the owner, naming the
// visited sponsor as the person visited, valid for a day from now.
func (b *bundle) guest(t *testing.T, status storage.GuestStatus) *storage.Guest {
	t.Helper()
	now := storage.Truncate(b.clock.Now())
	id := uuid.New()
	g := &storage.Guest{
		ID: id, Username: "g-" + id.String()[:8], Password: "Initial-pw-" + id.String()[:4],
		FirstName: "Eve", LastName: "Example", Email: "eve-" + id.String()[:8] + "@example.org",
		PersonVisited: b.visited.Staff.Email, SponsorID: b.owner.Staff.ID, GuestType: "daily",
		Status: status, ValidFrom: now, ValidUntil: now.Add(24 * time.Hour),
	}
	if status == storage.GuestExpired {
		g.ValidFrom, g.ValidUntil = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	}
	if err := b.store.CreateGuest(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	got, err := b.store.GetGuest(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (b *bundle) get(t *testing.T, id uuid.UUID) *storage.Guest {
	t.Helper()
	g, err := b.store.GetGuest(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// mailCount is how many messages the outbox holds.
func (b *bundle) mailCount(t *testing.T) int {
	t.Helper()
	counts, err := b.store.CountMail(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// auditFor lists the audit entries about subject, newest first.
func (b *bundle) auditFor(t *testing.T, subject string) []storage.AuditEntry {
	t.Helper()
	all, err := b.store.ListAudit(t.Context(), 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.AuditEntry
	for _, e := range all {
		if e.Subject == subject {
			out = append(out, e)
		}
	}
	return out
}

// sentMail is an outbox message with its payload's fields.
type sentMail struct {
	Kind, Recipient, Subject string
	Text                     string `json:"text"`
	ReplyTo                  string `json:"reply_to"`
	FromName                 string `json:"from_name"`
	To                       []string
}

func (b *bundle) mailOf(t *testing.T, id uuid.UUID) sentMail {
	t.Helper()
	if id == uuid.Nil {
		t.Fatal("no mail queued")
	}
	row, err := b.store.GetMail(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Text     string   `json:"text"`
		ReplyTo  string   `json:"reply_to"`
		FromName string   `json:"from_name"`
		To       []string `json:"to"`
	}
	if err := json.Unmarshal(row.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return sentMail{Kind: row.Kind, Recipient: row.Recipient, Subject: row.Subject, Text: p.Text, ReplyTo: p.ReplyTo, FromName: p.FromName, To: p.To}
}
