package devmail_test

import (
	"context"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/notify/exchangetest/devmail"
)

// TestSettingsReachTheEmulator: the settings are valid and pass notify's
// Test Connection against the emulator they were made for, token, STARTTLS
// with its CA and XOAUTH2 included.
func TestSettingsReachTheEmulator(t *testing.T) {
	t.Parallel()
	srv := exchangetest.NewServer(t, exchangetest.Options{})
	s := devmail.Settings(srv)
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if s.Security != notify.SecurityStartTLS || s.AuthMode != notify.AuthExchangeOnline || s.From != srv.Mailbox() {
		t.Errorf("Settings = security %q, auth %q, from %q", s.Security, s.AuthMode, s.From)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if r := notify.TestConnection(ctx, s); !r.OK() {
		t.Fatalf("TestConnection:\n%s", r)
	}
	if srv.TokensIssued() != 1 || srv.AuthAttempts() != 1 {
		t.Errorf("TokensIssued %d, AuthAttempts %d; want 1 and 1", srv.TokensIssued(), srv.AuthAttempts())
	}
}
