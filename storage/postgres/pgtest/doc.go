// Package pgtest gives tests in any package an isolated PostgreSQL schema on
// the database named by LOBBY_TEST_DATABASE_URL, in the spirit of
// net/http/httptest. It imports package testing, so only tests import it:
// production binaries that use storage/postgres do not carry it.
package pgtest
