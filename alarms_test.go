package lobby

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
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

// An alarm email takes the site name and the alarm template an admin saved
// (the guest rules' live settings), not those Lobby started with.
func TestAlarmEmailUsesSavedSettings(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) { cfg.AlarmRecipients = []string{"noc@corp.example"} })
	ctx := t.Context()
	admin := guest.Actor{Staff: &storage.Staff{ID: uuid.New(), Username: "root", Role: storage.RoleAdmin}}
	g := b.lobby.portal.Guests()
	ps, err := g.PortalSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps.SiteName = "Contoso Front Desk"
	if _, err := g.SavePortalSettings(ctx, admin, ps, ps.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := g.SaveEmailTemplate(ctx, admin, notify.TemplateAlarm,
		notify.Source{Subject: "[{{.SiteName}}] ALARM {{.Title}}"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.lobby.Alarms().Raise(ctx, storage.Alarm{Key: "test.saved", Severity: storage.SeverityWarning,
		Title: "Something to see", Level: "1"}); err != nil {
		t.Fatal(err)
	}
	mail, err := b.store.ListMail(ctx, storage.MailFilter{Kind: notify.KindAlarm})
	if err != nil || len(mail) != 1 {
		t.Fatalf("alarm emails: %d, %v; want 1", len(mail), err)
	}
	if want := "[Contoso Front Desk] ALARM Something to see"; mail[0].Subject != want {
		t.Errorf("alarm email subject %q, want %q", mail[0].Subject, want)
	}
}
