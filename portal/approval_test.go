package portal

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// linkPath turns an emailed link (under BaseURL) into a path on the test server.
func linkPath(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Host != "wifi.example.com" || !strings.HasPrefix(u.Path, mount+"/") {
		t.Fatalf("link %q is not under BaseURL", link)
	}
	return u.RequestURI()
}

func approvalSetup(t *testing.T) *testBundle {
	return setup(t, func(c *Config) {
		c.Policy.RequireApproval = true
		c.Policy.Approvers = []string{"Boss@Example.com"}
		c.Policy.ApprovalLinkTTL = time.Hour
	})
}

// registerPending registers email and returns the guest and the approve
// and deny paths from the approver's email.
func registerPending(t *testing.T, b *testBundle, email string) (*storage.Guest, string, string) {
	t.Helper()
	c := b.client(t)
	form := c.registerForm()
	form.Set("email", email)
	r := c.post(mount+"/register", form)
	if r.StatusCode != 303 {
		t.Fatalf("register: %d\n%s", r.StatusCode, r.body)
	}
	if page := c.get(r.location()); !strings.Contains(page.body, "waiting for approval") {
		t.Fatalf("success page of a pending guest:\n%s", page.body)
	}
	g, err := b.store.GetGuestByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != storage.GuestPending {
		t.Fatalf("status %s, want pending", g.Status)
	}
	var approve, deny string
	for _, m := range b.outbox(t) {
		if m.Kind == KindApproval && strings.Contains(m.Text, email) {
			if m.To[0] != "boss@example.com" {
				t.Fatalf("approval request to %v", m.To)
			}
			approve, deny = linkPath(t, field(t, m.Text, "Approve")), linkPath(t, field(t, m.Text, "Deny"))
		}
	}
	if approve == "" {
		t.Fatal("no approval request queued")
	}
	return g, approve, deny
}

func kinds(b *testBundle, t *testing.T, to string) []string {
	var out []string
	for _, m := range b.outbox(t) {
		if m.To[0] == to {
			out = append(out, m.Kind)
		}
	}
	return out
}

