//go:build e2e

package e2e

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// msRE is a time as the admin pages show it.
var msRE = regexp.MustCompile(`^\d+ ms$`)

// testAdminJourney is the demo admin setting up a Lobby that has no SMTP
// settings yet, against the Exchange Online emulator over real TCP and
// TLS: she signs in, trusts the emulator's test CA, runs a Test Connection
// that fails on a wrong client secret (its diagnosis and each step's time
// shown), then one that passes, saves with the client secret expiring in
// 10 days, sends a test email and sees how long it took, sees the expiry
// alarm, retries a dead letter from the mail log and sees it go out, and
// changes the acceptable-use terms, which the guest registration page
// then shows.
func testAdminJourney(t *testing.T, browser context.Context) {
	s := startSiteOpts(t, siteOptions{noMailSettings: true})
	staff, err := lobby.EnsureDemoStaff(t.Context(), s.store)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(staff, func(u lobby.DemoStaff) bool { return u.Role == storage.RoleAdmin })
	if i < 0 {
		t.Fatalf("EnsureDemoStaff made no admin: %+v", staff)
	}
	admin := staff[i]
	shots := shotsDir(t)

	// The admin pages send her to sign in, and back once she has.
	ctx := newTab(t, browser)
	do(t, ctx, "emulate a desktop", chromedp.EmulateViewport(deskWidth, deskHeight))
	navigate(t, ctx, s.URL+"/admin/smtp")
	if lu, err := url.Parse(location(t, ctx)); err != nil || lu.Path != "/sponsor/login" {
		t.Fatalf("/admin/smtp led to %s, want the sign-in page", lu)
	}
	do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("f-username"), admin.Username, chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-password"), admin.Password, chromedp.NodeVisible),
	)
	res := submit(t, ctx, `form[action^="login"] button[type="submit"]`)
	if lu, err := url.Parse(res.URL); err != nil || lu.Path != "/admin/smtp" || res.Status != 200 {
		t.Fatalf("signing in led to %s, want the SMTP server page", status(res))
	}
	if got := text(t, ctx, "main p"); !strings.Contains(got, "Nothing is saved yet") {
		t.Errorf("a Lobby without SMTP settings: the SMTP page says %q, want Nothing is saved yet", got)
	}
	screenshot(t, ctx, shots, "admin-1-smtp-empty.png", deskWidth)

	// Trust the emulator's test CA, pasted on the certificates page.
	navigate(t, ctx, s.URL+"/admin/certificates")
	do(t, ctx, "paste the CA certificate",
		chromedp.SetValue(chromedp.ID("f-pem"), string(s.emu.CACertPEM()), chromedp.NodeVisible))
	res = submit(t, ctx, `form[action$="certificates"] button[type="submit"]`)
	if res.Status != 200 {
		t.Fatalf("adding the CA certificate led to %s", status(res))
	}
	if n := eval[int](t, ctx, "count the certificates", `document.querySelectorAll("main table.certs tbody tr").length`); n != 1 {
		t.Fatalf("the certificates page lists %d certificates after adding one, want 1", n)
	}
	screenshot(t, ctx, shots, "admin-2-certificates.png", deskWidth)

	// Fill in the settings from scratch, with a wrong client secret; the
	// secret expires in 10 days.
	navigate(t, ctx, s.URL+"/admin/smtp")
	expires := time.Now().AddDate(0, 0, 10).Format(time.DateOnly)
	do(t, ctx, "fill in the SMTP settings",
		chromedp.SetValue(chromedp.ID("f-host"), s.emu.SMTPHost(), chromedp.NodeVisible),
		chromedp.SetValue(chromedp.ID("f-port"), strconv.Itoa(s.emu.SMTPPort())),
		chromedp.SetValue(chromedp.ID("f-security"), string(notify.SecurityStartTLS)),
		chromedp.SetValue(chromedp.ID("f-from"), s.emu.Mailbox()),
		chromedp.SetValue(chromedp.ID("f-auth_mode"), string(notify.AuthExchangeOnline)),
		chromedp.SetValue(chromedp.ID("f-tenant_id"), s.emu.Tenant()),
		chromedp.SetValue(chromedp.ID("f-client_id"), s.emu.ClientID()),
		chromedp.SendKeys(chromedp.ID("f-client_secret"), s.emu.SecretID()), // the Secret ID, not its Value: a classic mistake
		chromedp.SetValue(chromedp.ID("f-client_secret_expires"), expires),
		chromedp.SetValue(chromedp.ID("f-token_endpoint_base"), s.emu.TokenEndpointBase()),
	)
	testConnection(t, ctx, false)
	if got := text(t, ctx, "section.test-report .diagnosis"); !strings.Contains(got, "Entra ID rejected the client secret") ||
		!strings.Contains(got, "invalid_client_secret") {
		t.Errorf("the failed test's diagnosis says %q, want the rejected client secret and its code", got)
	}
	if eval[bool](t, ctx, "look for Save", `!document.querySelector('button[formaction$="smtp/save"]').disabled`) {
		t.Error("after a failed Test Connection Save is enabled")
	}
	screenshot(t, ctx, shots, "admin-3-test-failed.png", deskWidth)

	// The right secret: the test passes, and Save saves.
	do(t, ctx, "type the client secret",
		chromedp.SendKeys(chromedp.ID("f-client_secret"), s.emu.ClientSecret(), chromedp.NodeVisible))
	testConnection(t, ctx, true)
	screenshot(t, ctx, shots, "admin-4-test-passed.png", deskWidth)
	res = submit(t, ctx, `button[formaction$="smtp/save"]`)
	if lu, err := url.Parse(res.URL); err != nil || lu.Path != "/admin/smtp" || res.Status != 200 {
		t.Fatalf("saving led to %s, want the SMTP server page", status(res))
	}
	if got := text(t, ctx, "main .notice"); !strings.Contains(got, "Saved (version 1)") ||
		!regexp.MustCompile(`client secret expires in (9|10) days`).MatchString(got) {
		t.Errorf("after saving the notice is %q, want version 1 and the secret expiring in 10 days", got)
	}
	screenshot(t, ctx, shots, "admin-5-saved.png", deskWidth)

	// Send a test email: sent, with the time it took.
	const to = "it@example.org"
	sendTestEmail(t, ctx, to)
	if got := text(t, ctx, "#send + p.notice"); !regexp.MustCompile(`^Sent in \d+ ms to ` + regexp.QuoteMeta(to) + ` \(attempt 1\)\.$`).MatchString(got) {
		t.Errorf("after sending a test email the page says %q, want Sent in N ms to %s (attempt 1).", got, to)
	}
	waitMails(t, s, to, 1)
	screenshot(t, ctx, shots, "admin-6-test-email.png", deskWidth)

	// The alarms page shows the client secret expiring.
	navigate(t, ctx, s.URL+"/admin/alarms")
	if got := text(t, ctx, "table.alarms"); !regexp.MustCompile(`The SMTP client secret expires in (9|10) days \(`).MatchString(got) {
		t.Errorf("the alarms page shows %q, want the client secret expiring in 10 days", got)
	}
	screenshot(t, ctx, shots, "admin-7-alarms.png", deskWidth)

	// A dead letter: Exchange Online refuses the next message for good.
	// The admin retries it from the mail log, and it goes out.
	const dead = "frontdesk@example.org"
	s.emu.FailNextMail(1, 554, "5.2.252", "SendAsDenied; the sender is not allowed to send as this address")
	navigate(t, ctx, s.URL+"/admin/smtp")
	sendTestEmail(t, ctx, dead)
	if got := text(t, ctx, "#send + .diagnosis"); !strings.Contains(got, "Not sent to "+dead) || !strings.Contains(got, "send_as_denied") {
		t.Errorf("after a refused test email the page says %q, want Not sent and the diagnosis", got)
	}
	navigate(t, ctx, s.URL+"/admin/mail?status=dead")
	rows := eval[[]string](t, ctx, "read the dead letters",
		`[...document.querySelectorAll("table.maillog tbody tr")].map(r => r.textContent)`)
	if len(rows) != 1 || !strings.Contains(rows[0], dead) {
		t.Fatalf("the mail log lists %q as dead letters, want the one to %s", rows, dead)
	}
	screenshot(t, ctx, shots, "admin-8-dead-letter.png", deskWidth)
	submit(t, ctx, `table.maillog tbody tr a`)
	msgURL := location(t, ctx)
	res = submit(t, ctx, `form[action$="/retry"] button[type="submit"]`)
	if res.Status != 200 || !strings.HasPrefix(res.URL, msgURL) {
		t.Fatalf("retrying led to %s, want the message's page", status(res))
	}
	if got := text(t, ctx, "main .notice"); !strings.Contains(got, "Queued again") {
		t.Errorf("after retrying the notice is %q", got)
	}
	waitMails(t, s, dead, 1)
	waitPage(t, ctx, msgURL, "the message sent", `(() => {
		const dt = [...document.querySelectorAll("main dl.details dt")].find(d => d.textContent.trim() === "Status");
		return !!dt && dt.nextElementSibling.textContent.trim() === "sent";
	})()`)
	if got := detailOf(t, ctx, "Last diagnosis"); got != "None" {
		t.Errorf("the message went out on its retry, yet its last diagnosis is %q", got)
	}
	screenshot(t, ctx, shots, "admin-9-retried.png", deskWidth)

	// New acceptable-use terms; the guest registration page shows them.
	const terms = "Be kind to the network. Streaming is fine, torrents are not."
	navigate(t, ctx, s.URL+"/admin/portal")
	do(t, ctx, "type new terms", chromedp.SetValue(chromedp.ID("f-terms"), terms, chromedp.NodeVisible))
	res = submit(t, ctx, `form[action$="portal"] .actions button[type="submit"]`)
	if lu, err := url.Parse(res.URL); err != nil || lu.Path != "/admin/portal" || res.Status != 200 {
		t.Fatalf("saving the portal settings led to %s", status(res))
	}
	if got := text(t, ctx, "main .notice"); !strings.Contains(got, "Saved.") {
		t.Errorf("after saving the portal settings the notice is %q", got)
	}
	screenshot(t, ctx, shots, "admin-10-portal.png", deskWidth)
	guestTab := newTab(t, browser)
	do(t, guestTab, "emulate a desktop", chromedp.EmulateViewport(deskWidth, deskHeight))
	navigate(t, guestTab, s.URL+"/portal/register")
	if got := text(t, guestTab, "div.terms"); got != terms {
		t.Errorf("the registration page's terms are %q, want %q", got, terms)
	}
	screenshot(t, guestTab, shots, "admin-11-guest-terms.png", deskWidth)
}

