package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApp builds the app as main does and checks what a visitor sees: the
// guarded /wifi sends them to the portal's login page, and the portal is
// served under /guest/portal/. With -dev the emulator's mailbox is there too.
func TestApp(t *testing.T) {
	t.Parallel()
	for _, dev := range []bool{false, true} {
		name := "plain"
		if dev {
			name = "dev"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			key := make([]byte, 32)
			rand.Read(key)
			a, err := newApp(t.Context(), options{
				DB:      filepath.Join(t.TempDir(), "data", "lobby.db"),
				Key:     key,
				BaseURL: "http://127.0.0.1:8080",
				Dev:     dev,
				Logger:  slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := a.Close(); err != nil {
					t.Error(err)
				}
			})
			srv := httptest.NewServer(a.handler)
			t.Cleanup(srv.Close)
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			get := func(path string) (*http.Response, string) {
				t.Helper()
				res, err := client.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, err := io.ReadAll(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				return res, string(b)
			}

			res, _ := get("/wifi")
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/guest/portal/login?return=%2Fwifi" {
				t.Errorf("GET /wifi signed out: %d %q, want 303 to the login page", res.StatusCode, res.Header.Get("Location"))
			}
			res, body := get("/guest/portal/register")
			if res.StatusCode != http.StatusOK || !strings.Contains(body, "Register for guest access") {
				t.Errorf("GET /guest/portal/register: %d, want the register page:\n%s", res.StatusCode, body)
			}
			res, body = get("/guest/portal/login?return=%2Fwifi")
			if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="return" value="/wifi"`) {
				t.Errorf("GET login page: %d, want a form returning to /wifi:\n%s", res.StatusCode, body)
			}
			res, _ = get("/guest/dev/mailbox")
			if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[dev]; res.StatusCode != want {
				t.Errorf("GET /guest/dev/mailbox: %d, want %d", res.StatusCode, want)
			}
		})
	}
}

// TestLoadKey: the first start writes a new key, private to the user; the
// next start reads the same key back.
func TestLoadKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "lobby.key")
	k1, err := loadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	k2, err := loadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != 32 || !bytes.Equal(k1, k2) {
		t.Errorf("keys %x and %x, want the same 32 bytes", k1, k2)
	}
}
