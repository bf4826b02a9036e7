package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BinaryEnv names a lobby binary to soak instead of building one from this
// checkout (a release, or a build with other flags).
const BinaryEnv = "LOBBY_SOAK_BINARY"

// readyTimeout bounds how long a started process has to answer /readyz.
const readyTimeout = 60 * time.Second

// lobbyBinary builds cmd/lobby into a temporary directory (with the race
// detector when the test binary has it) and returns its path.
func lobbyBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(BinaryEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatalf("%s=%q: %v", BinaryEnv, p, err)
		}
		return abs
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH (it builds the lobby binary the suite runs; or set %s): %v", BinaryEnv, err)
	}
	bin := filepath.Join(t.TempDir(), "lobby")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, append(args, "./cmd/lobby")...)
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/lobby: %v\n%s", err, out)
	}
	return bin
}

// childEnv is the environment of a lobby child process: this process's,
// without any LOBBY_ variable (a developer's own settings must not leak in),
// plus vars.
func childEnv(vars ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOBBY_") {
			env = append(env, kv)
		}
	}
	return append(env, vars...)
}

// runLobby runs a one-shot lobby command (migrate, test-connection, ...)
// and returns its combined output.
func runLobby(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.SysProcAttr = childAttr()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// node is one `lobby serve` process, started again on the same address
// after it is killed.
type node struct {
	t       *testing.T
	name    string
	bin     string
	env     []string
	addr    string // 127.0.0.1:port, the same across restarts
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has exited
	waitErr error
	killed  bool // the last exit was ours
}

// newNode prepares a node; start runs it. Whatever runs when the test ends
// is killed.
func newNode(t *testing.T, name, bin, logDir string, env []string) *node {
	t.Helper()
	n := &node{t: t, name: name, bin: bin, env: env, addr: freeAddr(t), logPath: filepath.Join(logDir, name+".log")}
	t.Cleanup(func() {
		if n.running() {
			n.kill()
		}
	})
	return n
}

// freeAddr returns a loopback address with a port nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// URL is the node's root URL.
func (n *node) URL() string { return "http://" + n.addr }

// start starts the process and waits until it answers /readyz.
func (n *node) start(ctx context.Context) {
	n.t.Helper()
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		n.t.Fatal(err)
	}
	fmt.Fprintf(logf, "\n--- %s: start %s\n", time.Now().Format(time.RFC3339Nano), n.name)
	cmd := exec.Command(n.bin, "serve", "--addr", n.addr)
	cmd.Env = n.env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		n.t.Fatalf("%s: start lobby serve: %v", n.name, err)
	}
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited, n.waitErr, n.killed = cmd, exited, nil, false
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.waitErr = err
		n.mu.Unlock()
		close(exited)
	}()
	if err := waitReady(ctx, n.URL(), exited, readyTimeout); err != nil {
		n.t.Fatalf("%s: %v\n%s", n.name, err, n.logTail())
	}
}

// running reports whether the process is up.
func (n *node) running() bool {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *node) kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.killed = true
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// checkAlive fails the test when the process exited without being killed.
func (n *node) checkAlive() {
	n.t.Helper()
	n.mu.Lock()
	killed, err := n.killed, n.waitErr
	n.mu.Unlock()
	if !killed && !n.running() {
		n.t.Errorf("%s: lobby serve exited by itself (%v)\n%s", n.name, err, n.logTail())
	}
}

// logTail is the end of the node's log, for failure messages.
func (n *node) logTail() string {
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return fmt.Sprintf("--- end of %s:\n%s", filepath.Base(n.logPath), b)
}

// waitReady polls url/readyz until it answers 200, the process exits or
// timeout passes.
func waitReady(ctx context.Context, url string, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz", nil)
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz: %s", res.Status)
		}
		last = err
		select {
		case <-exited:
			return errors.New("lobby serve exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("not ready within %v: %w", timeout, last)
		case <-tick.C:
		}
	}
}
