package portal

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// registerAs sends a new registration form with these names and address
// and returns the POST's response and the success page it leads to.
func (c *client) registerAs(first, last, email string) (response, response) {
	c.t.Helper()
	form := c.registerForm()
	form.Set("first_name", first)
	form.Set("last_name", last)
	form.Set("email", email)
	form.Set("company", "Evil Corp")
	r := c.post(mount+"/register", form)
	if r.StatusCode != 303 {
		c.t.Fatalf("register %s: %d\n%s", email, r.StatusCode, r.body)
	}
	return r, c.get(r.location())
}

var successPathRe = regexp.MustCompile(`^` + regexp.QuoteMeta(mount) + `/registered/[0-9a-f-]{36}\?t=[A-Za-z0-9_-]+$`)

// cookieNames lists the names of the cookies a response sets, in order.
func cookieNames(r response) []string {
	var out []string
	for _, c := range r.Cookies() {
		out = append(out, c.Name)
	}
	return out
}

// A registration for an address that is registered and active looks to
// whoever sends it exactly like a new one, shows only what they typed, and
// sends the address's owner their credentials again.
func TestRegisterKnownAddressLooksNew(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.Limits.ResendPerAddress = Limit{Burst: 1, Every: time.Hour}
		c.Policy.SuccessWait = 50 * time.Millisecond
		c.ProxyHeader = "X-Real-IP"
	})
	ada := registered(t, b, "ada@example.com")
	before := b.mailSeen(t)

	// A new address of the same length, for comparison.
	mallory := b.client(t).fromIP("192.0.2.66")
	freshPost, freshPage := mallory.registerAs("Mallory", "Evil", "eve@example.com")
	mallory2 := b.client(t).fromIP("192.0.2.66")
	knownPost, knownPage := mallory2.registerAs("Mallory", "Evil", "ADA@example.com")

	for _, r := range []response{freshPost, knownPost} {
		if !successPathRe.MatchString(r.location()) {
			t.Fatalf("redirect to %q", r.location())
		}
	}
	if len(freshPost.location()) != len(knownPost.location()) {
		t.Errorf("the redirects differ in length: %d and %d", len(freshPost.location()), len(knownPost.location()))
	}
	if f, k := cookieNames(freshPost), cookieNames(knownPost); strings.Join(f, ",") != strings.Join(k, ",") {
		t.Errorf("the responses set cookies %v and %v", f, k)
	}
	if knownPage.StatusCode != 200 || freshPage.StatusCode != 200 {
		t.Fatalf("success pages: %d and %d", freshPage.StatusCode, knownPage.StatusCode)
	}
	if got, want := strings.ReplaceAll(knownPage.body, "ada@example.com", "X"), strings.ReplaceAll(freshPage.body, "eve@example.com", "X"); got != want {
		t.Fatalf("the success pages differ:\n%s\n---\n%s", want, got)
	}
	for _, stored := range []string{"Ada", "Lovelace", "Analytical", ada.Password} {
		if strings.Contains(knownPage.body, stored) {
			t.Errorf("the page shows the stored %q", stored)
		}
	}
	if !strings.Contains(knownPage.body, "You are registered, Mallory Evil") {
		t.Errorf("the page does not show the names typed:\n%s", knownPage.body)
	}

	// Nothing stored changed; the owner has their credentials again.
	cur, err := b.store.GetGuest(context.Background(), ada.ID)
	if err != nil || cur.Password != ada.Password || cur.FirstName != "Ada" || cur.Company != ada.Company || cur.Status != storage.GuestActive {
		t.Fatalf("the registered guest changed: %+v, %v", cur, err)
	}
	if n := len(b.guests(t)); n != 2 {
		t.Fatalf("%d guests, want Ada and Mallory", n)
	}
	msgs := b.mailSince(t, before)
	var toAda []string
	for _, m := range msgs {
		if m.To[0] == "ada@example.com" {
			toAda = append(toAda, m.Kind)
			if field(t, m.Text, "Password") != ada.Password || !strings.Contains(m.Text, "Hello Ada Lovelace") {
				t.Error("the owner's email is not their own credentials")
			}
		}
	}
	if len(toAda) != 1 || toAda[0] != KindCredentials {
		t.Fatalf("the owner got %v, want their credentials once", toAda)
	}

	// Sent again, the same form sends nothing more.
	mailBefore := b.mailCount(t)
	form := mallory2.registerForm()
	form.Set("first_name", "Mallory")
	form.Set("last_name", "Evil")
	form.Set("email", "ada@example.com")
	form.Set("company", "Evil Corp")
	r1 := mallory2.post(mount+"/register", form)
	// Past the per-address limit (1 an hour): 429, as for a new address
	// over it (TestRegisterOverAddressLimitSaysSo), and no email.
	if r1.StatusCode != 429 || !strings.Contains(r1.body, "several emails") || b.mailCount(t) != mailBefore {
		t.Fatalf("over the per-address limit: %d, %d emails (was %d)", r1.StatusCode, b.mailCount(t), mailBefore)
	}
	r2 := mallory2.post(mount+"/register", form)
	if r2.StatusCode != 429 || b.mailCount(t) != mailBefore {
		t.Fatalf("the same form again: %d, %d emails", r2.StatusCode, b.mailCount(t))
	}
	// The page has no "already registered" path any more.
	if strings.Contains(knownPage.body+r1.body+r2.body, "already registered") {
		t.Fatal("a page says the address is registered")
	}
}

