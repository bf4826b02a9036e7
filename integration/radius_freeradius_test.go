//go:build integration

package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/storage"
)

// radiusStartTimeout bounds FreeRADIUS's start.
const radiusStartTimeout = 20 * time.Second

// radiusPrograms are what the RADIUS tests run: FreeRADIUS with its REST
// module, radtest and radclient.
type radiusPrograms struct {
	freeradius, radtest, radclient string
}

// radiusFindPrograms finds the programs, skipping the test when one is
// missing (failing it under CI=true).
func radiusFindPrograms(t *testing.T) radiusPrograms {
	t.Helper()
	var p radiusPrograms
	var missing []string
	look := func(dst *string, pkg string, names ...string) {
		for _, n := range names {
			if found, err := exec.LookPath(n); err == nil {
				*dst = found
				return
			}
		}
		missing = append(missing, fmt.Sprintf("%s (package %s)", names[len(names)-1], pkg))
	}
	look(&p.freeradius, "freeradius", "/usr/sbin/freeradius", "freeradius")
	look(&p.radtest, "freeradius-utils", "/usr/bin/radtest", "radtest")
	look(&p.radclient, "freeradius-utils", "/usr/bin/radclient", "radclient")
	if _, err := os.Stat(radiusLibDir + "/rlm_rest.so"); err != nil {
		missing = append(missing, radiusLibDir+"/rlm_rest.so (package freeradius-rest)")
	}
	if len(missing) > 0 {
		msg := "FreeRADIUS test programs missing: " + strings.Join(missing, ", ") +
			"; install them with: apt-get install freeradius freeradius-rest freeradius-utils"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// radiusLibDir is where Debian's FreeRADIUS keeps its modules.
const radiusLibDir = "/usr/lib/freeradius"

// radiusLobby is a Lobby with its RADIUS endpoint on, over real HTTP on
// loopback, with a SQLite store.
type radiusLobby struct {
	URL    string // the server's root
	Secret string // what FreeRADIUS must send
	store  storage.Store
}

func radiusStartLobby(t *testing.T) *radiusLobby {
	t.Helper()
	st, key := openStore(t)
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	secret := radiusRandom(t)
	l, err := lobby.New(lobby.Config{Store: st, BaseURL: base, SecretKey: key, RADIUSSecret: secret, Logger: radiusLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	srv.Config.Handler = l.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return &radiusLobby{URL: base, Secret: secret, store: st}
}

// radiusRandom is 32 random hex characters.
func radiusRandom(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// radiusFreeRADIUS is a FreeRADIUS running the shipped configuration.
type radiusFreeRADIUS struct {
	AuthAddr, AcctAddr string // 127.0.0.1:port
	Secret             string // the clients' RADIUS shared secret
	log                *radiusLog
}

// radiusStartFreeRADIUS starts FreeRADIUS in the foreground with a
// configuration directory built from deploy/freeradius (the lobby module,
// policy and site as shipped, pointed at lobbyURL/radius and at loopback
// high ports) plus the least radiusd.conf it needs, and waits until it is
// ready. lobbySecret reaches it as LOBBY_RADIUS_SECRET, as the shipped
// policy reads it. It is stopped when the test ends.
func radiusStartFreeRADIUS(t *testing.T, progs radiusPrograms, lobbyURL, lobbySecret string) *radiusFreeRADIUS {
	t.Helper()
	// The free ports are picked, then FreeRADIUS binds them: another
	// program may take one in between. Then FreeRADIUS exits, and the next
	// attempt picks other ports.
	const attempts = 3
	for i := 1; ; i++ {
		fr, inUse := radiusTryFreeRADIUS(t, progs, lobbyURL, lobbySecret)
		if !inUse {
			return fr
		}
		if i == attempts {
			t.Fatalf("FreeRADIUS found its ports taken %d times; its last log (secrets redacted):\n%s", attempts, fr.log.String())
		}
	}
}

// radiusTryFreeRADIUS is one attempt of radiusStartFreeRADIUS; inUse
// reports that FreeRADIUS exited because a port was taken.
func radiusTryFreeRADIUS(t *testing.T, progs radiusPrograms, lobbyURL, lobbySecret string) (fr *radiusFreeRADIUS, inUse bool) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"mods-enabled", "sites-enabled", "policy.d", "log", "run"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	authPort, acctPort := radiusFreeUDPPort(t), radiusFreeUDPPort(t)
	fr = &radiusFreeRADIUS{
		AuthAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(authPort)),
		AcctAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(acctPort)),
		Secret:   radiusRandom(t),
	}
	shipped := filepath.Join("..", "deploy", "freeradius")
	radiusCopy(t, filepath.Join(shipped, "mods-available", "lobby"), filepath.Join(dir, "mods-enabled", "lobby"),
		`connect_uri = "http://127.0.0.1:8080/radius"`, `connect_uri = "`+lobbyURL+`/radius"`)
	radiusCopy(t, filepath.Join(shipped, "policy.d", "lobby"), filepath.Join(dir, "policy.d", "lobby"))
	radiusCopy(t, filepath.Join(shipped, "sites-available", "lobby"), filepath.Join(dir, "sites-enabled", "lobby"),
		"ipaddr = *\n\t\tport = 1812", "ipaddr = 127.0.0.1\n\t\tport = "+strconv.Itoa(authPort),
		"ipaddr = *\n\t\tport = 1813", "ipaddr = 127.0.0.1\n\t\tport = "+strconv.Itoa(acctPort))
	radiusWrite(t, filepath.Join(dir, "clients.conf"), fmt.Sprintf("client loopback {\n\tipaddr = 127.0.0.1\n\tsecret = %s\n}\n", fr.Secret))
	radiusWrite(t, filepath.Join(dir, "radiusd.conf"), strings.ReplaceAll(radiusdConf, "@DIR@", dir))

	cmd := exec.Command(progs.freeradius, "-f", "-l", "stdout", "-d", dir)
	cmd.Env = append(os.Environ(), "LOBBY_RADIUS_SECRET="+lobbySecret)
	fr.log = &radiusLog{secrets: []string{lobbySecret, fr.Secret}, ready: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = fr.log, fr.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", progs.freeradius, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-fr.log.ready:
	case err := <-exited:
		if strings.Contains(fr.log.String(), "Address already in use") {
			return fr, true
		}
		t.Fatalf("FreeRADIUS exited before it was ready (%v); its log (secrets redacted):\n%s", err, fr.log.String())
	case <-time.After(radiusStartTimeout):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("FreeRADIUS not ready after %s; its log (secrets redacted):\n%s", radiusStartTimeout, fr.log.String())
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("FreeRADIUS's log (secrets redacted):\n%s", fr.log.String())
		}
	})
	return fr, false
}

