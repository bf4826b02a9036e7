package postgres_test

import (
	"fmt"
	"github.com/lobbyhq/lobby/internal/testclock"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres"
	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// backend is the Postgres backend as the conformance suite sees it: each
// test gets a fresh schema, and each open a Store with its own pool.
func backend() storetest.Backend {
	return storetest.Backend{
		Name: "postgres",
		New: func(t *testing.T) func(opts storage.Options) (storage.Store, error) {
			url, schema := pgtest.Schema(t)
			return func(opts storage.Options) (storage.Store, error) {
				return postgres.Open(t.Context(), url, postgres.Options{Options: opts, Schema: schema, MaxConns: 8})
			}
		},
		Raw:              raw,
		LeaderTTLApplies: false,
	}
}

// raw runs one statement on the pool behind s and returns every column of
// every row as bytes.
func raw(t *testing.T, s storage.Store, query string) [][]byte {
	t.Helper()
	ps, ok := s.(*postgres.Store)
	if !ok {
		t.Fatalf("raw: %T is not a *postgres.Store", s)
	}
	rows, err := ps.Pool().Query(t.Context(), query)
	if err != nil {
		t.Fatalf("raw %q: %v", query, err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatalf("raw %q: %v", query, err)
		}
		for _, v := range vals {
			out = append(out, rawBytes(v))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("raw %q: %v", query, err)
	}
	return out
}

func rawBytes(v any) []byte {
	switch v := v.(type) {
	case nil:
		return nil
	case []byte:
		return v
	case string:
		return []byte(v)
	case [16]byte:
		return []byte(uuid.UUID(v).String())
	case time.Time:
		return []byte(v.UTC().Format(time.RFC3339Nano))
	}
	return fmt.Append(nil, v)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, backend())
}

// testBundle is what a Postgres-specific test needs: a fresh schema, its
// URL, options with a test clock.
type testBundle struct {
	url    string
	schema string
	opts   postgres.Options
	clock  *testclock.Clock
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	url, schema := pgtest.Schema(t)
	c := testclock.New(time.Date(2025, 3, 1, 9, 0, 0, 123456789, time.UTC))
	return &testBundle{
		url:    url,
		schema: schema,
		clock:  c,
		opts: postgres.Options{
			Options:  storage.Options{Sealer: storetest.NewSealer(t), Now: c.Now},
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

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, storetest.BenchBackend{
		Name: "postgres",
		New: func(b *testing.B) func(opts storage.Options) (storage.Store, error) {
			url, schema := pgtest.Schema(b)
			return func(opts storage.Options) (storage.Store, error) {
				return postgres.Open(b.Context(), url, postgres.Options{Options: opts, Schema: schema})
			}
		},
	})
}
