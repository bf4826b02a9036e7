package testclock

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	c := New(t0)
	first := c.Now()
	if second := c.Now(); !first.Equal(t0) || !second.Equal(t0) {
		t.Fatalf("Now = %v then %v, want %v until advanced", first, second, t0)
	}
	c.Advance(90 * time.Second)
	if want := t0.Add(90 * time.Second); !c.Now().Equal(want) {
		t.Fatalf("after Advance: %v, want %v", c.Now(), want)
	}
}
