package portal

import (
	"context"
	"strings"
	"sync"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// typeCache keeps the terms split into paragraphs, split again only when
// they change. Its zero value is ready. What it hands out is shared:
// callers only read it.
type typeCache struct {
	mu    sync.Mutex
	text  string
	terms []string
}

// defaultGuestType returns the default guest type, read from the store at
// most every guest.TypeCacheTTL.
func (p *Portal) defaultGuestType(ctx context.Context) (*storage.GuestType, error) {
	return p.guests.DefaultGuestType(ctx)
}

// settings returns the portal settings in force (see
// guest.Service.PortalSettings); when they cannot be read, the
// configuration's, and the error is logged.
func (p *Portal) settings(ctx context.Context) guest.PortalSettings {
	ps, err := p.guests.PortalSettings(ctx)
	if err != nil {
		p.log.WarnContext(ctx, "portal: could not read the portal settings; showing the configured ones", "error", err.Error())
		pol := p.cfg.Policy
		return guest.PortalSettings{SiteName: pol.SiteName, Accent: pol.Accent, Fields: pol.Fields, Terms: pol.Terms,
			AllowDomains: pol.AllowDomains, BlockDomains: pol.BlockDomains, RequireApproval: pol.RequireApproval,
			Approvers: pol.Approvers, RegistrationCode: pol.RegistrationCode, SendGuestEmail: true}
	}
	return ps
}

// termParagraphs is the settings' terms split into paragraphs at blank lines.
func (p *Portal) termParagraphs(ps guest.PortalSettings) []string {
	c := &p.types
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.terms != nil && c.text == ps.Terms {
		return c.terms
	}
	terms := []string{}
	for _, para := range strings.Split(ps.Terms, "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			terms = append(terms, para)
		}
	}
	c.text, c.terms = ps.Terms, terms
	return terms
}