// radiusdConf is the least radiusd.conf the shipped files need: paths in
// the test's directory, no user switch, no reject delay, the log on stdout.
const radiusdConf = `prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = @DIR@
sbindir = /usr/sbin
logdir = @DIR@/log
raddbdir = @DIR@
radacctdir = @DIR@/log
name = freeradius
confdir = ${raddbdir}
modconfdir = ${confdir}/mods-config
certdir = ${confdir}/certs
cadir = ${confdir}/certs
run_dir = @DIR@/run
db_dir = @DIR@
libdir = ` + radiusLibDir + `
pidfile = ${run_dir}/radiusd.pid
max_request_time = 10
cleanup_delay = 1
max_requests = 1024
hostname_lookups = no
log {
	destination = stdout
	colourise = no
	auth = yes
	auth_badpass = no
	auth_goodpass = no
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = yes
}
thread pool {
	start_servers = 2
	max_servers = 8
	min_spare_servers = 1
	max_spare_servers = 4
	max_requests_per_server = 0
	auto_limit_acct = no
}
$INCLUDE clients.conf
modules {
	$INCLUDE mods-enabled/
}
policy {
	$INCLUDE policy.d/
}
$INCLUDE sites-enabled/
`

// radiusCopy copies a shipped file, replacing each old string of the
// pairs with its new one; an old string the file lacks fails the test (the
// shipped file changed under it).
func radiusCopy(t *testing.T, src, dst string, pairs ...string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("%s no longer holds %q, which the test replaces", src, pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	radiusWrite(t, dst, s)
}

func radiusWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

// radiusFreeUDPPort is a UDP port on loopback nobody listens on just now.
func radiusFreeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// radiusLog collects a program's output with the secrets redacted, and
// closes ready at FreeRADIUS's "Ready to process requests".
type radiusLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	secrets []string
	ready   chan struct{}
	once    sync.Once
}

