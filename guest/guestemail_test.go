package guest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// setGuestEmail saves the portal settings with guest email on or off.
func (b *bundle) setGuestEmail(t *testing.T, on bool) {
	t.Helper()
	ps, err := b.svc.PortalSettings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ps.SendGuestEmail = on
	if ps.Terms == "" {
		ps.Terms = "Be kind to the network."
	}
	if _, err := b.svc.SavePortalSettings(t.Context(), b.admin, ps, ps.Version); err != nil {
		t.Fatal(err)
	}
	if b.svc.GuestEmail() != on {
		t.Fatalf("after saving guest email %v, GuestEmail() = %v", on, !on)
	}
}

// TestGuestEmailOff: guest email is on until an admin turns it off; then
// no action queues an email to a guest, and the ones that made
// credentials hand them to the caller instead. Turned on again, the same
// actions email the guest.
func TestGuestEmailOff(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(c *Config) { c.Policy.ExpiryNotice = 6 * time.Hour }, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		if !b.svc.GuestEmail() {
			t.Fatal("guest email is off before anyone turned it off")
		}
		b.setGuestEmail(t, false)

		reg, err := b.svc.Register(ctx, b.selfReg(t, "eve@example.org", false))
		if err != nil || reg.Outcome != OutcomeRegistered || !reg.HandOver || reg.GuestMail() != uuid.Nil || len(reg.Mail) != 0 {
			t.Fatalf("Register = %+v, %v; want a registration handed over, no email", reg, err)
		}
		if reg.Guest.Password == "" || reg.Guest.Status != storage.GuestActive {
			t.Errorf("the registered guest is %s, with a password: %v", reg.Guest.Status, reg.Guest.Password != "")
		}
		pending, err := b.svc.Register(ctx, b.selfReg(t, "pat@example.org", true))
		if err != nil || !pending.HandOver || len(pending.Mail) != 0 || pending.Guest.Status != storage.GuestPending {
			t.Fatalf("Register with approval = %+v, %v; want pending and no email", pending, err)
		}
		if mid, err := b.svc.RepeatMail(ctx, reg.Guest, "test:again"); err != nil || mid != uuid.Nil {
			t.Errorf("RepeatMail = %v, %v; want nothing queued", mid, err)
		}
		if mid, _, err := b.svc.Remind(ctx, reg.Guest, "test:remind", nil); err != nil || mid != uuid.Nil {
			t.Errorf("Remind = %v, %v; want nothing queued", mid, err)
		}
		if res, err := b.svc.ResendByEmail(ctx, "eve@example.org"); err != nil || res != nil {
			t.Errorf("ResendByEmail = %+v, %v; want nothing", res, err)
		}

		g := b.guest(t, storage.GuestActive)
		type handed struct {
			name string
			run  func() (*Result, error)
			want bool // hands credentials over
		}
		for _, tc := range []handed{
			{"resend", func() (*Result, error) { return b.svc.Resend(ctx, b.owner, g.ID) }, true},
			{"reset", func() (*Result, error) { return b.svc.ResetPassword(ctx, b.owner, g.ID) }, true},
			{"extend", func() (*Result, error) {
				return b.svc.Extend(ctx, b.owner, g.ID, b.clock.Now().Add(48*time.Hour))
			}, false},
			{"approve", func() (*Result, error) {
				return b.svc.Approve(ctx, b.visited, b.guest(t, storage.GuestPending).ID)
			}, true},
			{"deny", func() (*Result, error) {
				return b.svc.Deny(ctx, b.visited, b.guest(t, storage.GuestPending).ID, "")
			}, false},
			{"create", func() (*Result, error) {
				return b.svc.Create(ctx, b.owner, NewGuest{FirstName: "Cy", LastName: "Created", Email: "cy@example.org"})
			}, true},
		} {
			res, err := tc.run()
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if res.Mail != uuid.Nil || res.Future != nil || res.HandOver != tc.want {
				t.Errorf("%s = mail %v, future %v, hand over %v; want no email, hand over %v", tc.name, res.Mail, res.Future != nil, res.HandOver, tc.want)
			}
			if tc.want && res.Guest.Password == "" {
				t.Errorf("%s hands over no password", tc.name)
			}
		}
		if audit := b.auditFor(t, g.ID.String()); len(audit) != 3 || audit[2].Detail != "not emailed (guest email is off), credentials shown to "+b.owner.String() {
			t.Errorf("the audit log does not say the guest was not emailed: %+v", audit)
		}

		// The expiry notice waits: the guest due is not marked notified.
		b.clock.Advance(44 * time.Hour) // g ends in 4h, within the notice
		if st, err := b.svc.RunOnce(ctx); err != nil || st.Notified != 0 {
			t.Errorf("RunOnce = %+v, %v; want no notice", st, err)
		}
		if got := b.get(t, g.ID); !got.ExpiryNotifiedAt.IsZero() {
			t.Error("the guest was marked notified, though no notice went")
		}
		if n := b.mailCount(t); n != 0 {
			t.Fatalf("with guest email off the outbox holds %d messages, want 0", n)
		}

		// Turned on again: the notice goes, and a resend emails.
		b.setGuestEmail(t, true)
		if st, err := b.svc.RunOnce(ctx); err != nil || st.Notified != 1 {
			t.Errorf("RunOnce with guest email on = %+v, %v; want one notice", st, err)
		}
		res, err := b.svc.Resend(ctx, b.owner, g.ID)
		if err != nil || res.HandOver || res.Mail == uuid.Nil {
			t.Fatalf("Resend with guest email on = %+v, %v; want an email", res, err)
		}
		if m := b.mailOf(t, res.Mail); m.Kind != KindCredentials || m.Recipient != g.Email {
			t.Errorf("the resend queued %+v", m)
		}
	})
}

// TestGuestEmailDefault: portal settings stored without the switch (saved
// before it existed, or imported from such a settings file) send guest
// email; a stored false turns it off.
func TestGuestEmailDefault(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		for i, tc := range []struct {
			doc  string
			want bool
		}{
			{`{"site_name":"Old Lobby","terms":"Be kind."}`, true},
			{`{"site_name":"Old Lobby","terms":"Be kind.","send_guest_email":false}`, false},
			{`{"site_name":"Old Lobby","terms":"Be kind.","send_guest_email":true}`, true},
		} {
			if err := b.store.PutSetting(t.Context(), &storage.Setting{Key: PortalSettingsKey, Version: int64(i), Value: []byte(tc.doc)}); err != nil {
				t.Fatal(err)
			}
			b.svc.settings.invalidate() // saved past the Service, as another replica or an import saves
			ps, err := b.svc.PortalSettings(t.Context())
			if err != nil || ps.Version != int64(i+1) {
				t.Fatalf("%s: PortalSettings = version %d, %v", tc.doc, ps.Version, err)
			}
			if ps.SendGuestEmail != tc.want || b.svc.GuestEmail() != tc.want {
				t.Errorf("%s: SendGuestEmail %v, GuestEmail() %v; want %v", tc.doc, ps.SendGuestEmail, b.svc.GuestEmail(), tc.want)
			}
		}
	})
}
