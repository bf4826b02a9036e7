package guest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// Validity is how long a new guest of gt may stay: its default duration
// (a day when it has none), capped by its maximum.
func Validity(gt *storage.GuestType) time.Duration {
	d := gt.DefaultDuration
	if d <= 0 {
		d = 24 * time.Hour
	}
	if gt.MaxDuration > 0 && d > gt.MaxDuration {
		d = gt.MaxDuration
	}
	return d
}

// maxUntil is the latest end of access a guest of gt who starts at from
// may have; the zero time when the type has no maximum.
func maxUntil(gt *storage.GuestType, from time.Time) time.Time {
	if gt.MaxDuration <= 0 {
		return time.Time{}
	}
	return from.Add(gt.MaxDuration)
}

// GuestTypes lists the guest types.
func (s *Service) GuestTypes(ctx context.Context) ([]storage.GuestType, error) {
	types, err := s.store.ListGuestTypes(ctx)
	if err != nil {
		return nil, fmt.Errorf("guest: list guest types: %w", err)
	}
	return types, nil
}

// HumanDuration says d in words: "1 day", "7 days", "8 hours", "30 minutes".
func HumanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	default:
		return plural(int64(d.Round(time.Minute)/time.Minute), "minute")
	}
}

// FormatTime shows t in messages and audit entries, in the policy's zone.
func (s *Service) FormatTime(t time.Time) string {
	return t.In(s.pol.TimeZone).Format("Monday 2 January 2006, 15:04 MST")
}

// ExpiryNotice is how long before the end of their access guests of gt
// are told it ends, or 0 for no notice: the type's own notice, else
// policy's (Policy.ExpiryNotice), else a quarter of the type's validity,
// at most MaxDefaultExpiryNotice; negative: none. (A guest whose whole
// stay lies within the notice gets none: their credentials email already
// says when access ends.)
func ExpiryNotice(gt *storage.GuestType, policy time.Duration) time.Duration {
	n := gt.ExpiryNotice
	if n == 0 {
		n = policy
	}
	if n == 0 {
		n = min(Validity(gt)/4, MaxDefaultExpiryNotice)
	}
	return max(n, 0)
}

// EnsureGuestTypes writes the configured guest types (Policy.GuestTypes),
// then creates the default guest type when it is still missing (valid
// DefaultGuestValidity, at most DefaultGuestMaxValidity).
func (s *Service) EnsureGuestTypes(ctx context.Context) error {
	for _, gt := range s.pol.GuestTypes {
		if gt.Description == "" {
			if old, err := s.store.GetGuestType(ctx, gt.Name); err == nil {
				gt.Description = old.Description
			}
		}
		if err := s.store.PutGuestType(ctx, gt); err != nil {
			return fmt.Errorf("guest: write guest type %q: %w", gt.Name, err)
		}
		s.log.Info("guest type set from the configuration", "guest_type", gt.Name, "validity_ms", gt.DefaultDuration.Milliseconds(),
			"max_ms", gt.MaxDuration.Milliseconds(), "expiry_notice_ms", s.expiryNotice(&gt).Milliseconds())
	}
	name := s.pol.DefaultGuestType
	gt, err := s.store.GetGuestType(ctx, name)
	if err == nil {
		if n := s.expiryNotice(gt); n == 0 || n >= Validity(gt) {
			s.log.Warn("guests of the default type get no expiry notice: it is off, or not shorter than their validity",
				"guest_type", name, "validity_ms", Validity(gt).Milliseconds(), "expiry_notice_ms", n.Milliseconds())
		}
		return nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("guest: guest type %q: %w", name, err)
	}
	gt = &storage.GuestType{Name: name, Description: "Self-registered guests", DefaultDuration: DefaultGuestValidity, MaxDuration: DefaultGuestMaxValidity}
	if err := s.store.PutGuestType(ctx, *gt); err != nil {
		return fmt.Errorf("guest: create guest type %q: %w", name, err)
	}
	s.log.Info("created the default guest type", "guest_type", name, "validity_ms", gt.DefaultDuration.Milliseconds(),
		"max_ms", gt.MaxDuration.Milliseconds(), "expiry_notice_ms", s.expiryNotice(gt).Milliseconds())
	return nil
}

// expiryNotice is ExpiryNotice under the Service's policy.
func (s *Service) expiryNotice(gt *storage.GuestType) time.Duration {
	return ExpiryNotice(gt, s.pol.ExpiryNotice)
}

// expiryNotices returns the notice of every stored guest type by name, the
// notice for guests whose type is not stored (the default type's), and the
// longest of them all.
func (s *Service) expiryNotices(ctx context.Context) (map[string]time.Duration, time.Duration, time.Duration, error) {
	types, err := s.store.ListGuestTypes(ctx)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list guest types: %w", err)
	}
	notices := make(map[string]time.Duration, len(types))
	var longest time.Duration
	for i := range types {
		n := s.expiryNotice(&types[i])
		notices[types[i].Name] = n
		longest = max(longest, n)
	}
	return notices, notices[s.pol.DefaultGuestType], longest, nil
}

