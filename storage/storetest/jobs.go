package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// jobGuest creates a guest with the given status and times (from and
// until relative to now; updated relative to now too, for denied guests).
func (bb *bundle) jobGuest(t *testing.T, name string, status storage.GuestStatus, from, until time.Duration, notified bool) *storage.Guest {
	t.Helper()
	now := bb.clock.now()
	g := bb.guest(name, name+"@example.com")
	g.Status = status
	g.ValidFrom, g.ValidUntil = now.Add(from), now.Add(until)
	if notified {
		g.ExpiryNotifiedAt = now.Add(-time.Minute)
	}
	return bb.createGuest(t, g)
}

// byKey orders gs as job walks them: by key, then id.
func byKey(job storage.GuestJob, gs ...*storage.Guest) []uuid.UUID {
	gs = slices.Clone(gs)
	slices.SortFunc(gs, func(a, b *storage.Guest) int {
		if c := storage.DueKey(job, a).Compare(storage.DueKey(job, b)); c != 0 {
			return c
		}
		return strings.Compare(a.ID.String(), b.ID.String())
	})
	return guestIDs(gs)
}

// walkDue reads every page of f, checking each page's size, keys (from
// keys, by id) and cursor.
func walkDue(t *testing.T, s storage.Store, f storage.DueFilter, keys map[uuid.UUID]time.Time) (ids []uuid.UUID, pages int) {
	t.Helper()
	for {
		page, err := s.ListGuestsDue(t.Context(), f)
		if err != nil {
			t.Fatalf("ListGuestsDue(%s, page %d): %v", f.Job, pages+1, err)
		}
		pages++
		if f.Limit > 0 && len(page.Guests) > f.Limit {
			t.Fatalf("ListGuestsDue(%s): %d guests on a page of %d", f.Job, len(page.Guests), f.Limit)
		}
		for _, g := range page.Guests {
			ids = append(ids, g.ID)
			if want := keys[g.ID]; !g.Key.Equal(want) {
				t.Fatalf("ListGuestsDue(%s): guest %s has key %v, want %v", f.Job, g.ID, g.Key, want)
			}
		}
		if page.Next.IsZero() {
			return ids, pages
		}
		if len(page.Guests) == 0 || pages > 100 {
			t.Fatalf("ListGuestsDue(%s): page %d has %d guests and a next cursor", f.Job, pages, len(page.Guests))
		}
		last := page.Guests[len(page.Guests)-1]
		if page.Next.ID != last.ID || !page.Next.Key.Equal(last.Key) {
			t.Fatalf("ListGuestsDue(%s): Next = %+v, want the last guest's key and id", f.Job, page.Next)
		}
		f.Cursor = page.Next
	}
}