func (l *radiusLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i+1])
		l.partial = l.partial[i+1:]
		for _, s := range l.secrets {
			line = strings.ReplaceAll(line, s, "<redacted>")
		}
		l.buf.WriteString(line)
		if strings.Contains(line, "Ready to process requests") {
			l.once.Do(func() { close(l.ready) })
		}
	}
	return len(p), nil
}

func (l *radiusLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// radiusReply is what radtest or radclient received.
type radiusReply struct {
	Code  string            // "Access-Accept", "Access-Reject", "Accounting-Response"; "" for none
	Attrs map[string]string // the reply's attributes, unquoted
	Out   string            // the program's output
}

var (
	radiusReceived = regexp.MustCompile(`Received ([A-Za-z-]+) Id`)
	radiusAttr     = regexp.MustCompile(`(?m)^\s+([A-Za-z0-9-]+) = (.*)$`)
)

// radiusParse reads radtest's or radclient's output: the attributes after
// the "Received" line.
func radiusParse(out string) radiusReply {
	r := radiusReply{Attrs: map[string]string{}, Out: out}
	m := radiusReceived.FindStringSubmatchIndex(out)
	if m == nil {
		return r
	}
	r.Code = out[m[2]:m[3]]
	for _, a := range radiusAttr.FindAllStringSubmatch(out[m[1]:], -1) {
		r.Attrs[a[1]] = strings.Trim(a[2], `"`)
	}
	return r
}

// radiusTest sends an Access-Request with PAP through radtest.
func radiusTest(t *testing.T, progs radiusPrograms, fr *radiusFreeRADIUS, user, password string) radiusReply {
	t.Helper()
	// radtest user password server[:port] nas-port-number secret
	cmd := exec.CommandContext(t.Context(), progs.radtest, "-t", "pap", user, password, fr.AuthAddr, "0", fr.Secret)
	out, _ := cmd.CombinedOutput() // radtest exits 1 on a reject
	return radiusParse(radiusRedact(string(out), password, fr.Secret))
}

// radiusAccounting sends an Accounting-Request with attrs through radclient.
func radiusAccounting(t *testing.T, progs radiusPrograms, fr *radiusFreeRADIUS, attrs string) radiusReply {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), progs.radclient, "-x", "-r", "2", "-t", "3", fr.AcctAddr, "acct", fr.Secret)
	cmd.Stdin = strings.NewReader(attrs + "\n")
	out, _ := cmd.CombinedOutput()
	return radiusParse(radiusRedact(string(out), fr.Secret))
}

// radiusRedact removes secrets from a program's output before it reaches
// the test's log.
func radiusRedact(s string, secrets ...string) string {
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, "<redacted>")
		}
	}
	return s
}

// radiusLogger is Lobby's logger: into a buffer, shown when the test fails.
func radiusLogger(t *testing.T) *slog.Logger {
	t.Helper()
	buf := &radiusLog{ready: make(chan struct{})}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Lobby's log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, nil))
}
