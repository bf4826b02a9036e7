package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// logLines returns the JSON log lines at level (e.g. "WARN").
func logLines(t *testing.T, logs, level string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.Lines(logs) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["level"] == level {
			out = append(out, m)
		}
	}
	return out
}

// During an outage the log says when delivery started failing, gives one
// summary a minute and says when it recovered, instead of a warning for
// every message deferred meanwhile.
func TestOutageLogsChangesOfStateNotEachMessage(t *testing.T) {
	t.Parallel()
	const n = 20
	b := setup(t, func(c *DispatcherConfig) { c.Workers = 4; c.QueueSize = n })
	var down atomic.Bool
	down.Store(true)
	b.sender.fn = func(context.Context, int, *Email) error {
		if down.Load() {
			return errBusy
		}
		return nil
	}
	run(t, b.d)
	futures := make([]*Future, n)
	for i := range futures {
		futures[i] = b.d.Submit(t.Context(), credentialsMessage(fmt.Sprintf("guest%d@example.org", i)))
	}
	for _, f := range futures {
		if r := wait(t, f); r.Status != StatusDeferred {
			t.Fatalf("during the outage: %+v, want deferred", r)
		}
	}
	warns := logLines(t, b.logs.String(), "WARN")
	if len(warns) != 1 || warns[0]["msg"] != "mail delivery failing; messages are deferred and retried (one line a minute while it lasts)" ||
		warns[0]["code"] != CodeServerBusy {
		t.Fatalf("%d messages deferred: warnings %v, want the one line that delivery is failing", n, warns)
	}

	// A minute later every message is due again and fails again: one summary.
	b.clock.Advance(time.Minute + time.Second)
	eventually(t, "the retries failed", func() bool {
		b.d.outage.mu.Lock()
		defer b.d.outage.mu.Unlock()
		return b.d.outage.deferred == 2*n
	})
	warns = logLines(t, b.logs.String(), "WARN")
	if len(warns) != 2 || warns[1]["msg"] != "mail delivery still failing" || warns[1]["deferred"] != float64(n+1) {
		t.Fatalf("after a minute: warnings %v, want one summary more", warns)
	}

	// Delivery works again: one line says so, with how long and how much.
	down.Store(false)
	b.clock.Advance(3 * time.Minute)
	eventually(t, "every message is sent", func() bool {
		counts, err := b.store.CountMail(t.Context())
		return err == nil && counts[storage.MailSent] == n
	})
	infos := logLines(t, b.logs.String(), "INFO")
	var recovered []map[string]any
	for _, l := range infos {
		if l["msg"] == "mail delivery recovered" {
			recovered = append(recovered, l)
		}
	}
	if len(recovered) != 1 || recovered[0]["deferred"] != float64(2*n) || recovered[0]["failed_for_ms"] == nil {
		t.Errorf("recovery lines %v, want one with deferred=%d and failed_for_ms", recovered, 2*n)
	}
	if got := len(logLines(t, b.logs.String(), "WARN")); got != 2 {
		t.Errorf("%d warnings in all for %d deferrals, want 2: %v", got, 2*n, logLines(t, b.logs.String(), "WARN"))
	}
}