// testGuestsDue: each job selects exactly its guests, in key and id order,
// page by page, and none that it would only skip.
func testGuestsDue(t *testing.T, b Backend) {
	bb := setup(t, b)
	now := bb.clock.now()
	const h = time.Hour
	notice := 24 * h
	active, suspended, expired := storage.GuestActive, storage.GuestSuspended, storage.GuestExpired

	// Expiry notices: active, not told, ending within the notice, validity
	// longer than the notice.
	n1 := bb.jobGuest(t, "n1", active, -48*h, 2*h, false)
	n2 := bb.jobGuest(t, "n2", active, -48*h, 3*h, false)
	n3 := bb.jobGuest(t, "n3", active, -48*h, 3*h, false) // ties n2: the id orders them
	n4 := bb.jobGuest(t, "n4", active, -48*h, 23*h, false)
	bb.jobGuest(t, "told", active, -48*h, 2*h, true)                     // told already
	bb.jobGuest(t, "short", active, -h, 2*h, false)                      // validity within the notice
	bb.jobGuest(t, "later", active, -48*h, 25*h, false)                  // ends after the notice period
	bb.jobGuest(t, "edge", active, -48*h, notice, false)                 // ends just at now+notice: not yet
	bb.jobGuest(t, "susp-soon", suspended, -48*h, 2*h, false)            // suspended: no notice
	bb.jobGuest(t, "pend-soon", storage.GuestPending, -48*h, 2*h, false) // pending: no notice
	// Expiring: active and suspended past their end.
	e1 := bb.jobGuest(t, "e1", active, -48*h, -2*h, false)
	e2 := bb.jobGuest(t, "e2", active, -48*h, -time.Microsecond, true)
	s1 := bb.jobGuest(t, "s1", suspended, -48*h, -3*h, false)
	bb.jobGuest(t, "e-now", active, -48*h, 0, false) // ends at now exactly: next run
	// Purging: expired before the cutoff; denied last changed before it.
	cutoff := now.Add(-30 * 24 * h)
	p1 := bb.jobGuest(t, "p1", expired, -40*24*h, -31*24*h, false)
	p2 := bb.jobGuest(t, "p2", expired, -40*24*h, -30*24*h-time.Second, false)
	bb.jobGuest(t, "p-keep", expired, -40*24*h, -29*24*h, false)
	dg := func(name string, changed time.Duration) *storage.Guest {
		g := bb.guest(name, name+"@example.com")
		g.Status = storage.GuestDenied
		g.ValidUntil = now.Add(24 * h) // not the key: a denied guest is purged by its denial
		g.CreatedAt, g.UpdatedAt = now.Add(changed-h), now.Add(changed)
		return bb.createGuest(t, g)
	}
	d1 := dg("d1", -31*24*h)
	dg("d-keep", -29*24*h)

	// Every guest's key in each job's order, to check the keys pages give.
	all, err := bb.store.ListGuests(t.Context(), storage.GuestFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[storage.GuestJob]map[uuid.UUID]time.Time{}
	for _, job := range storage.GuestJobs {
		keys[job] = map[uuid.UUID]time.Time{}
		for _, g := range all.Guests {
			keys[job][g.ID] = storage.DueKey(job, g)
		}
	}
	cases := []struct {
		f    storage.DueFilter
		want []uuid.UUID
	}{
		{storage.DueFilter{Job: storage.DueExpiryNotice, After: now, Before: now.Add(notice), Notice: notice}, byKey(storage.DueExpiryNotice, n1, n2, n3, n4)},
		{storage.DueFilter{Job: storage.DueExpireActive, Before: now}, byKey(storage.DueExpireActive, e1, e2)},
		{storage.DueFilter{Job: storage.DueExpireSuspended, Before: now}, byKey(storage.DueExpireSuspended, s1)},
		{storage.DueFilter{Job: storage.DuePurgeExpired, Before: cutoff}, byKey(storage.DuePurgeExpired, p1, p2)},
		{storage.DueFilter{Job: storage.DuePurgeDenied, Before: cutoff}, byKey(storage.DuePurgeDenied, d1)},
	}
	for _, tc := range cases {
		for _, limit := range []int{0, 1, 2, 3} {
			f := tc.f
			f.Limit = limit
			got, pages := walkDue(t, bb.store, f, keys[f.Job])
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s, pages of %d: got %v, want %v", f.Job, limit, got, tc.want)
			}
			if limit == 1 && pages < len(tc.want) {
				t.Errorf("%s, pages of 1: %d pages for %d guests", f.Job, pages, len(tc.want))
			}
		}
	}
	// A cursor before After starts at After: no guest already past its end.
	f := cases[0].f
	f.Cursor = storage.DueCursor{Key: now.Add(-100 * h), ID: e1.ID}
	if got, _ := walkDue(t, bb.store, f, keys[f.Job]); !slices.Equal(got, cases[0].want) {
		t.Errorf("expiry notices from a cursor before After: got %v, want %v", got, cases[0].want)
	}
	// A cursor in the middle continues after it, ties broken by id.
	first := cases[0].want[1] // n2 or n3, the first of the tie
	f.Cursor = storage.DueCursor{Key: n2.ValidUntil, ID: first}
	if got, _ := walkDue(t, bb.store, f, keys[f.Job]); !slices.Equal(got, cases[0].want[2:]) {
		t.Errorf("expiry notices after the first of a tie: got %v, want %v", got, cases[0].want[2:])
	}
	// A notice shorter than a guest's validity lets it in.
	f = cases[0].f
	f.Notice = 30 * time.Minute
	f.Before = now.Add(f.Notice)
	if got, _ := walkDue(t, bb.store, f, keys[f.Job]); len(got) != 0 {
		t.Errorf("expiry notices within 30 minutes: got %v, want none", got)
	}
	f.Before = now.Add(notice)
	if got, _ := walkDue(t, bb.store, f, keys[f.Job]); len(got) != 5 {
		t.Errorf("expiry notices, 24 h ahead with a 30-minute notice: got %d guests, want 5 (the short one too)", len(got))
	}
	// Bad filters are errors, not empty pages.
	if _, err := bb.store.ListGuestsDue(t.Context(), storage.DueFilter{Job: 99, Before: now}); err == nil {
		t.Error("ListGuestsDue with an unknown job: no error")
	}
	if _, err := bb.store.ListGuestsDue(t.Context(), storage.DueFilter{Job: storage.DueExpireActive}); err == nil {
		t.Error("ListGuestsDue without Before: no error")
	}
	// Once told, a guest leaves the notice selection.
	at := now
	if _, err := bb.store.UpdateGuest(t.Context(), n1.ID, storage.GuestUpdate{ExpiryNotifiedAt: &at}); err != nil {
		t.Fatal(err)
	}
	if got, _ := walkDue(t, bb.store, cases[0].f, keys[storage.DueExpiryNotice]); !slices.Equal(got, cases[0].want[1:]) {
		t.Errorf("expiry notices after telling n1: got %v, want %v", got, cases[0].want[1:])
	}
}

