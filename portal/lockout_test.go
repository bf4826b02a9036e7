package portal

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// fromIP makes c's requests come, as the proxy in front says, from ip.
func (c *client) fromIP(ip string) *client {
	base := c.hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.hc.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("X-Real-IP", ip)
		return base.RoundTrip(r)
	})
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// credentialsTo counts the credentials emails to addr in the outbox.
func (b *testBundle) credentialsTo(t *testing.T, addr string) int {
	t.Helper()
	n := 0
	for _, m := range b.outbox(t) {
		if m.Kind == KindCredentials && m.To[0] == addr {
			n++
		}
	}
	return n
}

// An attacker who uses up the "email me my credentials again" allowance of
// a guest's address, from their own device, does not lock the guest out:
// the guest, from theirs, still gets their credentials by the resend page
// and by registering again.
func TestResendAllowanceCannotBeUsedUpByAnother(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.ProxyHeader = "X-Real-IP"
		c.Limits.Resend = Limit{Burst: 100, Every: time.Second}
		c.Limits.ResendPerAddress = Limit{Burst: 3, Every: time.Hour}
		c.Policy.SuccessWait = 50 * time.Millisecond
	})
	t.Cleanup(func() { _ = b.portal.Shutdown(context.Background()) })
	registered(t, b, "ada@example.com")

	resend := func(c *client) response {
		return c.post(mount+"/resend", url.Values{"csrf_token": {c.csrf(mount + "/resend")}, "email": {"ada@example.com"}})
	}
	mallory := b.client(t).fromIP("192.0.2.66")
	for i := 0; ; i++ {
		r := resend(mallory)
		if r.StatusCode == http.StatusTooManyRequests {
			break
		}
		if r.StatusCode != 200 || i > 10 {
			t.Fatalf("attacker's resend %d: %d", i, r.StatusCode)
		}
	}
	// The resends went out (at most one a minute per guest), and the
	// guest's own request, a minute later, still sends.
	waitFor(t, "the attacker's resends", func() bool { return b.credentialsTo(t, "ada@example.com") == 2 })
	b.clock.Advance(time.Minute)
	ada := b.client(t).fromIP("203.0.113.5")
	if r := resend(ada); r.StatusCode != 200 {
		t.Fatalf("the guest's own resend after the attacker's: %d, want 200\n%s", r.StatusCode, r.body)
	}
	waitFor(t, "the guest's resend", func() bool { return b.credentialsTo(t, "ada@example.com") == 3 })

	// Registering again (the guest forgot they had) sends too.
	b.clock.Advance(time.Minute)
	form := ada.registerForm()
	if r := ada.post(mount+"/register", form); r.StatusCode != 303 {
		t.Fatalf("the guest's registration: %d", r.StatusCode)
	}
	if n := b.credentialsTo(t, "ada@example.com"); n != 4 {
		t.Fatalf("%d credentials emails, want 4: the guest's registration sent nothing", n)
	}
}

// Over the per-address limit, a registration is told so, whether the
// address is registered (nothing is sent) or new (nobody is registered):
// the page never says "we emailed you" when nothing was sent, and does not
// tell the two apart.
func TestRegisterOverAddressLimitSaysSo(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.ProxyHeader = "X-Real-IP"
		c.Limits.ResendPerAddress = Limit{Burst: 2, Every: time.Hour}
		c.Policy.SuccessWait = 50 * time.Millisecond
	})
	registered(t, b, "known@example.com")
	b.clock.Advance(time.Minute)
	probe := func(email string) (codes []int, body string) {
		c := b.client(t).fromIP("192.0.2.66")
		for range 4 {
			form := c.registerForm()
			form.Set("email", email)
			r := c.post(mount+"/register", form)
			codes = append(codes, r.StatusCode)
			body = r.body
		}
		return codes, body
	}
	before := b.mailCount(t)
	known, knownBody := probe("known@example.com")
	knownMail := b.mailCount(t) - before
	before = b.mailCount(t)
	fresh, freshBody := probe("fresh@example.com")
	freshMail := b.mailCount(t) - before
	if fmt.Sprint(known) != fmt.Sprint(fresh) {
		t.Fatalf("answers %v for a registered address, %v for a new one", known, fresh)
	}
	if want := "[303 303 429 429]"; fmt.Sprint(known) != want {
		t.Fatalf("answers %v, want %s", known, want)
	}
	if knownMail != 2 || freshMail != 2 {
		t.Fatalf("emails: %d to the registered address, %d to the new one; want 2 each", knownMail, freshMail)
	}
	for _, body := range []string{knownBody, freshBody} {
		if !strings.Contains(body, "several emails") {
			t.Errorf("the page over the limit does not say why:\n%s", body)
		}
	}
	if strings.ReplaceAll(knownBody, "known@example.com", "X") != strings.ReplaceAll(freshBody, "fresh@example.com", "X") {
		t.Errorf("the pages over the limit differ:\n%s\n---\n%s", knownBody, freshBody)
	}
}
