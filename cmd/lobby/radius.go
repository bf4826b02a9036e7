package main

import (
	"fmt"
	"os"
	"strings"
)

// radiusSecret returns the secret of the RADIUS endpoint: the content of
// file (--radius-secret-file), else LOBBY_RADIUS_SECRET, else "" (off). It
// is never a flag's value, which any user of the host could read.
func radiusSecret(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv("LOBBY_RADIUS_SECRET")), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%w: --radius-secret-file: %w; give a file holding the secret FreeRADIUS sends (make one with: openssl rand -hex 32 > radius.secret)", errUsage, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%w: --radius-secret-file %s is empty; put the secret FreeRADIUS sends in it (openssl rand -hex 32)", errUsage, file)
	}
	return s, nil
}
