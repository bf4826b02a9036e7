package portal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// ensureGuestType writes the configured guest types (Policy.GuestTypes),
// then creates the default guest type when it is still missing.
func (p *Portal) ensureGuestType(ctx context.Context) error {
	for _, gt := range p.cfg.Policy.GuestTypes {
		if gt.Description == "" {
			if old, err := p.store.GetGuestType(ctx, gt.Name); err == nil {
				gt.Description = old.Description
			}
		}
		if err := p.store.PutGuestType(ctx, gt); err != nil {
			return fmt.Errorf("portal: write guest type %q: %w", gt.Name, err)
		}
		p.log.Info("guest type set from the configuration", "guest_type", gt.Name, "validity", gt.DefaultDuration,
			"max", gt.MaxDuration, "expiry_notice", p.expiryNotice(&gt))
	}
	name := p.cfg.Policy.DefaultGuestType
	gt, err := p.store.GetGuestType(ctx, name)
	if err == nil {
		if n := p.expiryNotice(gt); n == 0 || n >= validity(gt) {
			p.log.Warn("guests of the default type get no expiry notice: it is off, or not shorter than their validity",
				"guest_type", name, "validity", validity(gt), "expiry_notice", n)
		}
		return nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("portal: guest type %q: %w", name, err)
	}
	gt = &storage.GuestType{Name: name, Description: "Self-registered guests", DefaultDuration: DefaultGuestValidity, MaxDuration: DefaultGuestMaxValidity}
	if err := p.store.PutGuestType(ctx, *gt); err != nil {
		return fmt.Errorf("portal: create guest type %q: %w", name, err)
	}
	p.log.Info("created the default guest type", "guest_type", name, "default", gt.DefaultDuration, "max", gt.MaxDuration,
		"expiry_notice", p.expiryNotice(gt))
	return nil
}

// expiryNotice is how long before the end of their access guests of gt are
// told it ends, or 0 for no notice: the type's own notice, else the
// policy's, else a quarter of the type's validity, at most
// MaxDefaultExpiryNotice. (A guest whose whole stay lies within the notice
// gets none: their credentials email already says when access ends.)
func (p *Portal) expiryNotice(gt *storage.GuestType) time.Duration {
	return guest.ExpiryNotice(gt, p.cfg.Policy.ExpiryNotice)
}

// expiryNotices returns the notice of every stored guest type by name, the
// notice for guests whose type is not stored (the default type's), and the
// longest of them all.
func (p *Portal) expiryNotices(ctx context.Context) (map[string]time.Duration, time.Duration, time.Duration, error) {
	types, err := p.store.ListGuestTypes(ctx)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list guest types: %w", err)
	}
	notices := make(map[string]time.Duration, len(types))
	var longest time.Duration
	for i := range types {
		n := p.expiryNotice(&types[i])
		notices[types[i].Name] = n
		longest = max(longest, n)
	}
	return notices, notices[p.cfg.Policy.DefaultGuestType], longest, nil
}
