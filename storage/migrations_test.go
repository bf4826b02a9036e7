package storage_test

import (
	"testing"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres"
	"github.com/lobbyhq/lobby/storage/sqlite"
)

// TestBackendsMigrateInStep: both backends have the same migrations, by
// number and name, so one schema version means the same on either.
func TestBackendsMigrateInStep(t *testing.T) {
	t.Parallel()
	pg, err := postgres.Migrations()
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	lite, err := sqlite.Migrations()
	if err != nil {
		t.Fatalf("sqlite: %v", err)
	}
	name := func(ms []storage.Migration, i int) string {
		if i >= len(ms) {
			return "(none)"
		}
		return ms[i].Name
	}
	for i := range max(len(pg), len(lite)) {
		if name(pg, i) != name(lite, i) {
			t.Errorf("migration %03d: postgres has %s, sqlite %s", i+1, name(pg, i), name(lite, i))
		}
	}
	if len(pg) == 0 {
		t.Fatal("no migrations")
	}
}
