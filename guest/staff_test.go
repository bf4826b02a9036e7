package guest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// action is one staff-side action as the permission table runs it.
type action struct {
	name   string
	perm   storage.Permission
	status storage.GuestStatus // the guest it acts on
	audit  string
	run    func(ctx context.Context, s *Service, a Actor, id uuid.UUID) error
}

var actions = []action{
	{"resend", storage.PermResend, storage.GuestActive, "guest.resend", func(ctx context.Context, s *Service, a Actor, id uuid.UUID) error {
		_, err := s.Resend(ctx, a, id)
		return err
	}},
	{"reset", storage.PermResetPassword, storage.GuestActive, "guest.reset_password", func(ctx context.Context, s *Service, a Actor, id uuid.UUID) error {
		_, err := s.ResetPassword(ctx, a, id)
		return err
	}},
	{"extend", storage.PermExtend, storage.GuestActive, "guest.extend", func(ctx context.Context, s *Service, a Actor, id uuid.UUID) error {
		_, err := s.Extend(ctx, a, id, s.Now().Add(48*time.Hour))
		return err
	}},
	{"suspend", storage.PermSuspend, storage.GuestActive, "guest.suspend", func(ctx context.Context, s *Service, a Actor, id uuid.UUID) error {
		_, err := s.Suspend(ctx, a, id, "left early")
		return err
	}},
	{"reinstate", storage.PermSuspend, storage.GuestSuspended, "guest.reinstate", func(ctx context.Context, s *Service, a Actor, id uuid.UUID) error {
		_, err := s.Reinstate(ctx, a, id)
		return err
	}},
	{"delete", storage.PermDelete, storage.GuestActive, "guest.delete", func(ctx context.Context, s *Service, a Actor, id uuid.UUID) error {
		return s.Delete(ctx, a, id)
	}},
	{"approve", storage.PermApprove, storage.GuestPending, "guest.approve", func(ctx context.Context, s *Service, a Actor, id uuid.UUID) error {
		_, err := s.Approve(ctx, a, id)
		return err
	}},
	{"deny", storage.PermApprove, storage.GuestPending, "guest.deny", func(ctx context.Context, s *Service, a Actor, id uuid.UUID) error {
		_, err := s.Deny(ctx, a, id, "unknown visitor")
		return err
	}},
}

// TestPermissions runs every action as every kind of actor: the guest's
// sponsor, another sponsor, a group that manages all, an admin, the
// sponsor without the permission, a disabled sponsor, the person visited,
// the system and an approval link. A refused action changes nothing:
// the guest, the outbox and the audit log stay as they were.
func TestPermissions(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		actors := []struct {
			name  string
			actor Actor
			may   func(action) bool
		}{
			{"owner", b.owner, func(action) bool { return true }},
			{"another sponsor", b.other, func(action) bool { return false }},
			{"manage all", b.manager, func(action) bool { return true }},
			{"admin", b.admin, func(action) bool { return true }},
			{"without the permission", b.noPerms, func(action) bool { return false }},
			{"disabled", b.disabled, func(action) bool { return false }},
			{"person visited", b.visited, func(a action) bool { return a.perm == storage.PermApprove }},
			{"system", System(), func(action) bool { return true }},
			{"approval link", LinkApprover("boss@corp.example"), func(a action) bool { return a.perm == storage.PermApprove }},
		}
		for _, ac := range actions {
			for _, who := range actors {
				g := b.guest(t, ac.status)
				mails := b.mailCount(t)
				err := ac.run(t.Context(), b.svc, who.actor, g.ID)
				if !who.may(ac) {
					if !errors.Is(err, ErrForbidden) {
						t.Errorf("%s as %s: err = %v, want ErrForbidden", ac.name, who.name, err)
						continue
					}
					after := b.get(t, g.ID)
					if after.Status != g.Status || !after.UpdatedAt.Equal(g.UpdatedAt) || after.Password != g.Password {
						t.Errorf("%s as %s: refused, yet the guest changed: %+v", ac.name, who.name, after)
					}
					if n := b.mailCount(t); n != mails {
						t.Errorf("%s as %s: refused, yet %d emails were queued", ac.name, who.name, n-mails)
					}
					if au := b.auditFor(t, g.ID.String()); len(au) != 0 {
						t.Errorf("%s as %s: refused, yet audited: %+v", ac.name, who.name, au)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s as %s: %v", ac.name, who.name, err)
					continue
				}
				au := b.auditFor(t, g.ID.String())
				if len(au) != 1 || au[0].Action != ac.audit || au[0].Actor != who.actor.String() {
					t.Errorf("%s as %s: audit = %+v, want one %s by %s", ac.name, who.name, au, ac.audit, who.actor.String())
				}
			}
		}
	})
}

