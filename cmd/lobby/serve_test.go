package main

import (
	"bufio"
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// lobby serve --dev on a fresh data directory answers health, readiness and
// the portal, then stops cleanly when its context ends (as on SIGTERM).
func TestServeDevStartsAndStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"serve", "--dev", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, pw, io.Discard)
		pw.Close()
		done <- code
	}()

	// The first lines say where Lobby runs.
	var base, sponsorPassword string
	demo := regexp.MustCompile(`^demo sponsor: sign in at \S+/sponsor/ with username "sponsor" and password (\S+) \(new at every --dev start\)$`)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if m := demo.FindStringSubmatch(line); m != nil {
			sponsorPassword = m[1]
		}
		if _, after, ok := strings.Cut(line, " is running at "); ok {
			base = strings.TrimSpace(after)
			break
		}
	}
	if base == "" {
		t.Fatalf("serve printed no address (exit %d)", <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	client := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/healthz", "/readyz", "/portal/register", "/dev/mailbox"} {
		res, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, res.StatusCode)
		}
	}

	// The demo sponsor signs in with what was printed.
	if sponsorPassword == "" {
		t.Fatal("serve --dev printed no demo sponsor sign-in")
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Timeout: 10 * time.Second, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.Get(base + "/sponsor/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no sign-in form at /sponsor/login: %d", res.StatusCode)
	}
	res, err = browser.PostForm(base+"/sponsor/login", url.Values{"csrf_token": {html.UnescapeString(string(m[1]))},
		"username": {"sponsor"}, "password": {sponsorPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("the demo sponsor's sign-in = %d, want 303", res.StatusCode)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d after its context ended, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of its context ending")
	}
}

func TestPortalPolicyFlags(t *testing.T) {
	t.Parallel()
	p := portalFlags{Fields: "phone, company*,reason", Approvers: "a@example.com, b@example.com", UsernamePolicy: "email"}
	pol, err := p.policy()
	if err != nil {
		t.Fatal(err)
	}
	if !pol.Fields.Phone.Show || pol.Fields.Phone.Required || !pol.Fields.Company.Required || pol.Fields.PersonVisited.Show || !pol.Fields.Reason.Show {
		t.Errorf("fields = %+v", pol.Fields)
	}
	if len(pol.Approvers) != 2 || pol.Approvers[1] != "b@example.com" {
		t.Errorf("approvers = %q", pol.Approvers)
	}
	p.Fields = "phone,shoe_size"
	if _, err := p.policy(); err == nil || !strings.Contains(err.Error(), `unknown field "shoe_size"`) {
		t.Errorf("unknown field: err = %v", err)
	}
}

func TestServeDevRefusesRemoteAddress(t *testing.T) {
	t.Parallel()
	var out, errOut strings.Builder
	code := run(t.Context(), []string{"serve", "--dev", "--addr", "0.0.0.0:0", "--data-dir", t.TempDir()}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "listen on a loopback address") {
		t.Fatalf("serve --dev on 0.0.0.0 = %d, %q", code, errOut.String())
	}
}

// --templates must name a directory whose templates parse: a mistake stops
// the start with a message naming the file, not the first email.
func TestServeTemplatesDirectoryChecked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errOut strings.Builder
	missing := filepath.Join(dir, "nope")
	if code := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--templates", missing}, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "is not a directory") {
		t.Errorf("missing directory: exit %d, %q", code, errOut.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "guest_denied.txt.tmpl"), []byte("Hello\n{{.GuestName"), 0o600); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	if code := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--templates", dir}, &out, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), "guest_denied.txt.tmpl: Plain-text body, line 2: unclosed action") {
		t.Errorf("template with a syntax error: exit %d, %q", code, errOut.String())
	}
}
