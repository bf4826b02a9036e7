package portal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// leaderLock is the name of the leader lock of the portal's jobs.
const leaderLock = "portal.jobs"

// JobStats counts what one run of the jobs did.
type JobStats struct {
	Notified   int // expiry notices queued
	Expired    int // guests marked expired
	Purged     int // guests deleted PurgeAfter after their registration ended
	MailPurged int // sent and failed emails deleted PurgeAfter after their last change
}

// RunJobs runs the guest lifecycle jobs every JobInterval on the node that
// holds the leader lock, until ctx ends (then it gives the lock up and
// returns nil). A failed run is logged and tried again at the next tick.
func (p *Portal) RunJobs(ctx context.Context) error {
	owner := jobOwner()
	interval := p.cfg.Policy.JobInterval
	t := time.NewTicker(interval)
	defer t.Stop()
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.store.ReleaseLeader(rctx, leaderLock, owner); err != nil {
			p.log.Warn("portal: jobs: release leader lock", "error", err.Error())
		}
	}()
	leading := false
	optimized := p.now() // the store refreshed its statistics when it opened
	for {
		ok, err := p.store.TryLeader(ctx, leaderLock, owner, 3*interval)
		switch {
		case err != nil && ctx.Err() == nil:
			p.log.Warn("portal: jobs: leader lock", "error", err.Error())
		case ok != leading:
			leading = ok
			p.log.Info("portal: jobs: leadership changed", "leader", ok, "owner", owner)
		}
		if ok {
			st, err := p.RunOnce(ctx)
			changed := st.Notified + st.Expired + st.Purged + st.MailPurged
			if err != nil && ctx.Err() == nil {
				p.log.Error("portal: jobs", "error", err.Error(), "notified", st.Notified, "expired", st.Expired, "purged", st.Purged, "mail_purged", st.MailPurged)
			} else if changed > 0 {
				p.log.Info("portal: jobs done", "notified", st.Notified, "expired", st.Expired, "purged", st.Purged, "mail_purged", st.MailPurged)
			}
			if now := p.now(); changed >= optimizeAfterRows || now.Sub(optimized) >= optimizeEvery {
				optimized = now
				if err := p.store.Optimize(ctx); err != nil && ctx.Err() == nil {
					p.log.Warn("portal: jobs: refresh the query planner's statistics", "error", err.Error())
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// The leader asks the store to refresh the query planner's statistics
// (storage.JobStore.Optimize) after a run that changed this many rows, and
// at least this often.
const (
	optimizeAfterRows = 1000
	optimizeEvery     = 6 * time.Hour
)

func jobOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// RunOnce runs the jobs once, leader or not: it queues the expiry notice of
// every active guest whose access ends within their guest type's notice
// (see Policy.ExpiryNotice) and who was not told yet (marking them in the same transaction), then marks active and
// suspended guests whose access has ended as expired, and last deletes the guests
// whose registration ended (expired or denied) more than PurgeAfter ago,
// with the sent and failed emails older than that.
//
// A guest whose whole validity lies within the notice period (a day guest
// with a 24-hour notice set) gets no notice: their credentials email already
// says when access ends.
func (p *Portal) RunOnce(ctx context.Context) (JobStats, error) {
	var st JobStats
	n, err := p.notifyExpiring(ctx)
	st.Notified = n
	if err != nil {
		return st, fmt.Errorf("portal: jobs: expiry notices: %w", err)
	}
	n, err = p.expire(ctx)
	st.Expired = n
	if err != nil {
		return st, fmt.Errorf("portal: jobs: expire guests: %w", err)
	}
	n, err = p.purge(ctx)
	st.Purged = n
	if err != nil {
		return st, fmt.Errorf("portal: jobs: purge guests: %w", err)
	}
	n, err = p.purgeMail(ctx)
	st.MailPurged = n
	if err != nil {
		return st, fmt.Errorf("portal: jobs: purge emails: %w", err)
	}
	return st, nil
}

// jobPage is how many guests a job reads at a time.
const jobPage = 200

// eachDue calls fn for every guest f selects, page by page: each page is
// one index range read from where the last one ended.
func (p *Portal) eachDue(ctx context.Context, f storage.DueFilter, fn func(storage.DueGuest) error) error {
	f.Limit = jobPage
	for {
		page, err := p.store.ListGuestsDue(ctx, f)
		if err != nil {
			return err
		}
		for _, g := range page.Guests {
			if err := fn(g); err != nil {
				return err
			}
		}
		if page.Next.IsZero() {
			return nil
		}
		f.Cursor = page.Next
	}
}

func (p *Portal) notifyExpiring(ctx context.Context) (int, error) {
	now := p.now()
	notices, fallback, longest, err := p.expiryNotices(ctx)
	if err != nil || longest == 0 {
		return 0, err
	}
	count := 0
	var ids []uuid.UUID
	defer func() { p.track(ids...) }()
	// Active guests not told yet whose access ends within the longest
	// notice period of any guest type, and whose validity is longer than
	// the shortest: the query selects these from its index. Each guest's
	// own type's notice is checked on the row read in the transaction, so
	// only guests within the longest window are read at all.
	shortest := longest
	for _, n := range notices {
		if n > 0 {
			shortest = min(shortest, n)
		}
	}
	err = p.eachDue(ctx, storage.DueFilter{
		Job: storage.DueExpiryNotice, After: now, Before: now.Add(longest), Notice: shortest,
	}, func(g storage.DueGuest) error {
		var mid uuid.UUID
		err := p.store.WithTx(ctx, func(tx storage.Store) error {
			cur, err := tx.GetGuest(ctx, g.ID)
			if err != nil {
				return err
			}
			if cur.Status != storage.GuestActive || !cur.ExpiryNotifiedAt.IsZero() || !cur.ValidUntil.Equal(g.Key) {
				return errSkip
			}
			notice, ok := notices[cur.GuestType]
			if !ok {
				notice = fallback
			}
			if notice == 0 || !now.After(cur.ValidUntil.Add(-notice)) || !cur.ValidFrom.Before(cur.ValidUntil.Add(-notice)) {
				return errSkip // not within its own type's notice yet, or a validity shorter than it
			}
			m, err := p.guests.ExpiryMessage(cur)
			if err != nil {
				return err
			}
			if mid, err = notify.Enqueue(ctx, tx, m); err != nil {
				return err
			}
			at := storage.Truncate(now)
			_, err = tx.UpdateGuest(ctx, cur.ID, storage.GuestUpdate{ExpiryNotifiedAt: &at,
				IfStatus: &cur.Status, IfUpdatedAt: &cur.UpdatedAt})
			return err
		})
		switch {
		case errors.Is(err, errSkip), errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrConflict):
			// Gone, or changed since it was read (ErrConflict): the next run sees it anew.
			return nil
		case err != nil:
			return fmt.Errorf("guest %s: %w", g.ID, err)
		}
		ids = append(ids, mid)
		count++
		return nil
	})
	return count, err
}

// errSkip ends a job's transaction that found nothing to do any more.
var errSkip = errors.New("portal: nothing to do")

func (p *Portal) expire(ctx context.Context) (int, error) {
	now := p.now()
	count := 0
	expireOne := func(g storage.DueGuest) error {
		err := p.store.WithTx(ctx, func(tx storage.Store) error {
			cur, err := tx.GetGuest(ctx, g.ID)
			if err != nil {
				return err
			}
			if (cur.Status != storage.GuestActive && cur.Status != storage.GuestSuspended) || now.Before(cur.ValidUntil) {
				return errSkip
			}
			expired := storage.GuestExpired
			if _, err := tx.UpdateGuest(ctx, cur.ID, storage.GuestUpdate{Status: &expired,
				IfStatus: &cur.Status, IfUpdatedAt: &cur.UpdatedAt}); err != nil {
				return err
			}
			detail := "valid until " + cur.ValidUntil.UTC().Format(time.RFC3339)
			if cur.Status == storage.GuestSuspended {
				detail += ", was suspended"
			}
			return tx.Audit(ctx, storage.AuditEntry{Actor: "system", Action: "guest.expire", Subject: cur.ID.String(), Detail: detail})
		})
		switch {
		case errors.Is(err, errSkip), errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrConflict):
			// Gone, or changed since it was read (ErrConflict: extended,
			// suspended): the next run sees it anew.
			return nil
		case err != nil:
			return fmt.Errorf("guest %s: %w", g.ID, err)
		}
		count++
		return nil
	}
	// Suspended guests too: otherwise one past its validity would never be
	// purged, and its address could never register again.
	for _, job := range []storage.GuestJob{storage.DueExpireActive, storage.DueExpireSuspended} {
		if err := p.eachDue(ctx, storage.DueFilter{Job: job, Before: now}, expireOne); err != nil {
			return count, err
		}
	}
	return count, nil
}
