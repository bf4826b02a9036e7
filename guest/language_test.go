package guest

import (
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// TestRegisterKeepsTheLanguage: a guest who registered in German gets the
// credentials email in German, and so does every later email (sent again
// on request, the expiry notice): the language is stored with the guest.
func TestRegisterKeepsTheLanguage(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		in := b.selfReg(t, "lena@example.de", false)
		in.Language = "de"
		res, err := b.svc.Register(ctx, in)
		if err != nil || len(res.Mail) != 1 {
			t.Fatalf("Register = %+v, %v", res, err)
		}
		if g := b.get(t, in.ID); g.Language != "de" {
			t.Fatalf("the stored guest's language is %q, want de", g.Language)
		}
		if m := b.mailOf(t, res.Mail[0]); !strings.HasPrefix(m.Subject, "Ihr Gastzugang zu ") || !strings.Contains(m.Text, "Benutzername: ") {
			t.Errorf("credentials email: %q\n%s", m.Subject, m.Text)
		}
		again, err := b.svc.ResendByEmail(ctx, "lena@example.de")
		if err != nil || again == nil {
			t.Fatalf("ResendByEmail = %+v, %v", again, err)
		}
		if m := b.mailOf(t, again.Mail); !strings.HasPrefix(m.Subject, "Ihr Gastzugang zu ") {
			t.Errorf("credentials sent again: %q, want German", m.Subject)
		}
		expiry, err := b.svc.ExpiryMessage(b.get(t, in.ID))
		if err != nil || !strings.HasPrefix(expiry.Subject, "Ihr Gastzugang zu ") || !strings.Contains(expiry.Text, " endet am ") {
			t.Errorf("expiry notice: %q, %v\n%s", expiry.Subject, err, expiry.Text)
		}

		// A guest without a language (a sponsor's, or from before) is
		// written to in English.
		plain := b.selfReg(t, "ada@example.com", false)
		res, err = b.svc.Register(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		if m := b.mailOf(t, res.Mail[0]); !strings.HasPrefix(m.Subject, "Your guest access to ") {
			t.Errorf("English credentials email: %q", m.Subject)
		}
	})
}

// TestExpiryNoticeInTheGuestsLanguage: the lifecycle job writes the expiry
// notice in each guest's stored language.
func TestExpiryNoticeInTheGuestsLanguage(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(c *Config) { c.Policy.ExpiryNotice = 6 * time.Hour }, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		want := map[string]string{"": "Your guest access to ", "es": "Su acceso de invitado a ", "fr": "Votre accès invité à "}
		byEmail := map[string]string{}
		for lang := range want {
			g := b.guest(t, storage.GuestActive) // ends in 24h
			if lang != "" {
				l := lang
				if _, err := b.store.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Language: &l}); err != nil {
					t.Fatal(err)
				}
			}
			byEmail[g.Email] = lang
		}
		b.clock.Advance(20 * time.Hour)
		if st, err := b.svc.RunOnce(ctx); err != nil || st.Notified != 3 {
			t.Fatalf("RunOnce = %+v, %v; want three notices", st, err)
		}
		rows, err := b.store.ListMail(ctx, storage.MailFilter{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, m := range rows {
			lang, ok := byEmail[m.Recipient]
			if !ok || m.Kind != KindExpiry {
				continue
			}
			seen++
			if !strings.HasPrefix(m.Subject, want[lang]) {
				t.Errorf("the expiry notice to a guest in %q: %q, want it to start %q", lang, m.Subject, want[lang])
			}
		}
		if seen != 3 {
			t.Errorf("%d expiry notices in the outbox, want 3", seen)
		}
	})
}
