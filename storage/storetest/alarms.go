package storetest

import (
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

func findAlarm(list []storage.Alarm, key string, active bool) (storage.Alarm, bool) {
	for _, a := range list {
		if a.Key == key && a.ClearedAt.IsZero() == active {
			return a, true
		}
	}
	return storage.Alarm{}, false
}

func testAlarms(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	raise := func(a storage.Alarm) {
		t.Helper()
		if err := s.RaiseAlarm(ctx, a); err != nil {
			t.Fatalf("RaiseAlarm(%s): %v", a.Key, err)
		}
	}
	list := func(includeCleared bool) []storage.Alarm {
		t.Helper()
		l, err := s.ListAlarms(ctx, includeCleared)
		if err != nil {
			t.Fatalf("ListAlarms: %v", err)
		}
		return l
	}

	raisedAt := bb.clock.now()
	raise(storage.Alarm{Key: "smtp.auth", Severity: storage.SeverityWarning, Title: "SMTP sign-in failed", Detail: "first"})
	bb.clock.Advance(time.Minute)
	raise(storage.Alarm{Key: "smtp.auth", Severity: storage.SeverityCritical, Title: "SMTP sign-in keeps failing", Detail: "second"})
	bb.clock.Advance(time.Minute)
	raise(storage.Alarm{Key: "secret.expiry", Severity: storage.SeverityInfo, Title: "Client secret expires in 30 days"})

	active := list(false)
	if len(active) != 2 {
		t.Fatalf("ListAlarms(false) = %+v, want 2 alarms", active)
	}
	a, ok := findAlarm(active, "smtp.auth", true)
	if !ok || a.Count != 2 || a.Severity != storage.SeverityCritical || a.Title != "SMTP sign-in keeps failing" ||
		a.Detail != "second" || !a.RaisedAt.Equal(raisedAt) || !a.LastSeen.Equal(raisedAt.Add(time.Minute)) {
		t.Fatalf("the alarm raised twice = %+v; want count 2, the second title, detail and severity, raised at %v, last seen a minute later",
			a, raisedAt)
	}
	firstID := a.ID
	if e, ok := findAlarm(active, "secret.expiry", true); !ok || e.Count != 1 || e.Severity != storage.SeverityInfo {
		t.Fatalf("the other alarm = %+v", e)
	}

	bb.clock.Advance(time.Minute)
	if err := s.ClearAlarm(ctx, "smtp.auth"); err != nil {
		t.Fatalf("ClearAlarm: %v", err)
	}
	if err := s.ClearAlarm(ctx, "no-such-alarm"); err != nil {
		t.Fatalf("ClearAlarm of no active alarm: %v", err)
	}
	active = list(false)
	if len(active) != 1 || active[0].Key != "secret.expiry" {
		t.Fatalf("active alarms after clearing = %+v, want secret.expiry only", active)
	}
	cleared, ok := findAlarm(list(true), "smtp.auth", false)
	if !ok || !cleared.ClearedAt.Equal(bb.clock.now()) || cleared.Count != 2 {
		t.Fatalf("ListAlarms(true) has the cleared alarm as %+v; want it cleared at %v with count 2", cleared, bb.clock.now())
	}

	// Raised again after clearing: a new alarm, counted from 1.
	raise(storage.Alarm{Key: "smtp.auth", Severity: storage.SeverityCritical, Title: "again"})
	again, ok := findAlarm(list(false), "smtp.auth", true)
	if !ok || again.Count != 1 || again.ID == firstID || !again.RaisedAt.Equal(bb.clock.now()) {
		t.Fatalf("raised after clearing = %+v; want a new alarm with count 1", again)
	}
	if all := list(true); len(all) != 3 {
		t.Fatalf("ListAlarms(true) = %d alarms, want 3", len(all))
	}

	// The store counts and stamps: a caller's Count, RaisedAt, LastSeen
	// and ClearedAt are not taken.
	bb.clock.Advance(time.Minute)
	now := bb.clock.now()
	forged := storage.Alarm{Key: "forged", Severity: storage.SeverityWarning, Title: "forged", Count: 5,
		RaisedAt: now.Add(-time.Hour), LastSeen: now.Add(-time.Hour), ClearedAt: now.Add(-time.Minute)}
	raise(forged)
	got, ok := findAlarm(list(false), "forged", true)
	if !ok || got.Count != 1 || !got.RaisedAt.Equal(now) || !got.LastSeen.Equal(now) {
		t.Fatalf("an alarm raised with a forged count and times = %+v; want active, count 1, raised and seen at %v", got, now)
	}
	bb.clock.Advance(time.Minute)
	forged.Count = 10
	raise(forged)
	if got, ok = findAlarm(list(false), "forged", true); !ok || got.Count != 2 || !got.RaisedAt.Equal(now) || !got.LastSeen.Equal(bb.clock.now()) {
		t.Fatalf("raised again with a forged count = %+v; want count 2, raised at %v, seen at %v", got, now, bb.clock.now())
	}
}

func testAudit(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	var want []storage.AuditEntry
	for i, action := range []string{"guest.create", "guest.extend", "guest.suspend", "settings.save", "guest.delete"} {
		e := storage.AuditEntry{Actor: "staff:root", Action: action, Subject: "subject-" + action, Detail: "detail " + action}
		if i == 2 {
			e.At = bb.clock.now().Add(-time.Hour) // a given time is kept
		}
		if err := s.Audit(ctx, e); err != nil {
			t.Fatalf("Audit: %v", err)
		}
		if e.At.IsZero() {
			e.At = bb.clock.now()
		}
		want = append(want, e)
		bb.clock.Advance(time.Second)
	}
	all, err := s.ListAudit(ctx, 0, 0)
	if err != nil || len(all) != len(want) {
		t.Fatalf("ListAudit = %d entries, %v; want %d", len(all), err, len(want))
	}
	for i, got := range all {
		w := want[len(want)-1-i] // newest first
		w.ID = got.ID
		if d := diff(w, got); d != "" {
			t.Errorf("entry %d: %s", i, d)
		}
		if i > 0 && got.ID >= all[i-1].ID {
			t.Errorf("IDs not descending: %d after %d", got.ID, all[i-1].ID)
		}
	}
	page, err := s.ListAudit(ctx, 0, 2)
	if err != nil || len(page) != 2 || page[0].ID != all[0].ID || page[1].ID != all[1].ID {
		t.Fatalf("ListAudit(0, 2) = %+v, %v; want the two newest", page, err)
	}
	page, err = s.ListAudit(ctx, page[1].ID, 2)
	if err != nil || len(page) != 2 || page[0].ID != all[2].ID || page[1].ID != all[3].ID {
		t.Fatalf("ListAudit(before, 2) = %+v, %v; want the next two", page, err)
	}
	page, err = s.ListAudit(ctx, all[len(all)-1].ID, 10)
	if err != nil || len(page) != 0 {
		t.Fatalf("ListAudit before the oldest = %+v, %v; want none", page, err)
	}
}

func testLeader(t *testing.T, b Backend) {
	bb := setup(t, b)
	ctx := t.Context()
	s1, s2 := bb.store, bb.openStore(t)
	const ttl = 30 * time.Second
	try := func(s storage.Store, name, owner string, want bool) {
		t.Helper()
		got, err := s.TryLeader(ctx, name, owner, ttl)
		if err != nil {
			t.Fatalf("TryLeader(%s, %s): %v", name, owner, err)
		}
		if got != want {
			t.Fatalf("TryLeader(%s, %s) = %v, want %v", name, owner, got, want)
		}
	}
	release := func(s storage.Store, name, owner string) {
		t.Helper()
		if err := s.ReleaseLeader(ctx, name, owner); err != nil {
			t.Fatalf("ReleaseLeader(%s, %s): %v", name, owner, err)
		}
	}

	try(s1, "jobs", "node-a", true)
	try(s2, "jobs", "node-b", false)
	try(s1, "jobs", "node-a", true) // renewing
	try(s2, "jobs", "node-b", false)
	try(s2, "other-jobs", "node-b", true) // locks are per name

	release(s1, "jobs", "node-a")
	try(s2, "jobs", "node-b", true)
	try(s1, "jobs", "node-a", false)
	release(s1, "jobs", "node-a") // not the holder: changes nothing
	try(s1, "jobs", "node-a", false)

	// node-b stops renewing; its store stays open.
	bb.clock.Advance(ttl + time.Second)
	if b.LeaderTTLApplies {
		try(s1, "jobs", "node-a", true)
		try(s2, "jobs", "node-b", false)
		// Renewing extends the lease by ttl from the renewal.
		bb.clock.Advance(ttl - time.Second)
		try(s1, "jobs", "node-a", true)
		bb.clock.Advance(ttl - time.Second)
		try(s2, "jobs", "node-b", false)
	} else {
		try(s1, "jobs", "node-a", false)
		try(s2, "jobs", "node-b", true)
	}

	// Closing a store gives its locks up.
	s3, err := bb.open(bb.opts())
	if err != nil {
		t.Fatalf("open a third store: %v", err)
	}
	try(s3, "closing", "node-c", true)
	try(s2, "closing", "node-b", false)
	if err := s3.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	try(s2, "closing", "node-b", true)
}