// testPurgeGuests: PurgeGuests deletes the oldest due guests up to its
// limit, returns them without passwords, and leaves every other guest.
func testPurgeGuests(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	const day = 24 * time.Hour
	cutoff := bb.clock.now().Add(-30 * day)
	var due []*storage.Guest
	for i := range 5 {
		due = append(due, bb.jobGuest(t, fmt.Sprintf("old%d", i), storage.GuestExpired, -60*day, -31*day-time.Duration(i)*time.Hour, false))
	}
	keep := []*storage.Guest{
		bb.jobGuest(t, "recent", storage.GuestExpired, -60*day, -29*day, false),
		bb.jobGuest(t, "active-old", storage.GuestActive, -60*day, -31*day, false), // not expired yet: the expire job's
		bb.jobGuest(t, "suspended-old", storage.GuestSuspended, -60*day, -31*day, false),
	}
	want := byKey(storage.DuePurgeExpired, due...)

	gone, err := s.PurgeGuests(ctx, storage.DuePurgeExpired, cutoff, 2)
	if err != nil || !sameIDs(gone, want[:2]) {
		t.Fatalf("PurgeGuests(limit 2) = %v, %v; want the two oldest %v", guestIDs(gone), err, want[:2])
	}
	for _, g := range gone {
		if g.Status != storage.GuestExpired || g.Password != "" || g.Username == "" {
			t.Fatalf("a purged guest came back as status %q, username %q, with a password: %v; want the expired guest without it",
				g.Status, g.Username, g.Password != "")
		}
		if _, err := s.GetGuest(ctx, g.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetGuest of a purged guest: %v, want ErrNotFound", err)
		}
	}
	// A guest renewed meanwhile is no longer due and stays. (due[0] ends
	// latest of them, so it is among the rest.)
	renewed := due[0]
	st, until := storage.GuestActive, bb.clock.now().Add(day)
	if _, err := s.UpdateGuest(ctx, renewed.ID, storage.GuestUpdate{Status: &st, ValidUntil: &until}); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, renewed)
	rest := slices.DeleteFunc(slices.Clone(want[2:]), func(id uuid.UUID) bool { return id == renewed.ID })
	if len(rest) != 2 {
		t.Fatalf("test set-up: the renewed guest is not among the rest")
	}
	err = s.WithTx(ctx, func(tx storage.Store) error {
		gone, err = tx.PurgeGuests(ctx, storage.DuePurgeExpired, cutoff, 0)
		return err
	})
	if err != nil || !sameIDs(gone, rest) {
		t.Fatalf("PurgeGuests in a transaction = %v, %v; want the rest %v", guestIDs(gone), err, rest)
	}
	if gone, err := s.PurgeGuests(ctx, storage.DuePurgeExpired, cutoff, 0); err != nil || len(gone) != 0 {
		t.Fatalf("PurgeGuests again = %v, %v; want none", guestIDs(gone), err)
	}
	for _, g := range keep {
		if _, err := s.GetGuest(ctx, g.ID); err != nil {
			t.Errorf("GetGuest(%s) of a guest PurgeGuests must keep: %v", g.Username, err)
		}
	}
	// Denied guests by their denial.
	denied := bb.guest("denied", "denied@example.com")
	denied.Status = storage.GuestDenied
	denied.CreatedAt = bb.clock.now().Add(-40 * day)
	denied.UpdatedAt = bb.clock.now().Add(-31 * day)
	bb.createGuest(t, denied)
	if gone, err := s.PurgeGuests(ctx, storage.DuePurgeDenied, cutoff, 0); err != nil || len(gone) != 1 || gone[0].ID != denied.ID {
		t.Fatalf("PurgeGuests(denied) = %v, %v; want the denied guest", guestIDs(gone), err)
	}
	for _, job := range []storage.GuestJob{storage.DueExpiryNotice, storage.DueExpireActive, storage.DueExpireSuspended, 0} {
		if _, err := s.PurgeGuests(ctx, job, cutoff, 0); err == nil {
			t.Errorf("PurgeGuests(%s): no error; only the purge jobs delete", job)
		}
	}
}

