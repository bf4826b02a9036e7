package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newSealer(t testing.TB) *storage.Sealer {
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

// testBundle is what a test needs: a fresh schema, its URL and options.
type testBundle struct {
	url    string
	schema string
	opts   postgres.Options
	clock  *clock
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	url, schema := postgres.TestSchema(t)
	c := &clock{t: time.Date(2025, 3, 1, 9, 0, 0, 123456789, time.UTC)}
	return &testBundle{
		url:    url,
		schema: schema,
		clock:  c,
		opts: postgres.Options{
			Options:  storage.Options{Sealer: newSealer(t), Now: c.Now},
			Schema:   schema,
			MaxConns: 8,
		},
	}
}

func (b *testBundle) open(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), b.url, b.opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenMigratesConcurrently(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, name := range []string{"existing schema", "schema created at open"} {
		t.Run(name, func(t *testing.T) {
			opts := b.opts
			if name == "schema created at open" {
				opts.Schema = b.schema + "_new"
				t.Cleanup(func() { dropSchema(t, b.url, opts.Schema) })
			}
			const n = 4
			stores := make([]*postgres.Store, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), b.url, opts) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("Open %d: %v", i, err)
				}
				t.Cleanup(func() { stores[i].Close() })
			}
			for i, s := range stores {
				v, err := s.SchemaVersion(t.Context())
				if err != nil || v != 1 {
					t.Fatalf("store %d: SchemaVersion = %d, %v; want 1", i, v, err)
				}
			}
			if err := stores[0].Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
			var applied int
			if err := stores[0].Pool().QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&applied); err != nil || applied != 1 {
				t.Fatalf("schema_migrations rows = %d, %v; want 1", applied, err)
			}
		})
	}
}

func dropSchema(t *testing.T, url, schema string) {
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Error(err)
	}
}

func TestOpenWrongKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.open(t).Close()
	other := b.opts
	other.Sealer = newSealer(t)
	s, err := postgres.Open(t.Context(), b.url, other)
	if !errors.Is(err, storage.ErrWrongKey) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open with another key: err = %v, want ErrWrongKey", err)
	}
	s2, err := postgres.Open(t.Context(), b.url, b.opts)
	if err != nil {
		t.Fatalf("Open with the right key: %v", err)
	}
	s2.Close()
}

func TestSearchPathIsolates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.open(t)
	var path string
	if err := s.Pool().QueryRow(t.Context(), "SHOW search_path").Scan(&path); err != nil {
		t.Fatal(err)
	}
	want := pgx.Identifier{b.schema}.Sanitize()
	if path != want {
		t.Fatalf("search_path = %q, want %q", path, want)
	}
	// A table in public is out of reach of an unqualified name.
	probe := pgx.Identifier{"public", b.schema + "_probe"}.Sanitize()
	if _, err := s.Pool().Exec(t.Context(), "CREATE TABLE "+probe+" ()"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Pool().Exec(context.Background(), "DROP TABLE "+probe) })
	if _, err := s.Pool().Exec(t.Context(), "SELECT FROM "+b.schema+"_probe"); err == nil {
		t.Fatal("an unqualified query reached a table in public")
	}
	var n int
	if err := s.Pool().QueryRow(t.Context(), "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'guests'", b.schema).Scan(&n); err != nil || n != 1 {
		t.Fatalf("guests in %s: %d, %v", b.schema, n, err)
	}
}

