package guest

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

// LeaderLock is the name of the leader lock of the lifecycle jobs (the
// name they had when the portal ran them, so that nodes of both versions
// elect one leader).
const LeaderLock = "portal.jobs"

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
func (s *Service) RunJobs(ctx context.Context) error {
	owner := jobOwner()
	interval := s.pol.JobInterval
	t := time.NewTicker(interval)
	defer t.Stop()
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.store.ReleaseLeader(rctx, LeaderLock, owner); err != nil {
			s.log.Warn("guest: jobs: release leader lock", "error", err.Error())
		}
	}()
	leading := false
	optimized := s.now() // the store refreshed its statistics when it opened
	for {
		ok, err := s.store.TryLeader(ctx, LeaderLock, owner, 3*interval)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("guest: jobs: leader lock", "error", err.Error())
		case ok != leading:
			leading = ok
			s.log.Info("guest: jobs: leadership changed", "leader", ok, "owner", owner)
		}
		if ok {
			st, err := s.RunOnce(ctx)
			changed := st.Notified + st.Expired + st.Purged + st.MailPurged
			if err != nil && ctx.Err() == nil {
				s.log.Error("guest: jobs", "error", err.Error(), "notified", st.Notified, "expired", st.Expired, "purged", st.Purged, "mail_purged", st.MailPurged)
			} else if changed > 0 {
				s.log.Info("guest: jobs done", "notified", st.Notified, "expired", st.Expired, "purged", st.Purged, "mail_purged", st.MailPurged)
			}
			if now := s.now(); changed >= optimizeAfterRows || now.Sub(optimized) >= optimizeEvery {
				optimized = now
				if err := s.store.Optimize(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("guest: jobs: refresh the query planner's statistics", "error", err.Error())
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
func (s *Service) RunOnce(ctx context.Context) (JobStats, error) {
	var st JobStats
	n, err := s.notifyExpiring(ctx)
	st.Notified = n
	if err != nil {
		return st, fmt.Errorf("guest: jobs: expiry notices: %w", err)
	}
	n, err = s.expire(ctx)
	st.Expired = n
	if err != nil {
		return st, fmt.Errorf("guest: jobs: expire guests: %w", err)
	}
	n, err = s.purge(ctx)
	st.Purged = n
	if err != nil {
		return st, fmt.Errorf("guest: jobs: purge guests: %w", err)
	}
	n, err = s.purgeMail(ctx)
	st.MailPurged = n
	if err != nil {
		return st, fmt.Errorf("guest: jobs: purge emails: %w", err)
	}
	return st, nil
}

// jobPage is how many guests a job reads at a time.
const jobPage = 200

// eachDue calls fn for every guest f selects, page by page: each page is
// one index range read from where the last one ended.
func (s *Service) eachDue(ctx context.Context, f storage.DueFilter, fn func(storage.DueGuest) error) error {
	f.Limit = jobPage
	for {
		page, err := s.store.ListGuestsDue(ctx, f)
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

func (s *Service) notifyExpiring(ctx context.Context) (int, error) {
	now := s.now()
	notices, fallback, longest, err := s.expiryNotices(ctx)
	if err != nil || longest == 0 || !s.GuestEmail() {
		// No notice to give; or guest email is off, and the guests due stay
		// unnotified, so that they get theirs if it is turned on in time.
		return 0, err
	}
	count := 0
	var ids []uuid.UUID
	defer func() { s.track(ids...) }()
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
	err = s.eachDue(ctx, storage.DueFilter{
		Job: storage.DueExpiryNotice, After: now, Before: now.Add(longest), Notice: shortest,
	}, func(g storage.DueGuest) error {
		var mid uuid.UUID
		err := s.store.WithTx(ctx, func(tx storage.Store) error {
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
			m, err := s.ExpiryMessage(cur)
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
var errSkip = errors.New("guest: nothing to do")

func (s *Service) expire(ctx context.Context) (int, error) {
	now := s.now()
	count := 0
	expireOne := func(g storage.DueGuest) error {
		err := s.store.WithTx(ctx, func(tx storage.Store) error {
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
		if err := s.eachDue(ctx, storage.DueFilter{Job: job, Before: now}, expireOne); err != nil {
			return count, err
		}
	}
	return count, nil
}
