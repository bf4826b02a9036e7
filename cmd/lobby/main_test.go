package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// runCmd runs the command line in a fresh data directory and returns its
// exit status and output.
func runCmd(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	n := 1 // the command words before the flags
	if args[0] == "user" || args[0] == "token" {
		n = 2
	}
	args = append(append(append([]string{}, args[:n]...), "--data-dir", dir), args[n:]...)
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve", "--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"send-test-email", "--to", "not-an-address", "--dev"}, 2, "--to must be an email address"},
		{[]string{"user", "add", "--username", "x", "--role", "king"}, 2, "--role must be sponsor or admin"},
		{[]string{"test-connection", "--stored=false", "--smtp-host", "smtp.example.com"}, 1, "the SMTP settings are incomplete"},
		{[]string{"send-test-email", "--save", "--to", "a@example.com", "--dev"}, 2, "flag provided but not defined: -save"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
			t.Errorf("lobby %v = %d, %q%q; want %d and %q", tc.args, code, out.String(), errOut.String(), tc.code, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "lobby ") {
		t.Fatalf("version = %d, %q", code, out.String())
	}
}

func TestMigrateGeneratesKeyOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := runCmd(t, dir, "migrate")
	if code != 0 || !strings.Contains(out, "sqlite database is migrated") {
		t.Fatalf("migrate = %d, %q, %q", code, out, errOut)
	}
	keyPath := filepath.Join(dir, "secret.key")
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret.key mode = %v, want 0600", fi.Mode().Perm())
	}
	key1, _ := os.ReadFile(keyPath)
	if code, _, errOut := runCmd(t, dir, "migrate"); code != 0 {
		t.Fatalf("second migrate = %d, %q", code, errOut)
	}
	key2, _ := os.ReadFile(keyPath)
	if !bytes.Equal(key1, key2) {
		t.Fatal("the key changed on the second run")
	}
	if strings.Contains(out+errOut, strings.TrimSpace(string(key1))) {
		t.Fatal("the secret key was printed")
	}
}

func TestDevVariableMustParse(t *testing.T) {
	t.Setenv("LOBBY_DEV", "yes")
	code, _, errOut := runCmd(t, t.TempDir(), "serve", "--addr", "127.0.0.1:0")
	if code != 2 || !strings.Contains(errOut, `LOBBY_DEV="yes" is not true or false`) {
		t.Fatalf("serve with LOBBY_DEV=yes = %d, %q", code, errOut)
	}
}

func TestWrongKeyIsAClearError(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCmd(t, dir, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	t.Setenv("LOBBY_SECRET_KEY", "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=")
	code, _, errOut := runCmd(t, dir, "migrate")
	if code != 1 || !strings.Contains(errOut, "secret key does not match") || strings.Contains(errOut, "lobby: lobby:") {
		t.Fatalf("migrate with another key = %d, %q", code, errOut)
	}
}

func TestPostgresNeedsAKey(t *testing.T) {
	t.Setenv("LOBBY_SECRET_KEY", "")
	code, _, errOut := runCmd(t, t.TempDir(), "migrate", "--database-url", "postgres://nobody@127.0.0.1:1/none")
	if code != 1 || !strings.Contains(errOut, "LOBBY_SECRET_KEY is required with Postgres") {
		t.Fatalf("migrate on postgres without a key = %d, %q", code, errOut)
	}
}

func TestUserAdd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := runCmd(t, dir, "user", "add", "--username", "Alice", "--role", "admin")
	if code != 0 || !strings.Contains(out, `created admin "Alice"`) || !strings.Contains(out, "password (shown once): ") {
		t.Fatalf("user add = %d, %q, %q", code, out, errOut)
	}
	code, _, errOut = runCmd(t, dir, "user", "add", "--username", "alice")
	if code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("second user add = %d, %q", code, errOut)
	}
}

func TestTestConnectionDev(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCmd(t, t.TempDir(), "test-connection", "--dev")
	if code != 0 {
		t.Fatalf("test-connection --dev = %d\n%s%s", code, out, errOut)
	}
	for _, step := range []string{"dial", "starttls", "token", "auth", "Connection test passed"} {
		if !strings.Contains(out, step) {
			t.Errorf("output lacks %q:\n%s", step, out)
		}
	}
}

