package notify

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// Faults the retry pool must ride out, over the real parts: the SQLite
// outbox, the pooled transport and the emulator over TCP with STARTTLS.

// switchableSettings hands the dispatcher settings a test can change while
// it runs.
type switchableSettings struct {
	mu sync.Mutex
	s  Settings
}

func (w *switchableSettings) get(context.Context) (Settings, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.s, nil
}

func (w *switchableSettings) set(f func(*Settings)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(&w.s)
}

// A DNS failure (NXDOMAIN) is a resolver hiccup as often as a typo: the
// message is deferred, not dead-lettered, and goes out once the name
// resolves again.
func TestPoolRetriesUnknownHostThenDelivers(t *testing.T) {
	t.Parallel()
	sw := &switchableSettings{}
	b, del, _ := poolSetup(t, 2, func(c *DispatcherConfig) { c.Settings = sw.get })
	sw.set(func(s *Settings) { *s = del.settings; s.Host = "smtp.office365.invalid" }) // never resolves (RFC 6761)
	run(t, b.d)

	f := b.d.Submit(t.Context(), credentialsMessage("ada@example.net"))
	r := wait(t, f)
	if r.Status != StatusDeferred || r.Diagnosis == nil || r.Diagnosis.Code != CodeUnknownHost || !r.Diagnosis.Temporary {
		t.Fatalf("first outcome = %s %+v, want deferred with %s", r.Status, r.Diagnosis, CodeUnknownHost)
	}
	if !strings.Contains(r.Diagnosis.Hint, "smtp.office365.con") {
		t.Errorf("hint %q lost the typo example", r.Diagnosis.Hint)
	}
	m := mustGetMail(t, b.store, f.ID())
	if m.Status != storage.MailDeferred {
		t.Fatalf("outbox row = %s, want deferred", m.Status)
	}

	sw.set(func(s *Settings) { s.Host = del.settings.Host }) // the resolver is back
	b.clock.Advance(m.NextAttemptAt.Sub(b.clock.Now()))
	eventually(t, "the poller delivers the retry", statusIs(t, b.store, f.ID(), storage.MailSent))
	if _, err := del.srv.WaitForMessages(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
}

// A name that never resolves is still given up on once the retry policy is
// used up (MaxAttempts attempts and RetryFor both), with an alarm.
func TestPoolDeadLettersLastingUnknownHost(t *testing.T) {
	t.Parallel()
	b, del, _ := poolSetup(t, 1, func(c *DispatcherConfig) { c.MaxAttempts, c.RetryFor = 2, 3*time.Hour })
	del.settings.Host = "smtp.office365.invalid"
	run(t, b.d)

	f := b.d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	for i := 1; ; i++ {
		if i > 1 {
			b.clock.Advance(time.Hour) // beyond MaxBackoff: every retry is due
			f = b.d.Track(f.ID())
		}
		r := wait(t, f)
		if age := time.Duration(i-1) * time.Hour; age < 3*time.Hour {
			if r.Status != StatusDeferred || r.Diagnosis.Code != CodeUnknownHost {
				t.Fatalf("attempt %d at age %v: %s %+v, want deferred with %s", i, age, r.Status, r.Diagnosis, CodeUnknownHost)
			}
			continue
		}
		if r.Status != StatusFailed || r.Attempts != 4 || r.Diagnosis.Code != CodeUnknownHost {
			t.Fatalf("attempt %d: %s after %d attempts %+v, want failed with %s after 4", i, r.Status, r.Attempts, r.Diagnosis, CodeUnknownHost)
		}
		break
	}
	if m := mustGetMail(t, b.store, f.ID()); m.Status != storage.MailDead {
		t.Fatalf("outbox row = %s, want dead", m.Status)
	}
	alarms, err := b.store.ListAlarms(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alarms {
		if a.Key == "mail."+CodeUnknownHost {
			if !strings.Contains(a.Detail, "smtp.office365.con") {
				t.Errorf("alarm detail %q lacks the typo hint", a.Detail)
			}
			return
		}
	}
	t.Fatalf("no mail.%s alarm among %+v", CodeUnknownHost, alarms)
}
