package storage_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

// sqlState is an error that carries an SQLSTATE, as pgconn.PgError does.
type sqlState string

func (s sqlState) Error() string    { return "server said " + string(s) }
func (s sqlState) SQLState() string { return string(s) }

func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"ErrUnavailable wrapped", fmt.Errorf("sqlite: begin: %w", storage.ErrUnavailable), true},
		{"Unavailable(err)", fmt.Errorf("op: %w", storage.Unavailable(errors.New("busy"))), true},
		{"connection refused", fmt.Errorf("postgres: get guest: %w", refused), true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"deadline", fmt.Errorf("acquire: %w", context.DeadlineExceeded), true},
		{"SQLSTATE 08006", fmt.Errorf("x: %w", sqlState("08006")), true},
		{"SQLSTATE 57P01 admin shutdown", fmt.Errorf("x: %w", sqlState("57P01")), true},
		{"SQLSTATE 57P03 starting up", sqlState("57P03"), true},
		{"SQLSTATE 23505 unique", sqlState("23505"), false},
		{"not found", fmt.Errorf("x: %w", storage.ErrNotFound), false},
		{"conflict", storage.ErrConflict, false},
		{"cancelled by the client", context.Canceled, false},
		{"other", errors.New("boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := storage.IsUnavailable(tc.err); got != tc.want {
				t.Errorf("IsUnavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestUnavailableKeepsChain(t *testing.T) {
	t.Parallel()
	inner := fmt.Errorf("scan: %w", storage.ErrNotFound)
	err := storage.Unavailable(inner)
	if !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Unavailable(%v): Is ErrUnavailable %v, Is ErrNotFound %v", inner, errors.Is(err, storage.ErrUnavailable), errors.Is(err, storage.ErrNotFound))
	}
	if err.Error() != inner.Error() {
		t.Errorf("message %q, want %q", err.Error(), inner.Error())
	}
	if storage.Unavailable(nil) != nil {
		t.Error("Unavailable(nil) is not nil")
	}
}
