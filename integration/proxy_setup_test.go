//go:build integration

package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/browsertest"
)

// proxyTimeout bounds each wait of the proxy tests: a program starting, a
// page loading.
const proxyTimeout = 60 * time.Second

// proxyProgram finds a program the test needs at its Debian path, or on
// PATH. Without it the test is skipped, or fails under CI=true.
func proxyProgram(t *testing.T, path, pkg string) string {
	t.Helper()
	if found, err := exec.LookPath(path); err == nil {
		return found
	}
	if found, err := exec.LookPath(filepath.Base(path)); err == nil {
		return found
	}
	msg := fmt.Sprintf("%s not found (looked at %s and on PATH); install it with: apt-get install %s", filepath.Base(path), path, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// proxyLogger logs warnings and errors into the test's output.
func proxyLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// proxyFreePort returns a loopback TCP port that was free a moment ago, for
// a program that takes its port from its configuration.
func proxyFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proxyUpstream is the protected site: it answers with the identity the
// proxy passed on and records the requests for its pages under /app/ (not
// the browser's own, such as /favicon.ico).
type proxyUpstream struct {
	URL string
	mu  sync.Mutex
	got []proxySeen
}

// proxySeen is a request the protected site served.
type proxySeen struct {
	URI                      string
	GuestID, Username, Email string
}

func proxyStartUpstream(t *testing.T) *proxyUpstream {
	t.Helper()
	u := &proxyUpstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := proxySeen{URI: r.RequestURI, GuestID: r.Header.Get("X-Lobby-Guest-Id"),
			Username: r.Header.Get("X-Lobby-Username"), Email: r.Header.Get("X-Lobby-Email")}
		if strings.HasPrefix(r.URL.Path, "/app/") {
			u.mu.Lock()
			u.got = append(u.got, s)
			u.mu.Unlock()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Protected</title><h1 id=\"hello\">Hello %s</h1>", s.Username)
	}))
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

// seen returns the requests served so far.
func (u *proxyUpstream) seen() []proxySeen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]proxySeen(nil), u.got...)
}

// proxyLobby is Lobby served over real HTTP at /guest/ on a loopback port,
// reached by browsers through the proxy at Base.
type proxyLobby struct {
	Addr   string // host:port Lobby listens on
	Base   string // the proxy's URL of Lobby, without a trailing slash
	guests *guest.Service
}

// proxyStartLobby starts Lobby for a proxy at proxyURL that puts the
// client's address in proxyHeader.
func proxyStartLobby(t *testing.T, proxyURL, proxyHeader string) *proxyLobby {
	t.Helper()
	st, key := openStore(t)
	base := proxyURL + "/guest"
	l, err := lobby.New(lobby.Config{Store: st, BaseURL: base, SecretKey: key, Logger: proxyLogger(t), ProxyHeader: proxyHeader})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close Lobby: %v", err)
		}
	})
	mux := http.NewServeMux()
	mux.Handle("/guest/", http.StripPrefix("/guest", l.Handler()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	// The guest rules on the same store, as a sponsor's actions take them.
	gs, err := guest.New(guest.Config{Store: st, BaseURL: base + "/portal", Logger: proxyLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return &proxyLobby{Addr: ln.Addr().String(), Base: base, guests: gs}
}

// proxyConfig reads a shipped deployment file and substitutes the test's
// addresses for the documented ones, failing if one of them is no longer
// in the file (the documentation changed under the test).
func proxyConfig(t *testing.T, shipped string, subst ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", shipped))
	if err != nil {
		t.Fatalf("read the shipped configuration: %v", err)
	}
	conf := string(raw)
	for i := 0; i+1 < len(subst); i += 2 {
		if !strings.Contains(conf, subst[i]) {
			t.Fatalf("%s no longer contains %q, which the test replaces; update the test with the documentation", shipped, subst[i])
		}
		conf = strings.ReplaceAll(conf, subst[i], subst[i+1])
	}
	return conf
}

// proxyRun starts a proxy program, waits until it accepts connections on
// port, and stops it when the test ends. Its output goes to the log file
// logPath, shown when it fails.
func proxyRun(t *testing.T, name string, cmd *exec.Cmd, port int, logPath string) {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	showLog := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	t.Cleanup(func() {
		// Stop the program and everything it started (nginx's workers).
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s's log:\n%s", name, showLog())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(proxyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited before it listened on %s: %v\n%s", name, addr, err, showLog())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s after %s: %v\n%s", name, addr, proxyTimeout, err, showLog())
		}
	}
}

// proxyStartNginx runs nginx with the shipped auth_request configuration
// on port, in front of Lobby and the protected site.
func proxyStartNginx(t *testing.T, port int, lobbyAddr, siteAddr string) {
	t.Helper()
	bin := proxyProgram(t, "/usr/sbin/nginx", "nginx")
	dir := t.TempDir()
	site := proxyConfig(t, "deploy/nginx/lobby-forward-auth.conf",
		"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port),
		"server 127.0.0.1:8080;", "server "+lobbyAddr+";",
		"server 127.0.0.1:3000;", "server "+siteAddr+";")
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	// The main configuration around it, as /etc/nginx/nginx.conf would be,
	// with everything nginx writes kept in dir.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers must reach dir, which only its owner may enter
	}
	main := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 128; }
http {
    access_log off;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/site.conf;
}
`, user, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "error.log")
	check := exec.Command(bin, "-t", "-p", dir, "-e", logPath, "-c", filepath.Join(dir, "nginx.conf"))
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("nginx -t rejects the configuration: %v\n%s\n%s", err, out, site)
	}
	proxyRun(t, "nginx", exec.Command(bin, "-p", dir, "-e", logPath, "-c", filepath.Join(dir, "nginx.conf")), port, filepath.Join(dir, "nginx.out"))
}

// proxyStartCaddy runs Caddy with the shipped forward_auth Caddyfile on
// port, in front of Lobby and the protected site.
func proxyStartCaddy(t *testing.T, port int, lobbyAddr, siteAddr string) {
	t.Helper()
	bin := proxyProgram(t, "/usr/bin/caddy", "caddy")
	dir := t.TempDir()
	site := proxyConfig(t, "deploy/caddy/Caddyfile",
		"wifi.example.com {", fmt.Sprintf("http://127.0.0.1:%d {", port),
		"127.0.0.1:8080", lobbyAddr,
		"127.0.0.1:3000", siteAddr)
	// No admin endpoint: two Caddy instances would share its port.
	conf := "{\n\tadmin off\n}\n\n" + site
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	proxyRun(t, "caddy", cmd, port, filepath.Join(dir, "caddy.log"))
}

// proxyTab opens a tab of browser in a browser context of its own (its
// own cookies, like a private window), bounded by proxyTimeout.
func proxyTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	return browsertest.Tab(t, browser, proxyTimeout)
}

// proxyGet fetches url with c without following redirects.
func proxyGet(t *testing.T, c *http.Client, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res, string(body)
}
