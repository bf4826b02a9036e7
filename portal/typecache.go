package portal

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// guestTypeTTL is how long the portal reuses the default guest type it
// read: every registration (the form and its POST) needs it, and it
// changes rarely. A change made meanwhile applies within this time.
const guestTypeTTL = 5 * time.Second

// typeCache keeps the default guest type for guestTypeTTL (on the real
// clock: it bounds staleness, not validity), and the terms split into
// paragraphs once. Its zero value is ready. What it hands out is shared:
// callers only read it.
type typeCache struct {
	mu   sync.Mutex
	gt   *storage.GuestType
	read time.Time

	termsOnce sync.Once
	terms     []string
}

// defaultGuestType returns the default guest type, read from the store at
// most every guestTypeTTL.
func (p *Portal) defaultGuestType(ctx context.Context) (*storage.GuestType, error) {
	c := &p.types
	c.mu.Lock()
	gt, read := c.gt, c.read
	c.mu.Unlock()
	if gt != nil && time.Since(read) < guestTypeTTL {
		return gt, nil
	}
	start := time.Now()
	gt, err := p.store.GetGuestType(ctx, p.cfg.Policy.DefaultGuestType)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.gt, c.read = gt, start
	c.mu.Unlock()
	return gt, nil
}

// termParagraphs is Policy.Terms split into paragraphs at blank lines.
func (p *Portal) termParagraphs() []string {
	c := &p.types
	c.termsOnce.Do(func() {
		for _, para := range strings.Split(p.cfg.Policy.Terms, "\n\n") {
			if para = strings.TrimSpace(para); para != "" {
				c.terms = append(c.terms, para)
			}
		}
	})
	return c.terms
}
