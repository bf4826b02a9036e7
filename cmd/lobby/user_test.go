package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/internal/passhash"
	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/sqlite"
	"github.com/lobbyhq/lobby/storage/storetest"
)

func TestUserAddGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, _, errOut := runCmd(t, dir, "user", "add", "--username", "bob", "--group", "nosuch")
	if code == 0 || !strings.Contains(errOut, `no sponsor group "nosuch"`) {
		t.Fatalf("user add --group nosuch = %d, %q; want a refusal naming the group", code, errOut)
	}
	if code, out, errOut := runCmd(t, dir, "user", "add", "--username", "bob", "--group", storage.DefaultSponsorGroup); code != 0 {
		t.Fatalf("user add --group default = %d, %q, %q", code, out, errOut)
	}
}

// TestDevStaff: every development start prints where to sign in and a
// password that works, and the one printed before stops working.
func TestDevStaff(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: storetest.NewSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	line := regexp.MustCompile(`demo sponsor: sign in at http://127\.0\.0\.1:8080/sponsor/ with username "sponsor" and password (\S+)`)
	var prev string
	for round := range 2 {
		var out bytes.Buffer
		if err := devStaff(t.Context(), st, &out, "http://127.0.0.1:8080/"); err != nil {
			t.Fatal(err)
		}
		m := line.FindStringSubmatch(out.String())
		if m == nil || !strings.Contains(out.String(), `demo admin: sign in at http://127.0.0.1:8080/sponsor/ with username "admin"`) {
			t.Fatalf("round %d printed %q; want the sign-in URL and credentials of both", round, out.String())
		}
		sp, err := st.GetStaffByUsername(t.Context(), "sponsor")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := passhash.Verify(sp.PasswordHash, m[1]); !ok || err != nil {
			t.Fatalf("round %d: the printed password does not verify: %v", round, err)
		}
		if prev != "" {
			if ok, _ := passhash.Verify(sp.PasswordHash, prev); ok {
				t.Fatal("the password printed on the previous start still works")
			}
		}
		prev = m[1]
	}
}
