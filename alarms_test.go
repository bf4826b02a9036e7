package lobby

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// Run raises the client-secret expiry alarm from the SMTP settings in use,
// without anyone opening a page.
func TestRunRaisesSecretExpiryAlarm(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) {
		s := devMailSettings(b.emu)
		s.ClientSecretExpires = b.clock.Now().Add(5 * 24 * time.Hour)
		cfg.MailSettings = func(context.Context) (notify.Settings, error) { return s, nil }
	})
	var got storage.Alarm
	deadline := time.Now().Add(10 * time.Second)
	for got.Key == "" {
		if time.Now().After(deadline) {
			t.Fatal("no client secret expiry alarm within 10s of Run")
		}
		alarms, err := b.store.ListAlarms(t.Context(), false)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range alarms {
			if a.Key == notify.AlarmSecretExpiry {
				got = a
			}
		}
		if got.Key == "" {
			select {
			case <-t.Context().Done():
				return
			case <-time.After(10 * time.Millisecond): // poll interval, not a wait for an outcome
			}
		}
	}
	if got.Severity != storage.SeverityCritical {
		t.Errorf("severity = %s, want critical 5 days before expiry", got.Severity)
	}
	if secret := b.emu.ClientSecret(); strings.Contains(got.Title+got.Detail, secret) {
		t.Error("the alarm shows the client secret")
	}
}