// testPurgeMailBatches: PurgeMail deletes more than one batch's worth,
// exactly the purgeable messages, and Optimize answers outside a
// transaction only.
func testPurgeMailBatches(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	const n = storage.MaxPurgeBatch*2 + 7
	err := s.WithTx(ctx, func(tx storage.Store) error {
		for i := range n {
			if err := tx.EnqueueMail(ctx, mail(fmt.Sprintf("g%d@example.com", i), "Your credentials")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("enqueue %d: %v", n, err)
	}
	b.Raw(t, s, "UPDATE outbox SET status = 'sent'")
	b.Raw(t, s, "UPDATE outbox SET status = 'dead' WHERE recipient LIKE 'g1%'")
	bb.clock.Advance(time.Hour)
	queued := bb.enqueue(t, mail("queued@example.com", "Not sent yet"))
	if got, err := s.PurgeMail(ctx, bb.clock.now().Add(-time.Minute)); err != nil || got != n {
		t.Fatalf("PurgeMail = %d, %v; want %d", got, err, n)
	}
	if counts, err := s.CountMail(ctx); err != nil || len(counts) != 1 || counts[storage.MailQueued] != 1 {
		t.Fatalf("CountMail after PurgeMail = %v, %v; want the queued message alone", counts, err)
	}
	if _, err := s.GetMail(ctx, queued.ID); err != nil {
		t.Fatalf("GetMail(queued) after PurgeMail: %v", err)
	}

	if err := s.Optimize(ctx); err != nil {
		t.Fatalf("Optimize: %v", err)
	}
	err = s.WithTx(ctx, func(tx storage.Store) error { return tx.Optimize(ctx) })
	if !errors.Is(err, storage.ErrInTx) {
		t.Fatalf("Optimize in a transaction: %v, want ErrInTx", err)
	}
}

// sameIDs reports whether gs are the guests ids, in any order.
func sameIDs(gs []*storage.Guest, ids []uuid.UUID) bool {
	got := guestIDs(gs)
	slices.SortFunc(got, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return slices.Equal(got, ids)
}
