package soak

import (
	"testing"
	"time"
)

// TestFaultsShort is the fault suite's quick subset, run by make test: the
// SMTP server gone for a few seconds while guests register. make soak runs
// the whole suite (TestSoak, build tag soak).
func TestFaultsShort(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite starts lobby processes; skipped with -short")
	}
	bin := lobbyBinary(t)
	runScenarios(t, bin, []scenario{
		{"SMTP down 5s", smtpDown(5*time.Second, 50*time.Millisecond, 45*time.Second)},
		{"token endpoint down across refresh (30s token)", tokenDown(30*time.Second, 100*time.Millisecond, 30*time.Second)},
	})
}
