package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRADIUSSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "radius.secret")
	if err := os.WriteFile(file, []byte("from-the-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOBBY_RADIUS_SECRET", "from-the-environment-0123")
	for _, c := range []struct {
		name, file, want, err string
	}{
		{"the file wins", file, "from-the-file-0123456789", ""},
		{"else the environment", "", "from-the-environment-0123", ""},
		{"missing file", filepath.Join(dir, "nope"), "", "--radius-secret-file"},
		{"empty file", empty, "", "is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := radiusSecret(c.file)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, errUsage) {
					t.Fatalf("error %v, want a usage error saying %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
