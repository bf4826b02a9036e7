package postgres_test

import (
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage/postgres"
)

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
	// Only the session holding this schema's "jobs" lock: tests in
	// parallel hold leader locks of their own.
	tag, err := a.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid::text::bigint = $1 AND objsubid = 2
		AND objid::text::bigint = (hashtext(current_schema() || '/jobs')::bigint + 4294967296) % 4294967296`, 0x4c6f626c)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("terminate the leader's session: %d sessions, %v; want 1", tag.RowsAffected(), err)
	}
	waitFor(t, func() bool { return try(a, "a") })
	if try(c, "c") {
		t.Fatal("c still leads after its session died")
	}
	a.Close()
	waitFor(t, func() bool { return try(c, "c") })
}
