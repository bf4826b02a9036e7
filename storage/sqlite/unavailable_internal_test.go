package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

// TestBusyIsUnavailable: SQLite still busy once its busy timeout ran out
// (another connection holds the write lock) is unavailable; other SQLite
// errors are not.
func TestBusyIsUnavailable(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "busy.db")
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", path+"?_busy_timeout=20&_txlock=immediate")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	if _, err := a.Exec("CREATE TABLE t (x INTEGER UNIQUE)"); err != nil {
		t.Fatal(err)
	}
	tx, err := a.Begin() // holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	_, err = b.Exec("INSERT INTO t VALUES (1)")
	if err == nil {
		t.Fatal("insert while another connection holds the write lock: no error")
	}
	if got := classify(err); !errors.Is(got, storage.ErrUnavailable) || !storage.IsUnavailable(got) {
		t.Errorf("classify(%v) is not unavailable", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	_, err = b.Exec("INSERT INTO t VALUES (1)")
	if err == nil || storage.IsUnavailable(classify(err)) {
		t.Errorf("a unique violation (%v) classified as unavailable", err)
	}
}
