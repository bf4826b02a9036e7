package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// runSettings runs "lobby settings VERB args..." on the data directory dir.
func runSettings(t *testing.T, dir, verb string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"settings", verb, "--data-dir", dir}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// Settings saved by test-connection export without the client secret, and
// import back keeping it: the stored settings still pass the test.
func TestSettingsExportImportCLI(t *testing.T) {
	t.Parallel()
	emu := exchangetest.NewServer(t, exchangetest.Options{})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, emu.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, dir, "test-connection", "--save", "--smtp-host", emu.SMTPHost(), "--smtp-port", strconv.Itoa(emu.SMTPPort()),
		"--smtp-from", emu.Mailbox(), "--smtp-auth", "exchange-online-oauth", "--tenant-id", emu.Tenant(),
		"--client-id", emu.ClientID(), "--client-secret", emu.ClientSecret(), "--token-endpoint", emu.TokenEndpointBase(),
		"--ca-file", caFile)
	if code != 0 {
		t.Fatalf("test-connection --save: %d\n%s%s", code, out, errOut)
	}

	file := filepath.Join(dir, "settings.json")
	code, out, errOut = runSettings(t, dir, "export", "-o", file)
	if code != 0 {
		t.Fatalf("settings export: %d\n%s%s", code, out, errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data)+out+errOut, emu.ClientSecret()) {
		t.Fatal("the export shows the client secret")
	}
	if !strings.Contains(string(data), emu.ClientID()) || !strings.Contains(string(data), "BEGIN CERTIFICATE") {
		t.Fatalf("the export lacks the client ID or the trusted CA:\n%s", data)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	code, stdout, _ := runSettings(t, dir, "export")
	if code != 0 || withoutExportTime(stdout) != withoutExportTime(string(data)) {
		t.Fatalf("settings export to standard output: %d, and it differs from the file:\n%s", code, stdout)
	}

	code, out, errOut = run2(t, "settings", "import", file, "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "imported: settings [smtp]") || !strings.Contains(out, "secrets kept [smtp.client_secret]") {
		t.Fatalf("settings import: %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, emu.ClientSecret()) {
		t.Fatal("the import's output shows the client secret")
	}
	code, out, errOut = runCmd(t, dir, "test-connection")
	if code != 0 || !strings.Contains(out, "Connection test passed") {
		t.Fatalf("test-connection after the import (the secret must be kept): %d\n%s%s", code, out, errOut)
	}

	code, _, errOut = runSettings(t, dir, "import")
	if code != 2 || !strings.Contains(errOut, "give the file to import") {
		t.Errorf("settings import without a file: %d %q", code, errOut)
	}
	bad := filepath.Join(dir, "v9.json")
	if err := os.WriteFile(bad, []byte(`{"version": 9}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runSettings(t, dir, "import", bad)
	if code != 1 || !strings.Contains(errOut, "version 9, and this Lobby reads version 1") {
		t.Errorf("settings import of version 9: %d %q", code, errOut)
	}
}

// withoutExportTime is a settings file without its exported_at line.
func withoutExportTime(s string) string {
	var keep []string
	for line := range strings.Lines(s) {
		if !strings.Contains(line, `"exported_at"`) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

func run2(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}