// TestLeaseTwoPools leases from two stores (two pools, as two nodes would)
// with several workers each: every message is leased exactly once.
func TestLeaseTwoPools(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, c := b.open(t), b.open(t)
	const total = 300
	for i := range total {
		m := &storage.OutboxMessage{Kind: "test", Recipient: fmt.Sprintf("r%d@example.com", i), Payload: []byte("secret")}
		if err := a.EnqueueMail(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu     sync.Mutex
		leased = map[uuid.UUID]string{}
		wg     sync.WaitGroup
	)
	for w := range 8 {
		s := a
		if w%2 == 1 {
			s = c
		}
		owner := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			for {
				ms, err := s.LeaseMail(t.Context(), owner, 7, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ms) == 0 {
					return
				}
				mu.Lock()
				for _, m := range ms {
					if prev, dup := leased[m.ID]; dup {
						t.Errorf("%s leased by %s and %s", m.ID, prev, owner)
					}
					leased[m.ID] = owner
					if m.Status != storage.MailSending || m.LeaseOwner != owner || m.Attempts != 1 || string(m.Payload) != "secret" {
						t.Errorf("leased message = %+v", m)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(leased) != total {
		t.Fatalf("leased %d messages, want %d", len(leased), total)
	}
	counts, err := c.CountMail(t.Context())
	if err != nil || counts[storage.MailSending] != total {
		t.Fatalf("CountMail = %v, %v", counts, err)
	}
	// Leases run out: another node takes them over, Attempts counts again.
	b.clock.Add(time.Minute)
	ms, err := c.LeaseMail(t.Context(), "taker", total+1, time.Minute)
	if err != nil || len(ms) != total {
		t.Fatalf("take over: %d messages, %v; want %d", len(ms), err, total)
	}
	if ms[0].Attempts != 2 {
		t.Fatalf("Attempts after take-over = %d, want 2", ms[0].Attempts)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].NextAttemptAt.Before(ms[i-1].NextAttemptAt) {
			t.Fatalf("lease not in due order at %d", i)
		}
	}
	if err := a.MarkMailSent(t.Context(), ms[0].ID, leased[ms[0].ID]); !errors.Is(err, storage.ErrLeaseLost) {
		t.Fatalf("MarkMailSent by the old owner: err = %v, want ErrLeaseLost", err)
	}
}

// TestConflictKeepsTxUsable: a taken username or idempotency key inside a
// transaction is reported without aborting the transaction.
func TestConflictKeepsTxUsable(t *testing.T) {
	t.Parallel()
	s := setup(t).open(t)
	ctx := t.Context()
	first := &storage.Guest{Username: "Ann", Email: "Ann@Example.com", Status: storage.GuestActive, Password: "pw"}
	if err := s.CreateGuest(ctx, first); err != nil {
		t.Fatal(err)
	}
	m := &storage.OutboxMessage{IdempotencyKey: "k1", Kind: "x", Payload: []byte("p")}
	if err := s.EnqueueMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	err := s.WithTx(ctx, func(tx storage.Store) error {
		err := tx.CreateGuest(ctx, &storage.Guest{Username: "ANN", Email: "other@example.com", Status: storage.GuestActive})
		if !errors.Is(err, storage.ErrConflict) {
			t.Errorf("username taken: err = %v, want ErrConflict", err)
		}
		err = tx.CreateGuest(ctx, &storage.Guest{Username: "bob", Email: "ann@EXAMPLE.com", Status: storage.GuestActive})
		if !errors.Is(err, storage.ErrConflict) {
			t.Errorf("email taken: err = %v, want ErrConflict", err)
		}
		dup := &storage.OutboxMessage{IdempotencyKey: "k1", Kind: "x", Payload: []byte("p")}
		if err := tx.EnqueueMail(ctx, dup); !errors.Is(err, storage.ErrDuplicate) || dup.ID != m.ID {
			t.Errorf("duplicate key: err = %v, id = %s; want ErrDuplicate and %s", err, dup.ID, m.ID)
		}
		return tx.CreateGuest(ctx, &storage.Guest{Username: "bob", Email: "bob@example.com", Status: storage.GuestActive})
	})
	if err != nil {
		t.Fatalf("WithTx after conflicts: %v", err)
	}
	if _, err := s.GetGuestByUsername(ctx, "BOB"); err != nil {
		t.Fatalf("guest created after conflicts: %v", err)
	}
}

// TestLeaderAcrossPools: one holder at a time; a holder whose session dies
// loses the lock, and another takes it.
func TestLeaderAcrossPools(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, c := b.open(t), b.open(t)
	ctx := t.Context()
	try := func(s *postgres.Store, owner string) bool {
		t.Helper()
		ok, err := s.TryLeader(ctx, "jobs", owner, time.Minute)
		if err != nil {
			t.Fatalf("TryLeader(%s): %v", owner, err)
		}
		return ok
	}
	if !try(a, "a") {
		t.Fatal("a should take the free lock")
	}
	if !try(a, "a") {
		t.Fatal("a should renew its lock")
	}
	if try(c, "c") {
		t.Fatal("c took a lock a holds")
	}
	if try(a, "a2") {
		t.Fatal("another owner on a's store took a's lock")
	}
	// Another schema elects separately.
	other := setup(t).open(t)
	if ok, err := other.TryLeader(ctx, "jobs", "x", time.Minute); err != nil || !ok {
		t.Fatalf("lock in another schema = %v, %v; want true", ok, err)
	}
	if err := a.ReleaseLeader(ctx, "jobs", "a"); err != nil {
		t.Fatal(err)
	}
	if !try(c, "c") {
		t.Fatal("c should take the released lock")
	}
	// Kill c's session: c's renewal notices, and a can take over.
	if _, err := a.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid = $1`, 0x4c6f626c); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return try(a, "a") })
	if try(c, "c") {
		t.Fatal("c still leads after its session died")
	}
	a.Close()
	waitFor(t, func() bool { return try(c, "c") })
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestNewWithHostPool(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.open(t)
	hosted, err := postgres.New(t.Context(), s.Pool(), b.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := hosted.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("the host's pool was closed by New's store: %v", err)
	}
	if _, err := postgres.Open(context.Background(), "postgres://%zz", b.opts); err == nil {
		t.Fatal("Open with a bad URL succeeded")
	}
}
