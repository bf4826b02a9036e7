//go:build soak

package soak

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgCluster is a PostgreSQL cluster of the test's own, in a temporary
// directory on a free loopback port, so that a scenario can stop and start
// it without touching any server someone else uses.
type pgCluster struct {
	t       *testing.T
	bin     string // the directory of initdb and pg_ctl
	base    string // owns data/, the socket and the log
	port    int
	asUser  string // run the server as this user (when the test runs as root)
	logPath string
}

// pgBinDir finds initdb and pg_ctl: the newest /usr/lib/postgresql/*/bin
// (Debian, Ubuntu), else the directory of pg_ctl on PATH.
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// startPGCluster initdb's and starts a cluster, stopped and removed when the
// test ends. Without PostgreSQL's server programs the test is skipped, or
// fails under CI=true.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		const msg = "no PostgreSQL server programs (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or on PATH; " +
			"install them (apt-get install postgresql) to run the database restart scenario"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// Not t.TempDir: the server's user must be able to reach the directory.
	base, err := os.MkdirTemp("", "lobby-soak-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{t: t, bin: bin, base: base, logPath: filepath.Join(base, "postgres.log")}
	t.Cleanup(func() {
		if c.running() {
			_, _ = c.ctl("stop", "-m", "immediate", "-w", "-t", "30")
		}
		if err := os.RemoveAll(base); err != nil {
			t.Errorf("remove the test cluster: %v", err)
		}
	})
	if os.Geteuid() == 0 { // PostgreSQL refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, the test cluster needs the postgres user to run as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.asUser = "postgres"
	}
	ln := freeAddr(t)
	_, portStr, _ := strings.Cut(ln, ":")
	c.port, _ = strconv.Atoi(portStr)

	if out, err := c.run("initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *pgCluster) data() string { return filepath.Join(c.base, "data") }

// URL is the cluster's postgres database.
func (c *pgCluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// run runs one of the cluster's programs, as the server's user.
func (c *pgCluster) run(prog string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := filepath.Join(c.bin, prog)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = c.base
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *pgCluster) ctl(args ...string) (string, error) {
	return c.run("pg_ctl", append([]string{"-D", c.data()}, args...)...)
}

// start starts the server and waits until it accepts connections.
func (c *pgCluster) start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", c.port, c.base)
	if out, err := c.ctl("start", "-w", "-t", "60", "-l", c.logPath, "-o", opts); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, c.logTail())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := pgx.Connect(ctx, c.URL())
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the test cluster does not accept connections: %w", err)
		case <-tick.C:
		}
	}
}

// stop stops the server (fast: open sessions are ended, as in a restart).
func (c *pgCluster) stop() error {
	if out, err := c.ctl("stop", "-m", "fast", "-w", "-t", "60"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

func (c *pgCluster) running() bool {
	_, err := c.ctl("status")
	return err == nil
}

func (c *pgCluster) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
