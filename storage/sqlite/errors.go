package sqlite

import (
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/lobbyhq/lobby/storage"
)

// unavailable reports whether err means the database cannot be used for
// now: what storage.IsUnavailable recognises, or SQLite still busy or
// locked once its busy timeout ran out (another writer, in this process or
// another, held the file that long).
func unavailable(err error) bool {
	if storage.IsUnavailable(err) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// classify marks err with storage.ErrUnavailable when it means the
// database cannot be used for now (see unavailable); other errors pass
// unchanged.
func classify(err error) error {
	if err != nil && unavailable(err) {
		return storage.Unavailable(err)
	}
	return err
}
