package guest

import (
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

// TestResendByEmail: an address whose guest may sign in gets the
// credentials, once a minute; any other address gets nothing.
func TestResendByEmail(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		g := b.guest(t, storage.GuestActive)
		res, err := b.svc.ResendByEmail(ctx, g.Email)
		if err != nil || res == nil {
			t.Fatalf("ResendByEmail = %v, %v", res, err)
		}
		if m := b.mailOf(t, res.Mail); m.Kind != KindCredentials || m.Recipient != g.Email || m.ReplyTo != "" {
			t.Errorf("mail = %+v", m)
		}
		if again, err := b.svc.ResendByEmail(ctx, g.Email); err != nil || again.Mail != res.Mail {
			t.Errorf("again within the minute = %v, %v; want the same email", again, err)
		}
		if au := b.auditFor(t, g.ID.String()); len(au) != 2 || au[0].Actor != "guest:"+g.Username {
			t.Errorf("audit = %+v", au)
		}
		s := b.guest(t, storage.GuestSuspended)
		for _, addr := range []string{s.Email, "nobody@example.org"} {
			if res, err := b.svc.ResendByEmail(ctx, addr); err != nil || res != nil {
				t.Errorf("%s: %v, %v; want nothing sent", addr, res, err)
			}
		}
		if n := b.mailCount(t); n != 1 {
			t.Errorf("%d emails queued, want 1", n)
		}
	})
}