// testConnection presses Test Connection and checks the report: passed or
// failed as pass says, with every step's time shown.
func testConnection(t *testing.T, ctx context.Context, pass bool) {
	t.Helper()
	res := submit(t, ctx, `form[action$="smtp/test"] .actions button:not([formaction])`)
	if res.Status != 200 {
		t.Fatalf("Test Connection led to %s", status(res))
	}
	title := text(t, ctx, "#report-title")
	want := regexp.MustCompile(`^Test Connection failed after \d+ ms$`)
	if pass {
		want = regexp.MustCompile(`^Test Connection passed in \d+ ms$`)
	}
	if !want.MatchString(title) {
		t.Fatalf("the report's title is %q, want it to match %s", title, want)
	}
	steps := eval[[][]string](t, ctx, "read the report's steps",
		`[...document.querySelectorAll("table.report tbody tr")].map(r => [...r.cells].map(c => c.textContent.trim()))`)
	if len(steps) < 2 {
		t.Fatalf("the report shows %d steps, want the steps up to the token at least", len(steps))
	}
	failed := 0
	for _, s := range steps {
		if len(s) != 4 || !msRE.MatchString(s[2]) {
			t.Errorf("the report's step %q does not show its time as N ms", s)
			continue
		}
		if s[1] == "failed" {
			failed++
		}
	}
	if pass && failed != 0 || !pass && failed != 1 {
		t.Errorf("the report shows %d failed steps (%q), want %d", failed, steps, map[bool]int{true: 0, false: 1}[pass])
	}
}

// sendTestEmail sends a test email to addr from the SMTP server page.
func sendTestEmail(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	do(t, ctx, "type the address",
		chromedp.SetValue(chromedp.ID("f-to"), addr, chromedp.NodeVisible))
	res := submit(t, ctx, `form[action$="smtp/send#send"] button[type="submit"]`)
	if res.Status != 200 {
		t.Fatalf("sending a test email led to %s", status(res))
	}
}

// detailOf is the value of the details list's entry labelled dt.
func detailOf(t *testing.T, ctx context.Context, dt string) string {
	t.Helper()
	return eval[string](t, ctx, "read "+dt, `(() => {
		const d = [...document.querySelectorAll("main dl.details dt")].find(d => d.textContent.trim() === `+strconv.Quote(dt)+`);
		return d ? d.nextElementSibling.textContent.trim() : "";
	})()`)
}

// waitPage reloads url until the JavaScript condition cond holds, failing
// after 30 seconds with what it waited for.
func waitPage(t *testing.T, ctx context.Context, url, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		navigate(t, ctx, url)
		if eval[bool](t, ctx, "check for "+what, cond) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not shown within 30 seconds", what)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
