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
			if st, err := p.RunOnce(ctx); err != nil && ctx.Err() == nil {
				p.log.Error("portal: jobs", "error", err.Error(), "notified", st.Notified, "expired", st.Expired, "purged", st.Purged, "mail_purged", st.MailPurged)
			} else if st.Notified+st.Expired+st.Purged+st.MailPurged > 0 {
				p.log.Info("portal: jobs done", "notified", st.Notified, "expired", st.Expired, "purged", st.Purged, "mail_purged", st.MailPurged)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

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

// eachGuest calls fn for every guest f selects, page by page.
func (p *Portal) eachGuest(ctx context.Context, f storage.GuestFilter, fn func(*storage.Guest) error) error {
	f.Limit = 200
	for {
		page, err := p.store.ListGuests(ctx, f)
		if err != nil {
			return err
		}
		for _, g := range page.Guests {
			if err := fn(g); err != nil {
				return err
			}
		}
		if page.Next == "" || len(page.Guests) == 0 {
			return nil
		}
		f.After = page.Next
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
	err = p.eachGuest(ctx, storage.GuestFilter{
		Status: []storage.GuestStatus{storage.GuestActive}, ValidUntilBefore: now.Add(longest), ExpiryNotNotified: true,
	}, func(g *storage.Guest) error {
		notice, ok := notices[g.GuestType]
		if !ok {
			notice = fallback
		}
		if notice == 0 || !g.ValidUntil.After(now) || !now.After(g.ValidUntil.Add(-notice)) || !g.ValidFrom.Before(g.ValidUntil.Add(-notice)) {
			return nil
		}
		var mid uuid.UUID
		err := p.store.WithTx(ctx, func(tx storage.Store) error {
			cur, err := tx.GetGuest(ctx, g.ID)
			if err != nil {
				return err
			}
			if cur.Status != storage.GuestActive || !cur.ExpiryNotifiedAt.IsZero() || !cur.ValidUntil.Equal(g.ValidUntil) {
				return errSkip
			}
			m, err := p.expiryMessage(cur)
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
	// Suspended guests too: otherwise one past its validity would never be
	// purged, and its address could never register again.
	err := p.eachGuest(ctx, storage.GuestFilter{
		Status: []storage.GuestStatus{storage.GuestActive, storage.GuestSuspended}, ValidUntilBefore: now,
	}, func(g *storage.Guest) error {
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
	})
	return count, err
}
