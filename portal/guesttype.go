package portal

import (
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// expiryNotice is how long before the end of their access guests of gt are
// told it ends, or 0 for no notice (see guest.ExpiryNotice).
func (p *Portal) expiryNotice(gt *storage.GuestType) time.Duration {
	return guest.ExpiryNotice(gt, p.cfg.Policy.ExpiryNotice)
}