func TestActorString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a    Actor
		want string
	}{
		{System(), "system"},
		{Actor{Staff: &storage.Staff{Username: "olga"}}, "staff:olga"},
		{LinkApprover("boss@corp.example"), "approver:boss@corp.example"},
	} {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// TestStateErrors: an action on a guest in a state it does not apply to
// is ErrState with a message, and changes nothing.
func TestStateErrors(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		s := b.svc
		tests := []struct {
			name   string
			status storage.GuestStatus
			run    func(id uuid.UUID) error
			want   string
		}{
			{"extend denied", storage.GuestDenied, func(id uuid.UUID) error { _, err := s.Extend(ctx, b.owner, id, s.Now().Add(48*time.Hour)); return err }, "denied"},
			{"extend pending", storage.GuestPending, func(id uuid.UUID) error { _, err := s.Extend(ctx, b.owner, id, s.Now().Add(48*time.Hour)); return err }, "approve or deny"},
			{"approve active", storage.GuestActive, func(id uuid.UUID) error { _, err := s.Approve(ctx, b.owner, id); return err }, "approved already"},
			{"deny denied", storage.GuestDenied, func(id uuid.UUID) error { _, err := s.Deny(ctx, b.owner, id, ""); return err }, "denied already"},
			{"suspend expired", storage.GuestExpired, func(id uuid.UUID) error { _, err := s.Suspend(ctx, b.owner, id, ""); return err }, "only active and pending"},
			{"reinstate active", storage.GuestActive, func(id uuid.UUID) error { _, err := s.Reinstate(ctx, b.owner, id); return err }, "nothing to reinstate"},
			{"resend pending", storage.GuestPending, func(id uuid.UUID) error { _, err := s.Resend(ctx, b.owner, id); return err }, "approve or deny"},
			{"resend suspended", storage.GuestSuspended, func(id uuid.UUID) error { _, err := s.Resend(ctx, b.owner, id); return err }, "reinstate"},
			{"reset expired", storage.GuestExpired, func(id uuid.UUID) error { _, err := s.ResetPassword(ctx, b.owner, id); return err }, "extend"},
		}
		for _, tt := range tests {
			g := b.guest(t, tt.status)
			mails := b.mailCount(t)
			err := tt.run(g.ID)
			var se *StateError
			if !errors.Is(err, ErrState) || !errors.As(err, &se) || se.Status != tt.status || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: err = %v, want ErrState saying %q", tt.name, err, tt.want)
				continue
			}
			if after := b.get(t, g.ID); !after.UpdatedAt.Equal(g.UpdatedAt) || b.mailCount(t) != mails || len(b.auditFor(t, g.ID.String())) != 0 {
				t.Errorf("%s: refused, yet something changed", tt.name)
			}
		}
		if _, err := s.Resend(ctx, b.owner, uuid.New()); !errors.Is(err, ErrNotFound) {
			t.Errorf("resend a missing guest: err = %v, want ErrNotFound", err)
		}
	})
}

// TestResetPassword: the old password stops working at once (the store
// has the new one, sessions before now end) and the new one is emailed,
// with the sponsor as Reply-To.
func TestResetPassword(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		g := b.guest(t, storage.GuestActive)
		b.clock.Advance(time.Minute)
		res, err := b.svc.ResetPassword(t.Context(), b.owner, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		stored := b.get(t, g.ID)
		if stored.Password == g.Password || stored.Password != res.Guest.Password || len(stored.Password) != DefaultPasswordLength {
			t.Errorf("password: stored %q, result %q, old %q; want a new one of %d characters in both", stored.Password, res.Guest.Password, g.Password, DefaultPasswordLength)
		}
		if now := storage.Truncate(b.clock.Now()); !stored.SessionsValidAfter.Equal(now) {
			t.Errorf("SessionsValidAfter = %v, want %v", stored.SessionsValidAfter, now)
		}
		m := b.mailOf(t, res.Mail)
		if m.Kind != KindReset || m.Recipient != g.Email || !strings.Contains(m.Text, stored.Password) || m.ReplyTo != b.owner.Staff.Email {
			t.Errorf("mail = %+v, want %s to %s with the new password, Reply-To %s", m, KindReset, g.Email, b.owner.Staff.Email)
		}
		if tr := b.mail.tracked(); len(tr) == 0 || tr[len(tr)-1] != res.Mail {
			t.Errorf("tracked %v, want %s last", tr, res.Mail)
		}
		// An admin has no Reply-To unless they have an address.
		b.admin.Staff.Email = ""
		res, err = b.svc.ResetPassword(t.Context(), b.admin, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m := b.mailOf(t, res.Mail); m.ReplyTo != "" {
			t.Errorf("Reply-To = %q, want none for an actor without an address", m.ReplyTo)
		}
	})
}

