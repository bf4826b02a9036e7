package sqlite

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// opener opens Stores on one fresh database file in dir.
func opener(dir string) func(opts storage.Options) (storage.Store, error) {
	path := filepath.Join(dir, "lobby.db")
	return func(opts storage.Options) (storage.Store, error) {
		s, err := Open(context.Background(), path, opts)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return s, nil
	}
}

// raw runs query on the writer, bypassing the Store's sealing.
func raw(t *testing.T, s storage.Store, query string) [][]byte {
	t.Helper()
	st, ok := s.(*Store)
	if !ok {
		t.Fatalf("raw: %T is not a *sqlite.Store", s)
	}
	rows, err := st.w.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatalf("raw %q: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			switch v := v.(type) {
			case nil:
				out = append(out, nil)
			case []byte:
				out = append(out, v)
			case string:
				out = append(out, []byte(v))
			case int64:
				out = append(out, []byte(strconv.FormatInt(v, 10)))
			case float64:
				out = append(out, []byte(strconv.FormatFloat(v, 'g', -1, 64)))
			default:
				t.Fatalf("raw %q: unexpected column type %T", query, v)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("raw %q: %v", query, err)
	}
	return out
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Backend{
		Name:             "sqlite",
		New:              func(t *testing.T) func(storage.Options) (storage.Store, error) { return opener(t.TempDir()) },
		Raw:              raw,
		LeaderTTLApplies: true,
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, storetest.BenchBackend{
		Name: "sqlite",
		New:  func(b *testing.B) func(storage.Options) (storage.Store, error) { return opener(b.TempDir()) },
	})
}
