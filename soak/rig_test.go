package soak

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// rig is one scenario's world: the emulator (in this process), a gate in
// front of its SMTP port, a database, and the lobby processes using them.
type rig struct {
	t     *testing.T
	name  string
	bin   string
	dir   string
	emu   *exchangetest.Server
	smtp  *gate
	key   string // LOBBY_SECRET_KEY, shared by every node
	dbURL string // "": SQLite in dir/data
	start time.Time
}

type rigOptions struct {
	tokenLifetime time.Duration // the emulator's; default its own (about an hour)
	dbURL         string        // a postgres:// URL; default a SQLite file
}

// newRig starts the emulator and the gate and saves the SMTP settings the
// way an operator does: lobby test-connection --save, with flags, the
// client secret and the CA file in LOBBY_SMTP_* variables.
func newRig(t *testing.T, name, bin string, opts rigOptions) *rig {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	r := &rig{
		t: t, name: name, bin: bin, dir: t.TempDir(), key: base64.StdEncoding.EncodeToString(k),
		dbURL: opts.dbURL, start: time.Now(),
	}
	r.emu = exchangetest.NewServer(t, exchangetest.Options{TokenLifetime: opts.tokenLifetime})
	r.smtp = newGate(t, fmt.Sprintf("%s:%d", r.emu.SMTPHost(), r.emu.SMTPPort()))
	caFile := filepath.Join(r.dir, "emulator-ca.pem")
	if err := os.WriteFile(caFile, r.emu.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runLobby(t.Context(), bin, r.env("LOBBY_SMTP_CLIENT_SECRET="+r.emu.ClientSecret(), "LOBBY_SMTP_CA_FILE="+caFile),
		"test-connection", "--save",
		"--smtp-host", "127.0.0.1", "--smtp-port", strconv.Itoa(r.smtp.Port()), "--smtp-security", "starttls",
		"--smtp-from", r.emu.Mailbox(), "--smtp-auth", "exchange-online-oauth",
		"--tenant-id", r.emu.Tenant(), "--client-id", r.emu.ClientID(), "--token-endpoint", r.emu.TokenEndpointBase())
	if err != nil {
		t.Fatalf("lobby test-connection --save: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Saved as version") {
		t.Fatalf("lobby test-connection --save did not save:\n%s", out)
	}
	return r
}

// env is a node's environment: the store, the key, warnings and up in the log.
func (r *rig) env(extra ...string) []string {
	vars := []string{"LOBBY_SECRET_KEY=" + r.key, "LOBBY_LOG_LEVEL=warn", "LOBBY_DATA_DIR=" + filepath.Join(r.dir, "data")}
	if r.dbURL != "" {
		vars = append(vars, "LOBBY_DATABASE_URL="+r.dbURL)
	}
	return childEnv(append(vars, extra...)...)
}

// node prepares a lobby serve process of this rig.
func (r *rig) node(name string) *node {
	return newNode(r.t, name, r.bin, r.dir, r.env())
}

// tally counts, for the registrations tr saw accepted, the credentials
// emails the emulator received.
type tally struct {
	Scenario   string
	Accepted   int
	Delivered  int // accepted registrations whose email arrived
	Lost       int // accepted, no email
	Duplicated int // extra copies beyond the first, over every recipient
	Unanswered int // registrations that got no answer (the process was killed or down)
	Refused    int // registrations answered with an error instead of the success redirect
	// Unavailable counts the refusals that were 503 Service Unavailable:
	// the database briefly out of reach, "try again in a minute". Faults
	// (500) are Refused - Unavailable and more.
	Unavailable int
	Took        time.Duration
	lostSample  []string
	refused     map[int]int // answers other than the success redirect, by status
	noRetry     int         // 503 answers without Retry-After
}

// count compares what tr saw accepted with the emulator's mailbox.
func (r *rig) count(tr *traffic) tally {
	accepted, failed, refused, noRetry := tr.snapshot()
	got := map[string]int{}
	for _, m := range r.emu.Messages() {
		for _, to := range m.To {
			got[strings.ToLower(to)]++
		}
	}
	ta := tally{Scenario: r.name, Accepted: len(accepted), Unanswered: failed, Took: time.Since(r.start), refused: refused,
		Unavailable: refused[http.StatusServiceUnavailable], noRetry: noRetry}
	for _, n := range refused {
		ta.Refused += n
	}
	for email := range accepted {
		if got[email] > 0 {
			ta.Delivered++
		} else {
			ta.Lost++
			if len(ta.lostSample) < 5 {
				ta.lostSample = append(ta.lostSample, email)
			}
		}
	}
	for to, n := range got {
		if strings.HasPrefix(to, tr.prefix+"-") && n > 1 {
			ta.Duplicated += n - 1
		}
	}
	sort.Strings(ta.lostSample)
	return ta
}

// drain waits until every accepted registration's email arrived, or until
// timeout, and returns the final count.
func (r *rig) drain(ctx context.Context, tr *traffic, timeout time.Duration) tally {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		ta := r.count(tr)
		if ta.Lost == 0 {
			return ta
		}
		select {
		case <-ctx.Done():
			return ta
		case <-tick.C:
		}
	}
}

// check fails the test when anything accepted was lost.
func (r *rig) check(ta tally, nodes ...*node) {
	r.t.Helper()
	if len(ta.refused) > 0 {
		r.t.Logf("%s: registrations refused, by HTTP status: %v", r.name, ta.refused)
	}
	if ta.Accepted == 0 {
		r.t.Errorf("%s: no registration was accepted", r.name)
	}
	if ta.Lost > 0 {
		var logs []string
		for _, n := range nodes {
			logs = append(logs, n.logTail())
		}
		r.t.Errorf("%s: %d of %d accepted registrations got no email by the drain deadline (e.g. %s)\n%s",
			r.name, ta.Lost, ta.Accepted, strings.Join(ta.lostSample, ", "), strings.Join(logs, "\n"))
	}
	for _, n := range nodes {
		n.checkAlive()
	}
}

// report collects the scenarios' tallies and prints them as one table.
type report struct {
	mu   sync.Mutex
	rows map[int]tally // by the scenario's place in the suite
}

func (rep *report) add(i int, ta tally) {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	rep.rows[i] = ta
}

func (rep *report) String() string {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "scenario\taccepted\tdelivered\tlost\tduplicated\tunanswered\trefused\tof them 503\ttime\t")
	var order []int
	for i := range rep.rows {
		order = append(order, i)
	}
	sort.Ints(order)
	for _, i := range order {
		ta := rep.rows[i]
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", ta.Scenario, ta.Accepted, ta.Delivered, ta.Lost, ta.Duplicated,
			ta.Unanswered, ta.Refused, ta.Unavailable, ta.Took.Round(100*time.Millisecond))
	}
	w.Flush()
	return b.String()
}

// runScenarios runs each scenario as a parallel subtest and logs the table
// once they are all done.
func runScenarios(t *testing.T, bin string, scenarios []scenario) {
	requireSourceAddrs(t)
	rep := &report{rows: map[int]tally{}}
	t.Cleanup(func() {
		if len(rep.rows) > 0 {
			t.Logf("fault suite results (accepted: the portal answered the success redirect; unanswered: no reply at all, "+
				"refused: an error page, of them 503: the database briefly unavailable, try again; neither counts as accepted)\n%s", rep)
		}
	})
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r, ta, nodes := sc.run(t, bin, sc.name)
			rep.add(i, ta)
			r.check(ta, nodes...)
		})
	}
}

// scenario is one fault and its traffic. run returns the final tally and
// the nodes it ran, whose deaths must all have been planned.
type scenario struct {
	name string
	run  func(t *testing.T, bin, name string) (*rig, tally, []*node)
}