// TestResend: the guest's own password again, once a minute however
// often asked.
func TestResend(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		g := b.guest(t, storage.GuestActive)
		res, err := b.svc.Resend(t.Context(), b.owner, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if after := b.get(t, g.ID); after.Password != g.Password || !after.UpdatedAt.Equal(g.UpdatedAt) {
			t.Errorf("resend changed the guest: %+v", after)
		}
		m := b.mailOf(t, res.Mail)
		if m.Kind != KindCredentials || m.Recipient != g.Email || !strings.Contains(m.Text, g.Password) || !strings.Contains(m.Text, "https://wifi.example.com/portal/login") {
			t.Errorf("mail = %+v, want the credentials with the sign-in link", m)
		}
		again, err := b.svc.Resend(t.Context(), b.owner, g.ID)
		if err != nil || again.Mail != res.Mail {
			t.Errorf("second resend within the minute = %v, %v; want the same email %s", again, err, res.Mail)
		}
		b.clock.Advance(time.Minute)
		later, err := b.svc.Resend(t.Context(), b.owner, g.ID)
		if err != nil || later.Mail == res.Mail {
			t.Errorf("resend a minute later = %v, %v; want a new email", later, err)
		}
	})
}

// TestExtend: within the type's maximum; an expired guest is active again
// and will get a new expiry notice; the extension email when configured.
func TestExtend(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(c *Config) { c.Policy.NotifyExtension = true }, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		g := b.guest(t, storage.GuestActive)
		limit := g.ValidFrom.Add(7 * 24 * time.Hour)
		for name, until := range map[string]time.Time{
			"past the maximum":   limit.Add(time.Minute),
			"before the current": g.ValidUntil.Add(-time.Hour),
			"in the past":        b.clock.Now().Add(-time.Hour),
		} {
			if _, err := b.svc.Extend(ctx, b.owner, g.ID, until); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: err = %v, want ErrInvalid", name, err)
			} else if fe := FieldErrors(err); len(fe) != 1 || fe[0].Field != "valid_until" {
				t.Errorf("%s: field errors = %v", name, fe)
			}
		}
		res, err := b.svc.Extend(ctx, b.owner, g.ID, limit)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Guest.ValidUntil.Equal(limit) || res.Guest.Status != storage.GuestActive {
			t.Errorf("extended = %v %s, want %v active", res.Guest.ValidUntil, res.Guest.Status, limit)
		}
		if m := b.mailOf(t, res.Mail); m.Kind != KindExtended || m.Recipient != g.Email {
			t.Errorf("mail = %+v, want %s to %s", m, KindExtended, g.Email)
		}

		ex := b.guest(t, storage.GuestExpired)
		at := storage.Truncate(b.clock.Now().Add(-25 * time.Hour))
		if _, err := b.store.UpdateGuest(ctx, ex.ID, storage.GuestUpdate{ExpiryNotifiedAt: &at}); err != nil {
			t.Fatal(err)
		}
		res, err = b.svc.Extend(ctx, b.manager, ex.ID, b.clock.Now().Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if res.Guest.Status != storage.GuestActive || !res.Guest.ExpiryNotifiedAt.IsZero() {
			t.Errorf("expired guest extended: %s, notified %v; want active, to be notified again", res.Guest.Status, res.Guest.ExpiryNotifiedAt)
		}
	})
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		g := b.guest(t, storage.GuestActive)
		res, err := b.svc.Extend(t.Context(), b.owner, g.ID, g.ValidUntil.Add(time.Hour))
		if err != nil || res.Mail != uuid.Nil || res.Future != nil || b.mailCount(t) != 0 {
			t.Errorf("without NotifyExtension: %+v, %v; want no email", res, err)
		}
	})
}

// TestSuspendReinstate: a suspension ends the guest's sessions; a
// reinstatement does not bring them back; a validity that ended meanwhile
// must be extended first.
func TestSuspendReinstate(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		g := b.guest(t, storage.GuestActive)
		b.clock.Advance(time.Minute)
		s, err := b.svc.Suspend(ctx, b.owner, g.ID, "lost badge")
		if err != nil {
			t.Fatal(err)
		}
		suspendedAt := storage.Truncate(b.clock.Now())
		if s.Status != storage.GuestSuspended || !s.SessionsValidAfter.Equal(suspendedAt) {
			t.Errorf("suspended = %s, sessions after %v", s.Status, s.SessionsValidAfter)
		}
		if au := b.auditFor(t, g.ID.String()); len(au) != 1 || !strings.Contains(au[0].Detail, "lost badge") {
			t.Errorf("audit = %+v, want the reason", au)
		}
		b.clock.Advance(time.Minute)
		r, err := b.svc.Reinstate(ctx, b.owner, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != storage.GuestActive || !r.SessionsValidAfter.Equal(suspendedAt) {
			t.Errorf("reinstated = %s, sessions after %v; want active, %v", r.Status, r.SessionsValidAfter, suspendedAt)
		}
		if _, err := b.svc.Suspend(ctx, b.owner, g.ID, "line\nbreak"); !errors.Is(err, ErrInvalid) {
			t.Errorf("reason with a line break: err = %v, want ErrInvalid", err)
		}
		if _, err := b.svc.Suspend(ctx, b.owner, g.ID, ""); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(25 * time.Hour)
		if _, err := b.svc.Reinstate(ctx, b.owner, g.ID); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "extend it first") {
			t.Errorf("reinstate past validity: err = %v, want ErrState saying to extend", err)
		}
	})
}

