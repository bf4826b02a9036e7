package portal

import (
	"context"

	"github.com/lobbyhq/lobby/guest"
)

// leaderLock is the name of the leader lock of the guest lifecycle jobs.
const leaderLock = guest.LeaderLock

// JobStats counts what one run of the jobs did.
type JobStats = guest.JobStats

// RunJobs runs the guest lifecycle jobs (expiry notices, expiring,
// purging) every JobInterval on the node that holds the leader lock, until
// ctx ends (then it gives the lock up and returns nil); see
// guest.Service.RunJobs.
func (p *Portal) RunJobs(ctx context.Context) error { return p.guests.RunJobs(ctx) }

// RunOnce runs the jobs once, leader or not; see guest.Service.RunOnce.
func (p *Portal) RunOnce(ctx context.Context) (JobStats, error) { return p.guests.RunOnce(ctx) }
