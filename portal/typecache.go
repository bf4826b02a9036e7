package portal

import (
	"context"
	"strings"
	"sync"

	"github.com/lobbyhq/lobby/storage"
)

// typeCache keeps the terms split into paragraphs once. Its zero value is
// ready. What it hands out is shared: callers only read it.
type typeCache struct {
	termsOnce sync.Once
	terms     []string
}

// defaultGuestType returns the default guest type, read from the store at
// most every guest.TypeCacheTTL.
func (p *Portal) defaultGuestType(ctx context.Context) (*storage.GuestType, error) {
	return p.guests.DefaultGuestType(ctx)
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