func TestTestConnectionFailsWithDiagnosis(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, _ := runCmd(t, dir, "test-connection", "--stored=false", "--smtp-host", "smtp.office365.invalid",
		"--smtp-from", "no-reply@example.com", "--smtp-auth", "none", "--timeout", "2s")
	if code != 1 || !strings.Contains(out, "unknown_host") || !strings.Contains(out, "What to do:") {
		t.Fatalf("test-connection to an unknown host = %d\n%s", code, out)
	}
}

func TestSendTestEmailDev(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCmd(t, t.TempDir(), "send-test-email", "--dev", "--to", "someone@example.com", "--count", "3")
	if code != 0 || !strings.Contains(out, "3 sent, 0 deferred, 0 failed, 0 pending") ||
		!strings.Contains(out, "The emulator captured 3 of these message(s) and answered 1 token request(s)") {
		t.Fatalf("send-test-email --dev = %d\n%s%s", code, out, errOut)
	}
}

// send-test-email's summary counts every message once, as the outbox has it
// when the command exits, and its "sent" is what the server received: with
// a slow server and more workers than the wait lets finish, the sends still
// in flight when the wait ends complete during the shutdown and are counted
// as sent, not as pending.
func TestSendTestEmailSummaryIsExact(t *testing.T) {
	t.Parallel()
	const n = 12
	emu := exchangetest.NewServer(t, exchangetest.Options{})
	emu.SetSMTPLatency(150 * time.Millisecond) // a send takes a second or two
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, emu.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, dir, "send-test-email", "--to", "someone@example.com", "--count", strconv.Itoa(n),
		"--workers", "6", "--wait", "500ms",
		"--smtp-host", emu.SMTPHost(), "--smtp-port", strconv.Itoa(emu.SMTPPort()), "--smtp-from", emu.Mailbox(),
		"--smtp-auth", "exchange-online-oauth", "--tenant-id", emu.Tenant(), "--client-id", emu.ClientID(),
		"--client-secret", emu.ClientSecret(), "--token-endpoint", emu.TokenEndpointBase(), "--ca-file", caFile)
	m := regexp.MustCompile(`(?m)^(\d+) sent, (\d+) deferred, (\d+) failed, (\d+) pending in `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("send-test-email = %d, no summary:\n%s%s", code, out, errOut)
	}
	var counts [4]int
	for i := range counts {
		counts[i], _ = strconv.Atoi(m[i+1])
	}
	if sum := counts[0] + counts[1] + counts[2] + counts[3]; sum != n {
		t.Errorf("summary counts %v add up to %d, want %d:\n%s", counts, sum, n, out)
	}
	if got := len(emu.Messages()); got != counts[0] {
		t.Errorf("summary says %d sent; the server received %d:\n%s", counts[0], got, out)
	}
	if counts[0] == 0 {
		t.Logf("no send finished: the test may not test what it says:\n%s", out)
	}
}

func TestTestConnectionSavesOnlyAfterSuccess(t *testing.T) {
	t.Parallel()
	emu := exchangetest.NewServer(t, exchangetest.Options{})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, emu.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	args := func(secret string) []string {
		return []string{"test-connection", "--save", "--smtp-host", emu.SMTPHost(), "--smtp-port", strconv.Itoa(emu.SMTPPort()),
			"--smtp-from", emu.Mailbox(), "--smtp-auth", "exchange-online-oauth", "--tenant-id", emu.Tenant(),
			"--client-id", emu.ClientID(), "--client-secret", secret, "--token-endpoint", emu.TokenEndpointBase(),
			"--ca-file", caFile}
	}
	code, out, _ := runCmd(t, dir, args(emu.SecretID())...)
	if code != 1 || !strings.Contains(out, "invalid_client_secret") || !strings.Contains(out, "Nothing was saved") {
		t.Fatalf("with the secret's ID: %d\n%s", code, out)
	}
	if strings.Contains(out, emu.ClientSecret()) || strings.Contains(out, emu.SecretID()) {
		t.Fatal("the output shows the secret")
	}
	code, out, errOut := runCmd(t, dir, args(emu.ClientSecret())...)
	if code != 0 || !strings.Contains(out, "Saved as version 1") {
		t.Fatalf("with the secret's value: %d\n%s%s", code, out, errOut)
	}
	// The stored settings are what test-connection uses by default now.
	code, out, errOut = runCmd(t, dir, "test-connection")
	if code != 0 || !strings.Contains(out, "Connection test passed") {
		t.Fatalf("test-connection with stored settings: %d\n%s%s", code, out, errOut)
	}
	if got := emu.TokenRequests(); got != 3 {
		t.Errorf("token requests = %d, want 3 (one per test; a connection test never uses a cached token)", got)
	}
}
