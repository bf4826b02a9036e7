package guest

import (
	"context"
	"fmt"
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