// The same with approval: a pending address gets its pending note again,
// and the page waits for approval as a new registration's would.
func TestRegisterKnownPendingAddress(t *testing.T) {
	t.Parallel()
	b := approvalSetup(t)
	registerPending(t, b, "ada@example.com")
	before := b.mailSeen(t)
	c := b.client(t)
	_, page := c.registerAs("Mallory", "Evil", "ada@example.com")
	if !strings.Contains(page.body, "Thank you, Mallory Evil") || !strings.Contains(page.body, "waiting for approval") {
		t.Fatalf("page:\n%s", page.body)
	}
	msgs := b.mailSince(t, before)
	if len(msgs) != 1 || msgs[0].Kind != KindPending || msgs[0].To[0] != "ada@example.com" {
		t.Fatalf("emails: %+v", msgs)
	}
	if g, _ := b.store.GetGuestByEmail(context.Background(), "ada@example.com"); g.FirstName != "Ada" || g.Status != storage.GuestPending {
		t.Fatalf("guest changed: %+v", g)
	}
}

// mailSeen returns the IDs of the outbox's messages now.
func (b *testBundle) mailSeen(t *testing.T) map[uuid.UUID]bool {
	t.Helper()
	rows, err := b.store.ListMail(context.Background(), storage.MailFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uuid.UUID]bool{}
	for _, m := range rows {
		seen[m.ID] = true
	}
	return seen
}

// mailSince returns the messages queued since seen, decoded.
func (b *testBundle) mailSince(t *testing.T, seen map[uuid.UUID]bool) []notify.Message {
	t.Helper()
	rows, err := b.store.ListMail(context.Background(), storage.MailFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Message
	for _, row := range rows {
		if seen[row.ID] {
			continue
		}
		full, err := b.store.GetMail(context.Background(), row.ID) // lists carry no payload
		if err != nil {
			t.Fatal(err)
		}
		var m notify.Message
		if err := json.Unmarshal(full.Payload, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// Sent again later, a form for a registered address sets the same cookies
// as a new registration's form sent again later.
func TestRegisterKnownAddressRepeatedLater(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy.SuccessWait = time.Millisecond })
	registered(t, b, "ada@example.com")
	fresh, known := b.client(t), b.client(t)
	ff, kf := fresh.registerForm(), known.registerForm()
	ff.Set("email", "eve@example.com")
	for i, wait := range []time.Duration{0, time.Minute, 20 * time.Minute} {
		b.clock.Advance(wait)
		f, k := fresh.post(mount+"/register", ff), known.post(mount+"/register", kf)
		if f.StatusCode != 303 || k.StatusCode != 303 {
			t.Fatalf("post %d: %d and %d", i, f.StatusCode, k.StatusCode)
		}
		if fc, kc := strings.Join(cookieNames(f), ","), strings.Join(cookieNames(k), ","); fc != kc {
			t.Errorf("post %d (%s on): a new address's form sets cookies %q, a registered one's %q", i, wait, fc, kc)
		}
	}
}
