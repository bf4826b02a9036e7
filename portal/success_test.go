package portal

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// settle records the outcome of outbox message id as a worker would.
func (b *testBundle) settle(t *testing.T, id uuid.UUID, status storage.MailStatus) {
	t.Helper()
	ctx := context.Background()
	leased, err := b.store.LeaseMailByID(ctx, id, "test-worker", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	switch status {
	case storage.MailSent:
		err = b.store.MarkMailSent(ctx, id, leased.LeaseToken)
	case storage.MailDead:
		err = b.store.MarkMailDead(ctx, id, leased.LeaseToken, "550 5.1.1 mailbox unavailable", "recipient_rejected")
	default:
		t.Fatalf("settle: %s", status)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// mailTo returns the newest outbox row of kind to addr.
func (b *testBundle) mailTo(t *testing.T, kind, addr string) *storage.OutboxMessage {
	t.Helper()
	rows, err := b.store.ListMail(context.Background(), storage.MailFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rows {
		if m.Kind == kind && m.Recipient == addr {
			return m
		}
	}
	t.Fatalf("no %s email to %s", kind, addr)
	return nil
}

// A credentials email that failed for good is said plainly, with what to do.
func TestSuccessPageDeadMail(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	loc := c.post(mount+"/register", c.registerForm()).location()
	b.settle(t, b.mailTo(t, KindCredentials, "ada@example.com").ID, storage.MailDead)
	r := c.get(loc)
	if r.StatusCode != 200 || !strings.Contains(r.body, "We could not send the email with your credentials to <strong>ada@example.com</strong>") ||
		!strings.Contains(r.body, "ask at the front desk") {
		t.Fatalf("success page with a dead email: %d\n%s", r.StatusCode, r.body)
	}
	for _, wrong := range []string{"retrying", "on its way", "have it sent again"} {
		if strings.Contains(r.body, wrong) {
			t.Errorf("the page says %q about an email that will not be sent", wrong)
		}
	}
}

// The success page follows the guest: waiting while pending, then the
// credentials email's progress once approved.
func TestSuccessPageFollowsApproval(t *testing.T) {
	t.Parallel()
	b := approvalSetup(t)
	c := b.client(t)
	loc := c.post(mount+"/register", c.registerForm()).location()
	if r := c.get(loc); !strings.Contains(r.body, "waiting for approval") || !strings.Contains(r.body, "Thank you, Ada Lovelace") {
		t.Fatalf("pending: %s", r.body)
	}
	var approve string
	for _, m := range b.outbox(t) {
		if m.Kind == KindApproval {
			approve = linkPath(t, field(t, m.Text, "Approve"))
		}
	}
	ac := b.client(t)
	page := ac.get(approve)
	if r := ac.post(approve, url.Values{"csrf_token": {hidden(t, csrfRe, page.body)}}); !strings.Contains(r.body, "Guest approved") {
		t.Fatalf("approve: %d", r.StatusCode)
	}
	r := c.get(loc)
	if !strings.Contains(r.body, "You are registered, Ada Lovelace") || !strings.Contains(r.body, "Your email is on its way to <strong>ada@example.com</strong>") ||
		strings.Contains(r.body, "waiting for approval") {
		t.Fatalf("after approval, credentials queued:\n%s", r.body)
	}
	b.settle(t, b.mailTo(t, KindCredentials, "ada@example.com").ID, storage.MailSent)
	if r := c.get(loc); !strings.Contains(r.body, "We emailed your credentials to <strong>ada@example.com</strong>") {
		t.Fatalf("after approval, credentials sent:\n%s", r.body)
	}
}

// The link does not show what the guest typed.
func TestSuccessLinkIsOpaque(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	loc := c.post(mount+"/register", c.registerForm()).location()
	tok := loc[strings.Index(loc, "?t=")+3:]
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || strings.Contains(tok, ".") {
		t.Fatalf("token %q is not one opaque base64url string", tok)
	}
	for _, typed := range []string{"ada@example.com", "Lovelace", `"e":`} {
		if strings.Contains(string(raw), typed) {
			t.Fatalf("the token shows %q", typed)
		}
	}
}

// ShowCredentials shows the password only in the browser that registered,
// for a short while: the success link alone (a kiosk's history, a shared
// link) does not show it.
func TestSuccessPageCredentialsNeedTheCookie(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy.ShowCredentials = true; c.Policy.SuccessWait = time.Millisecond })
	c := b.client(t)
	r := c.post(mount+"/register", c.registerForm())
	loc := r.location()
	id := strings.TrimPrefix(loc[:strings.Index(loc, "?")], mount+"/registered/")
	var ck *http.Cookie
	for _, k := range r.Cookies() {
		if k.Name == "lobby_registered" {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || ck.Path != mount+"/registered/"+id || ck.MaxAge <= 0 || ck.MaxAge > 15*60 || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("registration cookie %+v", ck)
	}
	g := b.guests(t)[0]
	pw := "<code>" + g.Password + "</code>"
	if page := c.get(loc); !strings.Contains(page.body, pw) {
		t.Fatalf("the registering browser does not see the password:\n%s", page.body)
	}
	// Once: the page that showed it spent the cookie, so that the back
	// button (or a reload by the next person at a kiosk) does not show it.
	if page := c.get(loc); page.StatusCode != 200 || strings.Contains(page.body, g.Password) || !strings.Contains(page.body, "You are registered") {
		t.Fatalf("the success page again in the registering browser: %d\n%s", page.StatusCode, page.body)
	}
	other := b.client(t)
	page := other.get(loc)
	if page.StatusCode != 200 || strings.Contains(page.body, g.Password) || !strings.Contains(page.body, "You are registered, Ada Lovelace") {
		t.Fatalf("another browser with the link: %d\n%s", page.StatusCode, page.body)
	}
	// The cookie of one registration does not open another's page.
	c2 := b.client(t)
	form := c2.registerForm()
	form.Set("email", "grace@example.com")
	loc2 := c2.post(mount+"/register", form).location()
	req, _ := http.NewRequest("GET", b.srv.URL+loc2, nil)
	req.AddCookie(&http.Cookie{Name: "lobby_registered", Value: ck.Value})
	if r := other.do(req); strings.Contains(r.body, "<dt>Password</dt>") {
		t.Fatal("one registration's cookie showed another's password")
	}
	// Fifteen minutes on, not even the registering browser sees it.
	b.clock.Advance(15*time.Minute + time.Second)
	if page := c.get(loc); strings.Contains(page.body, g.Password) || !strings.Contains(page.body, "You are registered") {
		t.Fatalf("after 15 minutes:\n%s", page.body)
	}
}

// A form sent again soon (a double click, a reload) leads to the page with
// the password; sent again later (the back button of a kiosk, after the
// cookie ran out), to the page without it.
func TestSuccessPageRepeatedFormLater(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy.ShowCredentials = true; c.Policy.SuccessWait = time.Millisecond })
	c := b.client(t)
	form := c.registerForm()
	first := c.post(mount+"/register", form)
	g := b.guests(t)[0]
	forget := func() {
		u, _ := url.Parse(b.srv.URL + first.location())
		c.jar.SetCookies(u, []*http.Cookie{{Name: "lobby_registered", Path: u.Path, MaxAge: -1}})
	}
	forget()
	b.clock.Advance(time.Minute)
	if page := c.get(c.post(mount+"/register", form).location()); !strings.Contains(page.body, "<code>"+g.Password+"</code>") {
		t.Fatalf("the form sent again a minute later:\n%s", page.body)
	}
	forget()
	b.clock.Advance(20 * time.Minute)
	page := c.get(c.post(mount+"/register", form).location())
	if page.StatusCode != 200 || strings.Contains(page.body, g.Password) || !strings.Contains(page.body, "You are registered") {
		t.Fatalf("the form sent again 21 minutes later: %d\n%s", page.StatusCode, page.body)
	}
}

// A registration for a registered address that queued nothing (a
// suspended owner) answers at once with the words a new registration shows
// once its email went, not after waiting SuccessWait with "on its way".
// (Over the per-address limit the answer is 429 instead: see
// TestRegisterOverAddressLimitSaysSo.)
func TestSuccessPageNothingQueuedLooksSent(t *testing.T) {
	t.Parallel()
	for _, tc := range []string{"suspended"} {
		t.Run(tc, func(t *testing.T) {
			t.Parallel()
			const wait = 5 * time.Second
			b := setup(t, func(c *Config) { c.Policy.SuccessWait = wait })
			ctx := context.Background()
			victim := registered(t, b, "victim@example.com")
			atk := b.client(t)
			switch tc {
			case "suspended":
				suspended := storage.GuestSuspended
				if _, err := b.store.UpdateGuest(ctx, victim.ID, storage.GuestUpdate{Status: &suspended}); err != nil {
					t.Fatal(err)
				}
			}
			form := atk.registerForm()
			form.Set("email", "nobody@example.com")
			r := atk.post(mount+"/register", form)
			b.settle(t, b.mailTo(t, KindCredentials, "nobody@example.com").ID, storage.MailSent)
			freshPage := atk.get(r.location())

			form = atk.registerForm()
			form.Set("email", "victim@example.com")
			r = atk.post(mount+"/register", form)
			start := time.Now()
			page := atk.get(r.location())
			took := time.Since(start)
			if took >= wait {
				t.Errorf("the success page took %v (SuccessWait %v) for a registration that queued nothing", took, wait)
			}
			if !strings.Contains(freshPage.body, "We emailed your credentials to") {
				t.Fatalf("a new registration's page once sent:\n%s", freshPage.body)
			}
			if !strings.Contains(page.body, "We emailed your credentials to <strong>victim@example.com</strong>") || strings.Contains(page.body, "on its way") {
				t.Fatalf("the registered address's page:\n%s", page.body)
			}
		})
	}
}
