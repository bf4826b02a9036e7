package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

func TestCheckSecretExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name      string
		mode      AuthMode
		expiresIn time.Duration // 0: unset
		severity  storage.Severity
		title     string // "" means no alarm
		level     string
	}{
		{"not Exchange Online", AuthPassword, 2 * day, "", "", ""},
		{"expiry unset", AuthExchangeOnline, 0, "", "", ""},
		{"far away", AuthExchangeOnline, 90 * day, "", "", ""},
		{"just over 30 days", AuthExchangeOnline, 30*day + time.Minute, "", "", ""},
		{"30 days", AuthExchangeOnline, 30 * day, storage.SeverityWarning, "expires in 30 days", "30"},
		{"8 days", AuthExchangeOnline, 8*day + time.Hour, storage.SeverityWarning, "expires in 8 days", "15"},
		{"7 days", AuthExchangeOnline, 7 * day, storage.SeverityCritical, "expires in 7 days", "7"},
		{"1 day", AuthExchangeOnline, day + time.Hour, storage.SeverityCritical, "expires in 1 day (", "7"},
		{"hours", AuthExchangeOnline, 3 * time.Hour, storage.SeverityCritical, "expires within a day", "1"},
		{"just expired", AuthExchangeOnline, -time.Hour, storage.SeverityCritical, "expired today", "expired"},
		{"15 days", AuthExchangeOnline, 15 * day, storage.SeverityWarning, "expires in 15 days", "15"},
		{"a day", AuthExchangeOnline, day, storage.SeverityCritical, "expires in 1 day (", "1"},
		{"expired 3 days ago", AuthExchangeOnline, -3*day - time.Hour, storage.SeverityCritical, "expired 3 days ago", "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			s := testSettings()
			s.AuthMode = tt.mode
			s.ClientSecretExpires = time.Time{}
			if tt.expiresIn != 0 {
				s.ClientSecretExpires = now.Add(tt.expiresIn)
			}
			// An earlier alarm must be cleared when no longer due.
			if err := b.store.RaiseAlarm(t.Context(), storage.Alarm{Key: AlarmSecretExpiry, Severity: storage.SeverityWarning, Title: "old"}); err != nil {
				t.Fatal(err)
			}
			if err := CheckSecretExpiry(t.Context(), b.store, s, now); err != nil {
				t.Fatal(err)
			}
			alarms, err := b.store.ListAlarms(t.Context(), false)
			if err != nil {
				t.Fatal(err)
			}
			if tt.title == "" {
				if len(alarms) != 0 {
					t.Fatalf("alarms = %+v, want none", alarms)
				}
				return
			}
			if len(alarms) != 1 {
				t.Fatalf("alarms = %+v, want one", alarms)
			}
			a := alarms[0]
			if a.Key != AlarmSecretExpiry || a.Severity != tt.severity || !strings.Contains(a.Title, tt.title) || a.Level != tt.level {
				t.Errorf("alarm = %s %q at level %q, want %s with %q at level %q", a.Severity, a.Title, a.Level, tt.severity, tt.title, tt.level)
			}
			for _, step := range []string{"Entra", "new client secret", "Value (not the Secret ID", "Test Connection", "Save", s.ClientID} {
				if !strings.Contains(a.Detail, step) {
					t.Errorf("detail lacks %q: %s", step, a.Detail)
				}
			}
			assertNoSecrets(t, "alarm", a.Title+a.Detail)
		})
	}
}