func TestApprovalFlow(t *testing.T) {
	t.Parallel()
	b := approvalSetup(t)
	g, approve, deny := registerPending(t, b, "ada@example.com")
	if got := kinds(b, t, "ada@example.com"); len(got) != 1 || got[0] != KindPending {
		t.Fatalf("guest got %v, want the pending note only", got)
	}
	c := b.client(t)
	// Signing in before the approval says so.
	login := url.Values{"csrf_token": {c.csrf(mount + "/login")}, "username": {g.Username}, "password": {g.Password}}
	if r := c.post(mount+"/login", login); r.StatusCode != 403 || !strings.Contains(r.body, "waiting for approval") {
		t.Fatalf("login while pending: %d", r.StatusCode)
	}

	// GET only asks: link scanners change nothing.
	r := c.get(approve)
	if r.StatusCode != 200 || !strings.Contains(r.body, "Approve and email the credentials") || !strings.Contains(r.body, "ada@example.com") {
		t.Fatalf("GET approve: %d\n%s", r.StatusCode, r.body)
	}
	if cur, _ := b.store.GetGuest(context.Background(), g.ID); cur.Status != storage.GuestPending {
		t.Fatal("GET changed the guest")
	}
	// A POST without the CSRF token is refused.
	if r := c.post(approve, url.Values{}); r.StatusCode != 403 {
		t.Fatalf("POST approve without CSRF: %d", r.StatusCode)
	}
	b.clock.Advance(10 * time.Minute)
	r = c.post(approve, url.Values{"csrf_token": {hidden(t, csrfRe, r.body)}})
	if r.StatusCode != 200 || !strings.Contains(r.body, "Guest approved") {
		t.Fatalf("POST approve: %d\n%s", r.StatusCode, r.body)
	}
	cur, err := b.store.GetGuest(context.Background(), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Status != storage.GuestActive || !cur.ValidFrom.Equal(b.clock.Now()) || cur.ValidUntil.Sub(cur.ValidFrom) != 24*time.Hour {
		t.Fatalf("approved guest: %s %v–%v", cur.Status, cur.ValidFrom, cur.ValidUntil)
	}
	got := kinds(b, t, "ada@example.com")
	if len(got) != 2 || !slices.Contains(got, KindPending) || !slices.Contains(got, KindCredentials) {
		t.Fatalf("guest got %v, want pending then credentials", got)
	}
	for _, m := range b.outbox(t) {
		if m.Kind == KindCredentials && field(t, m.Text, "Password") != cur.Password {
			t.Fatal("credentials email has another password")
		}
	}
	// Approving again, or denying now, only says it was decided.
	csrf := c.csrf(mount + "/login")
	if r := c.post(approve, url.Values{"csrf_token": {csrf}}); !strings.Contains(r.body, "Already approved") {
		t.Fatalf("second approve: %d\n%s", r.StatusCode, r.body)
	}
	if r := c.post(deny, url.Values{"csrf_token": {csrf}}); !strings.Contains(r.body, "Already approved") {
		t.Fatalf("deny after approve: %d", r.StatusCode)
	}
	if n := len(kinds(b, t, "ada@example.com")); n != 2 {
		t.Fatalf("guest got %d emails after repeated decisions", n)
	}
}

func TestApprovalDeny(t *testing.T) {
	t.Parallel()
	b := approvalSetup(t)
	g, approve, deny := registerPending(t, b, "eve@example.com")
	c := b.client(t)
	r := c.get(deny)
	if r.StatusCode != 200 || !strings.Contains(r.body, "Deny access") {
		t.Fatalf("GET deny: %d", r.StatusCode)
	}
	r = c.post(deny, url.Values{"csrf_token": {hidden(t, csrfRe, r.body)}})
	if r.StatusCode != 200 || !strings.Contains(r.body, "Guest denied") {
		t.Fatalf("POST deny: %d\n%s", r.StatusCode, r.body)
	}
	if cur, _ := b.store.GetGuest(context.Background(), g.ID); cur.Status != storage.GuestDenied {
		t.Fatalf("status %s, want denied", cur.Status)
	}
	if got := kinds(b, t, "eve@example.com"); len(got) != 2 || !slices.Contains(got, KindPending) || !slices.Contains(got, KindDenied) {
		t.Fatalf("guest got %v, want pending then denied", got)
	}
	if r := c.post(approve, url.Values{"csrf_token": {c.csrf(mount + "/login")}}); !strings.Contains(r.body, "Already denied") {
		t.Fatalf("approve after deny: %d", r.StatusCode)
	}
}

func TestApprovalLinkExpiredOrForged(t *testing.T) {
	t.Parallel()
	b := approvalSetup(t)
	g, approve, deny := registerPending(t, b, "ada@example.com")
	c := b.client(t)
	csrf := c.csrf(mount + "/login")

	// The deny token does not approve, and a made-up one does nothing.
	tok := deny[strings.LastIndexByte(deny, '/')+1:]
	for _, path := range []string{mount + "/approve/" + tok, mount + "/approve/" + b.portal.approve.Sign(uuid.NewString()+"|x@example.com", b.clock.Now().Add(time.Hour))[:20]} {
		if r := c.post(path, url.Values{"csrf_token": {csrf}}); r.StatusCode != 404 {
			t.Fatalf("forged link: %d", r.StatusCode)
		}
	}
	b.clock.Advance(time.Hour + time.Second)
	for _, path := range []string{approve, deny} {
		r := c.post(path, url.Values{"csrf_token": {csrf}})
		if r.StatusCode != 410 || !strings.Contains(r.body, "This link has expired") {
			t.Fatalf("expired link: %d\n%s", r.StatusCode, r.body)
		}
	}
	if cur, _ := b.store.GetGuest(context.Background(), g.ID); cur.Status != storage.GuestPending {
		t.Fatalf("an expired link changed the guest to %s", cur.Status)
	}
}

func TestApprovalByPersonVisited(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy.RequireApproval = true })
	ctx := context.Background()
	sponsor := &storage.Staff{Username: "grace", Email: "Grace@Example.com", DisplayName: "Grace", Role: storage.RoleSponsor, PasswordHash: "x"}
	if err := b.store.CreateStaff(ctx, sponsor); err != nil {
		t.Fatal(err)
	}
	c := b.client(t)
	page := c.get(mount + "/register").body
	if !strings.Contains(page, `type="email" id="f-person_visited"`) || strings.Contains(page, `Person you are visiting <span class="optional">`) {
		t.Fatal("with approval by the person visited, that field must be an email and required")
	}
	form := c.registerForm()
	form.Set("person_visited", "nobody@example.com")
	const generic = "We could not find that host; check the address or ask at the front desk."
	r := c.post(mount+"/register", form)
	if r.StatusCode != 422 || !strings.Contains(r.body, generic) || strings.Contains(r.body, "know this address") {
		t.Fatalf("unknown sponsor: %d\n%s", r.StatusCode, r.body)
	}
	// A disabled sponsor reads the same: the page does not tell staff
	// addresses apart.
	disabled := &storage.Staff{Username: "old", Email: "old@example.com", DisplayName: "Old", Role: storage.RoleSponsor, PasswordHash: "x"}
	if err := b.store.CreateStaff(ctx, disabled); err != nil {
		t.Fatal(err)
	}
	if err := b.store.SetStaffDisabled(ctx, disabled.ID, true); err != nil {
		t.Fatal(err)
	}
	form.Set("person_visited", "old@example.com")
	if r2 := c.post(mount+"/register", form); r2.StatusCode != 422 || !strings.Contains(r2.body, generic) {
		t.Fatalf("disabled sponsor: %d", r2.StatusCode)
	}
	if len(b.guests(t)) != 0 || b.mailCount(t) != 0 {
		t.Fatal("an unknown sponsor stored something")
	}
	form.Set("person_visited", "grace@example.com")
	if r := c.post(mount+"/register", form); r.StatusCode != 303 {
		t.Fatalf("register: %d\n%s", r.StatusCode, r.body)
	}
	g := b.guests(t)[0]
	if g.Status != storage.GuestPending || g.SponsorID != sponsor.ID || g.PersonVisited != "grace@example.com" {
		t.Fatalf("guest %s, sponsor %v", g.Status, g.SponsorID)
	}
	if got := kinds(b, t, "grace@example.com"); len(got) != 1 || got[0] != KindApproval {
		t.Fatalf("sponsor got %v", got)
	}
}

