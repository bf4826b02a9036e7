package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// PlanCase is one statement a backend runs and the index its plan must
// use, for the backends' query plan tests.
type PlanCase struct {
	Name  string
	SQL   string
	Args  []any
	Index string
	// SortsFew allows the plan a sort of a few rows (at most a page per
	// branch of a UNION ALL), after walking Index in order.
	SortsFew bool
}

// JobStatements is what JobPlanCases needs of a backend: its lifecycle job
// statements and how it passes their arguments.
type JobStatements struct {
	Due       func(storage.GuestJob) (string, error) // ListGuestsDue's statement
	DueIndex  func(storage.GuestJob) string          // the index Due must use
	DueArgs   func(f storage.DueFilter, limit int) []any
	Purge     func(storage.GuestJob) (string, error) // PurgeGuests' statement: before, limit
	PurgeMail string                                 // PurgeMail's statement: olderThan, batch size
	Time      func(time.Time) any                    // a time as the statements take it
}

// DueFilterAt is the filter a run of job at now passes (PurgeAfter 90 days,
// a 24-hour notice), as the backends' seeding expects.
func DueFilterAt(job storage.GuestJob, now time.Time) storage.DueFilter {
	f := storage.DueFilter{Job: job, Before: now.Add(-90 * 24 * time.Hour)}
	switch job {
	case storage.DueExpiryNotice:
		f = storage.DueFilter{Job: job, After: now, Before: now.Add(24 * time.Hour), Notice: 24 * time.Hour}
	case storage.DueExpireActive, storage.DueExpireSuspended:
		f.Before = now
	}
	return f
}

// JobPlanCases are every job statement, with arguments as a run at now
// passes them: ListGuestsDue's first and a later page, PurgeGuests,
// PurgeMail's batch (which must use outbox_purge_idx).
func JobPlanCases(t testing.TB, now time.Time, st JobStatements) []PlanCase {
	t.Helper()
	var cs []PlanCase
	for _, job := range storage.GuestJobs {
		q, err := st.Due(job)
		if err != nil {
			t.Fatal(err)
		}
		index := st.DueIndex(job)
		f := DueFilterAt(job, now)
		cs = append(cs, PlanCase{job.String() + " first page", q, st.DueArgs(f, 201), index, false})
		f.Cursor = storage.DueCursor{Key: f.Before.Add(-time.Hour), ID: uuid.New()}
		cs = append(cs, PlanCase{job.String() + " next page", q, st.DueArgs(f, 201), index, false})
		if job.Purge() {
			p, err := st.Purge(job)
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, PlanCase{job.String() + " delete", p, []any{st.Time(f.Before), storage.MaxPurgeBatch}, index, false})
		}
	}
	return append(cs, PlanCase{"purge mail", st.PurgeMail, []any{st.Time(now), storage.MaxPurgeBatch}, "outbox_purge_idx", false})
}

// CheckNothingDue fails t if any job finds a guest due at now in s, which
// holds the backends' seeded data.
func CheckNothingDue(t *testing.T, s storage.Store, now time.Time) {
	t.Helper()
	for _, job := range storage.GuestJobs {
		if page, err := s.ListGuestsDue(t.Context(), DueFilterAt(job, now)); err != nil || len(page.Guests) != 0 {
			n := 0
			if page != nil {
				n = len(page.Guests)
			}
			t.Errorf("seeded data: %s at now: %d guests, %v; want nothing due", job, n, err)
		}
	}
}

// MailLogSearchQuery is the recipient search of MailLogPlanCases and
// BenchMailLog1M: one seeded message's recipient (the seeding gives each
// message its own, g<i>@example.com).
const MailLogSearchQuery = "g4242@example"

// MailLogPlanCases are the mail log's lists (ListMail's statement, built
// by list) for the filters an admin uses, first and later pages, each with
// the index its plan must use: the status, kind and time filters their
// (x, created_at, id) indexes, in order; a search, the backend's search
// index (search), whose matches are then sorted (few: a search narrows).
func MailLogPlanCases(t testing.TB, now time.Time, list func(storage.MailFilter) (string, []any, error), search string) []PlanCase {
	t.Helper()
	after := storage.EncodeCursor(storage.Cursor{CreatedAt: storage.Truncate(now.Add(-time.Hour)), ID: uuid.New()})
	dead := []storage.MailStatus{storage.MailDead}
	var cs []PlanCase
	for _, c := range []struct {
		name  string
		f     storage.MailFilter
		index string
	}{
		{"queued or dead", storage.MailFilter{Status: []storage.MailStatus{storage.MailQueued, storage.MailDead}}, "outbox_status_created_idx"},
		{"queued or dead, next page", storage.MailFilter{Status: []storage.MailStatus{storage.MailQueued, storage.MailDead}, After: after},
			"outbox_status_created_idx"},
		{"newest", storage.MailFilter{}, "outbox_created_at_id_idx"},
		{"newest, next page", storage.MailFilter{After: after}, "outbox_created_at_id_idx"},
		{"dead", storage.MailFilter{Status: dead}, "outbox_status_created_idx"},
		{"dead, next page", storage.MailFilter{Status: dead, After: after}, "outbox_status_created_idx"},
		{"kind", storage.MailFilter{Kind: "admin.alarm"}, "outbox_kind_created_idx"},
		{"created between", storage.MailFilter{CreatedFrom: now.Add(-48 * time.Hour), CreatedBefore: now.Add(-24 * time.Hour)}, "outbox_created_at_id_idx"},
		{"search", storage.MailFilter{Query: MailLogSearchQuery}, search},
		{"search, dead", storage.MailFilter{Query: MailLogSearchQuery, Status: dead}, search},
	} {
		c.f.Limit = 50
		q, args, err := list(c.f)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, PlanCase{Name: c.name, SQL: q, Args: args, Index: c.index, SortsFew: len(c.f.Status) > 1})
	}
	return cs
}
