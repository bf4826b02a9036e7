package notify

import (
	"strings"
	"testing"
)

// NewAlarms names every missing dependency and bad recipient at once.
func TestNewAlarmsChecksConfig(t *testing.T) {
	t.Parallel()
	_, err := NewAlarms(AlarmsConfig{Recipients: []string{"noc@corp.example", "not an address"}})
	if err == nil {
		t.Fatal("NewAlarms accepted a config without store, renderer, with a bad recipient")
	}
	for _, want := range []string{"Store is required", "Renderer is required", `recipient "not an address"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "noc@corp.example") {
		t.Errorf("error %q names the good recipient", err)
	}
}