// TestApproveDeny: approval starts the validity now and emails the
// credentials; denial emails the guest; the person visited may decide.
func TestApproveDeny(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		g := b.guest(t, storage.GuestPending)
		b.clock.Advance(time.Hour)
		res, err := b.svc.Approve(ctx, b.visited, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		now := storage.Truncate(b.clock.Now())
		if res.Guest.Status != storage.GuestActive || !res.Guest.ValidFrom.Equal(now) || !res.Guest.ValidUntil.Equal(now.Add(24*time.Hour)) {
			t.Errorf("approved = %s %v–%v", res.Guest.Status, res.Guest.ValidFrom, res.Guest.ValidUntil)
		}
		if m := b.mailOf(t, res.Mail); m.Kind != KindCredentials || m.Recipient != g.Email || !strings.Contains(m.Text, g.Password) || m.ReplyTo != b.visited.Staff.Email {
			t.Errorf("approval mail = %+v", m)
		}
		d := b.guest(t, storage.GuestPending)
		res, err = b.svc.Deny(ctx, b.owner, d.ID, "no meeting booked")
		if err != nil {
			t.Fatal(err)
		}
		if res.Guest.Status != storage.GuestDenied {
			t.Errorf("denied = %s", res.Guest.Status)
		}
		if m := b.mailOf(t, res.Mail); m.Kind != KindDenied || m.Recipient != d.Email {
			t.Errorf("denial mail = %+v", m)
		}
		if au := b.auditFor(t, d.ID.String()); len(au) != 1 || !strings.Contains(au[0].Detail, "no meeting booked") {
			t.Errorf("audit = %+v, want the reason", au)
		}
	})
}

// TestDeleteKeepsAudit: the guest goes, the audit log says who they were.
func TestDeleteKeepsAudit(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		g := b.guest(t, storage.GuestActive)
		if err := b.svc.Delete(t.Context(), b.owner, g.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.GetGuest(t.Context(), g.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("deleted guest: %v, want ErrNotFound", err)
		}
		if au := b.auditFor(t, g.ID.String()); len(au) != 1 || !strings.Contains(au[0].Detail, g.Username) || strings.Contains(au[0].Detail, g.Password) {
			t.Errorf("audit = %+v, want the username and no password", au)
		}
		if err := b.svc.Delete(t.Context(), b.owner, g.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("delete again: %v, want ErrNotFound", err)
		}
	})
}

// staleStore hands out a guest as read, then changes it (as another
// request would have, between the read and the write) before the action
// writes.
type staleStore struct {
	storage.Store
}

func (s staleStore) WithTx(ctx context.Context, fn func(tx storage.Store) error) error {
	return s.Store.WithTx(ctx, func(tx storage.Store) error { return fn(staleStore{tx}) })
}

func (s staleStore) GetGuest(ctx context.Context, id uuid.UUID) (*storage.Guest, error) {
	g, err := s.Store.GetGuest(ctx, id)
	if err != nil {
		return nil, err
	}
	// Someone else's change, committed meanwhile.
	later := g.ValidUntil.Add(time.Hour)
	if _, err := s.Store.UpdateGuest(ctx, id, storage.GuestUpdate{ValidUntil: &later}); err != nil {
		return nil, err
	}
	return g, nil
}

// TestConcurrentChangeIsConflict: an action on a guest that changed since
// it was read is ErrConflict and changes nothing.
func TestConcurrentChangeIsConflict(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		g := b.guest(t, storage.GuestActive)
		svc, err := New(Config{Store: staleStore{b.store}, BaseURL: "https://wifi.example.com/portal", Now: b.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Extend(t.Context(), b.owner, g.ID, g.ValidUntil.Add(24*time.Hour)); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "try again") {
			t.Errorf("extend: err = %v, want ErrConflict saying to try again", err)
		}
		if _, err := svc.Suspend(t.Context(), b.owner, g.ID, ""); !errors.Is(err, ErrConflict) {
			t.Errorf("suspend: err = %v, want ErrConflict", err)
		}
		if after := b.get(t, g.ID); !after.UpdatedAt.Equal(g.UpdatedAt) || after.Status != storage.GuestActive || b.mailCount(t) != 0 {
			t.Errorf("a conflict changed the guest: %+v", after)
		}
	})
}