// TypeCacheTTL is how long the Service reuses the default guest type it
// read: every registration (the form and its POST) needs it, and it
// changes rarely. A change made meanwhile applies within this time.
const TypeCacheTTL = 5 * time.Second

// typeCache keeps the default guest type for TypeCacheTTL (on the real
// clock: it bounds staleness, not validity). Its zero value is ready. What
// it hands out is shared: callers only read it.
type typeCache struct {
	mu   sync.Mutex
	gt   *storage.GuestType
	read time.Time
}

// DefaultGuestType returns the default guest type (Policy.DefaultGuestType),
// read from the store at most every TypeCacheTTL. Callers must not change it.
func (s *Service) DefaultGuestType(ctx context.Context) (*storage.GuestType, error) {
	c := &s.types
	c.mu.Lock()
	gt, read := c.gt, c.read
	c.mu.Unlock()
	if gt != nil && time.Since(read) < TypeCacheTTL {
		return gt, nil
	}
	start := time.Now()
	gt, err := s.store.GetGuestType(ctx, s.pol.DefaultGuestType)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.gt, c.read = gt, start
	c.mu.Unlock()
	return gt, nil
}

// forget makes the next DefaultGuestType read the store.
func (c *typeCache) forget() {
	c.mu.Lock()
	c.gt = nil
	c.mu.Unlock()
}

// InitialValidity is how long a new self-registered (or approved) guest
// of gt may sign in: the type's validity; for a type that counts from the
// first sign-in, the window for that first sign-in, which is the type's
// maximum stay (at least its validity). SignedIn then starts the
// validity.
func InitialValidity(gt *storage.GuestType) time.Duration {
	if gt.FromFirstSignIn {
		return max(gt.MaxDuration, Validity(gt))
	}
	return Validity(gt)
}

// SignedIn records a guest's successful sign-in to the portal (the caller
// checked the credentials and g.CanLogIn). The first one sets
// FirstSignInAt and, when g's type counts its validity from the first
// sign-in, starts it: ValidFrom now, ValidUntil now plus the type's
// validity (audited as guest.validity_start). It returns the guest as
// stored afterwards; later sign-ins change nothing and return g.
func (s *Service) SignedIn(ctx context.Context, g *storage.Guest) (*storage.Guest, error) {
	return s.signedIn(ctx, g, 3)
}

// signedIn is SignedIn trying at most tries times when the guest changes
// meanwhile.
func (s *Service) signedIn(ctx context.Context, g *storage.Guest, tries int) (*storage.Guest, error) {
	if !g.FirstSignInAt.IsZero() {
		return g, nil
	}
	now := storage.Truncate(s.now())
	upd := storage.GuestUpdate{FirstSignInAt: &now, IfUpdatedAt: &g.UpdatedAt}
	var start bool
	gt, err := s.store.GetGuestType(ctx, g.GuestType)
	switch {
	case err == nil && gt.FromFirstSignIn:
		start = true
		until := now.Add(Validity(gt))
		var zero time.Time
		upd.ValidFrom, upd.ValidUntil, upd.ExpiryNotifiedAt = &now, &until, &zero
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return g, fmt.Errorf("guest: first sign-in: guest type %q: %w", g.GuestType, err)
	}
	var out *storage.Guest
	err = s.store.WithTx(ctx, func(tx storage.Store) error {
		var err error
		if out, err = tx.UpdateGuest(ctx, g.ID, upd); err != nil {
			return err
		}
		if !start {
			return nil
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: "guest:" + g.Username, Action: "guest.validity_start", Subject: g.ID.String(),
			Detail: fmt.Sprintf("first sign-in: valid until %s (guest type %s counts from the first sign-in)", out.ValidUntil.UTC().Format(time.RFC3339), gt.Name)})
	})
	if errors.Is(err, storage.ErrConflict) {
		// Changed meanwhile (another device signing in at the same moment,
		// or a sponsor): what is stored now stands.
		cur, err := s.store.GetGuest(ctx, g.ID)
		if err != nil {
			return g, fmt.Errorf("guest: first sign-in: %w", err)
		}
		if cur.FirstSignInAt.IsZero() && tries > 1 {
			return s.signedIn(ctx, cur, tries-1)
		}
		return cur, nil
	}
	if err != nil {
		return g, fmt.Errorf("guest: first sign-in: %w", err)
	}
	if start {
		s.log.InfoContext(ctx, "guest validity started at first sign-in", "guest_id", g.ID, "guest_type", gt.Name,
			"validity_ms", Validity(gt).Milliseconds())
	}
	return out, nil
}
