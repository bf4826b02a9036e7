package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres"
	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// downStore is a Store that, once down is called, fails the reads and
// transactions a registration needs with err, as a backend does when its
// database is out of reach.
type downStore struct {
	storage.Store
	mu  sync.Mutex
	err error
}

func (s *downStore) down(err error) { s.mu.Lock(); s.err = err; s.mu.Unlock() }

func (s *downStore) fault() error { s.mu.Lock(); defer s.mu.Unlock(); return s.err }

func (s *downStore) GetGuest(ctx context.Context, id uuid.UUID) (*storage.Guest, error) {
	if err := s.fault(); err != nil {
		return nil, err
	}
	return s.Store.GetGuest(ctx, id)
}

func (s *downStore) GetGuestByEmail(ctx context.Context, email string) (*storage.Guest, error) {
	if err := s.fault(); err != nil {
		return nil, err
	}
	return s.Store.GetGuestByEmail(ctx, email)
}

func (s *downStore) GetGuestType(ctx context.Context, name string) (*storage.GuestType, error) {
	if err := s.fault(); err != nil {
		return nil, err
	}
	return s.Store.GetGuestType(ctx, name)
}

func (s *downStore) WithTx(ctx context.Context, fn func(storage.Store) error) error {
	if err := s.fault(); err != nil {
		return err
	}
	return s.Store.WithTx(ctx, fn)
}

// checkUnavailablePage checks that r is the portal's styled 503 page with
// Retry-After, which names none of the cause.
func checkUnavailablePage(t *testing.T, r response, cause string) {
	t.Helper()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503\n%s", r.StatusCode, r.body)
	}
	if ra := r.Header.Get("Retry-After"); ra != "60" {
		t.Errorf("Retry-After %q, want 60", ra)
	}
	if !strings.Contains(r.body, "briefly unavailable") || !strings.Contains(r.body, "Try again in a minute") {
		t.Errorf("page does not say the service is briefly unavailable:\n%s", r.body)
	}
	if !strings.Contains(r.body, `rel="stylesheet"`) {
		t.Errorf("page is not the styled portal page:\n%s", r.body)
	}
	if cause != "" && strings.Contains(r.body, cause) {
		t.Errorf("page shows the cause %q:\n%s", cause, r.body)
	}
}

// TestRegisterStoreUnavailable: a registration while the database is out
// of reach answers 503 with Retry-After and the cause in the log, not on
// the page; any other store fault is still a 500.
func TestRegisterStoreUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"connection refused", fmt.Errorf("postgres: get guest by email: %w", syscall.ECONNREFUSED), http.StatusServiceUnavailable},
		{"sqlite busy", fmt.Errorf("sqlite: begin: %w", storage.Unavailable(errors.New("database is locked (5) (SQLITE_BUSY)"))), http.StatusServiceUnavailable},
		{"deadline", fmt.Errorf("postgres: acquire: %w", context.DeadlineExceeded), http.StatusServiceUnavailable},
		{"fault", errors.New("sqlite: get guest by email: no such column: email_fold"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			var ds *downStore
			b := setup(t, func(c *Config) {
				ds = &downStore{Store: c.Store}
				c.Store = ds
				c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			})
			c := b.client(t)
			form := c.registerForm()
			ds.down(tc.err)
			r := c.post(mount+"/register", form)
			if tc.want == http.StatusServiceUnavailable {
				checkUnavailablePage(t, r, tc.err.Error())
			} else {
				if r.StatusCode != tc.want {
					t.Fatalf("status %d, want %d\n%s", r.StatusCode, tc.want, r.body)
				}
				if ra := r.Header.Get("Retry-After"); ra != "" {
					t.Errorf("Retry-After %q on a %d", ra, r.StatusCode)
				}
			}
			if !strings.Contains(logs.String(), tc.err.Error()) {
				t.Errorf("the cause %q is not in the log:\n%s", tc.err, logs.String())
			}
		})
	}
}

// TestRegisterPostgresDown: on Postgres whose pool is closed, the
// register page and a registration answer 503 with Retry-After.
func TestRegisterPostgresDown(t *testing.T) {
	t.Parallel()
	url, schema := pgtest.Schema(t)
	pg, err := postgres.Open(t.Context(), url, postgres.Options{
		Options: storage.Options{Sealer: storetest.NewSealer(t)}, Schema: schema, MaxConns: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close() })
	b := setup(t, func(c *Config) { c.Store = pg })
	c := b.client(t)
	form := c.registerForm()
	pg.Pool().Close()
	checkUnavailablePage(t, c.post(mount+"/register", form), "closed pool")
}
