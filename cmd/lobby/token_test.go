package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestTokenAddListRevoke: "lobby token add" prints a token once, for a
// staff user who exists; list shows it without the secret; revoke ends it.
func TestTokenAddListRevoke(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, _, errOut := runCmd(t, dir, "token", "add", "--user", "nobody"); code == 0 || !strings.Contains(errOut, `no staff user "nobody"`) {
		t.Fatalf("token add for nobody = %d, %q", code, errOut)
	}
	if code, _, errOut := runCmd(t, dir, "token", "add"); code != 2 || !strings.Contains(errOut, "--user is required") {
		t.Fatalf("token add without --user = %d, %q", code, errOut)
	}
	if code, out, errOut := runCmd(t, dir, "user", "add", "--username", "kiosk"); code != 0 {
		t.Fatalf("user add = %d, %q, %q", code, out, errOut)
	}
	code, out, errOut := runCmd(t, dir, "token", "add", "--user", "kiosk", "--name", "visitor kiosk", "--expires", "90d")
	if code != 0 {
		t.Fatalf("token add = %d, %q", code, errOut)
	}
	m := regexp.MustCompile(`created API token (\S+) for "kiosk", working until \S+\ntoken \(shown once\): (lobby_\S{43})\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("token add printed %q", out)
	}
	id, token := m[1], m[2]
	code, out, _ = runCmd(t, dir, "token", "list")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "visitor kiosk") || !strings.Contains(out, token[:10]+"…") || strings.Contains(out, token) {
		t.Fatalf("token list = %d, %q; want the token's ID, name and hint, never the token", code, out)
	}
	if code, out, errOut := runCmd(t, dir, "token", "revoke", "--id", id); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke = %d, %q, %q", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, dir, "token", "revoke", "--id", id); code == 0 || !strings.Contains(errOut, "no such token") {
		t.Fatalf("token revoke again = %d, %q", code, errOut)
	}
	if _, out, _ := runCmd(t, dir, "token", "list"); strings.Contains(out, id) {
		t.Fatalf("a revoked token is listed: %q", out)
	}
}