// The approval request comes from the organisation's mailbox: what the
// guest typed stays out of its subject, and the body says which details
// the guest provided.
func TestApprovalEmailLabelsGuestText(t *testing.T) {
	t.Parallel()
	b := approvalSetup(t)
	registerPending(t, b, "ada@example.com")
	var req *struct{ subject, text, html string }
	for _, m := range b.outbox(t) {
		if m.Kind == KindApproval {
			req = &struct{ subject, text, html string }{m.Subject, m.Text, m.HTML}
		}
	}
	if req == nil {
		t.Fatal("no approval request")
	}
	if want := "Guest approval request — Test Lobby"; req.subject != want {
		t.Errorf("subject %q, want %q", req.subject, want)
	}
	for _, guestText := range []string{"Ada", "Lovelace", "Analytical", "Meeting", "ada@example.com"} {
		if strings.Contains(req.subject, guestText) {
			t.Errorf("subject %q holds the guest's %q", req.subject, guestText)
		}
	}
	for part, body := range map[string]string{"text": req.text, "html": req.html} {
		if !strings.Contains(body, "provided by the guest") {
			t.Errorf("the %s body does not say which details the guest provided:\n%s", part, body)
		}
		if strings.Contains(body, "<title>Ada") {
			t.Errorf("the %s body's title holds the guest's name", part)
		}
	}
}

// An approval link for a guest who is no longer pending says what the
// guest's status is, not "approved" whatever it is.
func TestApprovalLinkSaysTheStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status storage.GuestStatus
		title  string
		text   string
	}{
		{storage.GuestActive, "Already approved", "approved already"},
		{storage.GuestDenied, "Already denied", "denied already"},
		{storage.GuestSuspended, "Access suspended", "suspended"},
		{storage.GuestExpired, "Access expired", "expired"},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			b := approvalSetup(t)
			g, approve, deny := registerPending(t, b, "ada@example.com")
			if _, err := b.store.UpdateGuest(context.Background(), g.ID, storage.GuestUpdate{Status: &tc.status}); err != nil {
				t.Fatal(err)
			}
			c := b.client(t)
			for _, link := range []string{approve, deny} {
				for _, r := range []response{c.get(link), c.post(link, url.Values{"csrf_token": {c.csrf(mount + "/login")}})} {
					if r.StatusCode != 200 || !strings.Contains(r.body, "<h1>"+tc.title+"</h1>") || !strings.Contains(r.body, tc.text) {
						t.Fatalf("%s %s: %d\n%s", r.Request.Method, link, r.StatusCode, r.body)
					}
					if tc.status != storage.GuestActive && strings.Contains(r.body, "approved already") {
						t.Fatalf("a %s guest reads as approved", tc.status)
					}
				}
			}
			if cur, _ := b.store.GetGuest(context.Background(), g.ID); cur.Status != tc.status {
				t.Fatalf("the link changed the guest to %s", cur.Status)
			}
		})
	}
}
