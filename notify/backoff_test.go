package notify

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	const (
		base = 5 * time.Second
		ceil = 30 * time.Minute
	)
	tests := []struct {
		name    string
		attempt int
		base    time.Duration
		max     time.Duration
		r       float64
		want    time.Duration
	}{
		{"first attempt, no jitter", 1, base, ceil, 0.5, 5 * time.Second},
		{"second doubles", 2, base, ceil, 0.5, 10 * time.Second},
		{"fifth", 5, base, ceil, 0.5, 80 * time.Second},
		{"lowest jitter is -20%", 3, base, ceil, 0, 16 * time.Second},
		{"highest jitter approaches +20%", 3, base, ceil, 0.999999, 23999992 * time.Microsecond},
		{"capped", 10, base, ceil, 0.5, ceil},
		{"capped, jitter below", 10, base, ceil, 0, 24 * time.Minute},
		{"capped, jitter never above max", 10, base, ceil, 0.99, ceil},
		{"huge attempt does not overflow", 1000, base, ceil, 0.5, ceil},
		{"attempt 0 is treated as 1", 0, base, ceil, 0.5, 5 * time.Second},
		{"r out of range is clamped", 1, base, ceil, 7, 6 * time.Second},
		{"no base, no wait", 3, 0, ceil, 0.5, 0},
		{"base above max", 1, time.Hour, ceil, 0.5, ceil},
	}
	for _, tt := range tests {
		got := Backoff(tt.attempt, tt.base, tt.max, tt.r)
		diff := got - tt.want
		if diff < -time.Microsecond || diff > time.Microsecond {
			t.Errorf("%s: Backoff(%d, %v, %v, %v) = %v, want %v", tt.name, tt.attempt, tt.base, tt.max, tt.r, got, tt.want)
		}
	}
}

func TestBackoffGrowsMonotonically(t *testing.T) {
	t.Parallel()
	prev := time.Duration(0)
	for a := 1; a <= 20; a++ {
		got := Backoff(a, time.Second, time.Hour, 0.5)
		if got < prev {
			t.Fatalf("attempt %d waits %v, less than attempt %d (%v)", a, got, a-1, prev)
		}
		prev = got
	}
	if prev != time.Hour {
		t.Fatalf("attempt 20 waits %v, want the cap", prev)
	}
}
