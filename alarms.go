package lobby

import (
	"context"
	"errors"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// secretCheckInterval is how often Run checks the Exchange Online client
// secret's expiry date; the alarm steps are days apart, so hourly is plenty.
const secretCheckInterval = time.Hour

// watchSecretExpiry raises the client-secret expiry alarm (30 days ahead,
// critical at 7) or clears it, at start and then every secretCheckInterval.
// Alarms dedupe by key, so every node may run it.
func (l *Lobby) watchSecretExpiry(ctx context.Context) error {
	tick := time.NewTicker(secretCheckInterval)
	defer tick.Stop()
	for {
		l.checkSecretExpiry(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (l *Lobby) checkSecretExpiry(ctx context.Context) {
	s, err := l.settings(ctx)
	if errors.Is(err, storage.ErrNotFound) {
		return // no SMTP settings saved yet: nothing can expire
	}
	if err != nil {
		if ctx.Err() == nil {
			l.logger.Warn("client secret expiry check: read the SMTP settings", "err", err)
		}
		return
	}
	if err := notify.CheckSecretExpiry(ctx, l.cfg.Store, s, l.cfg.Now()); err != nil && ctx.Err() == nil {
		l.logger.Warn("client secret expiry check", "err", err)
	}
}
