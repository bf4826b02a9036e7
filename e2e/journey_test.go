//go:build e2e

package e2e

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Phone-sized viewport (CSS pixels) of the guest journey.
const phoneWidth, phoneHeight = 390, 844

var (
	usernameRE = regexp.MustCompile(`(?m)^\s*Username:\s*(\S+)\s*$`)
	passwordRE = regexp.MustCompile(`(?m)^\s*Password:\s*(\S+)\s*$`)
)

// testGuestJourneyOnAPhone is a guest's whole way through the portal on a
// phone: register, read the credentials email in the development mailbox,
// sign in with them, sign out.
func testGuestJourneyOnAPhone(t *testing.T, browser context.Context) {
	s := startSite(t)
	ctx := newTab(t, browser)
	shots := shotsDir(t)
	const email = "ada.lovelace@example.org"

	do(t, ctx, "emulate a phone",
		chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))

	// The portal's front door leads to the registration form.
	navigate(t, ctx, s.URL+"/portal/")
	do(t, ctx, "wait for the registration form", chromedp.WaitVisible(chromedp.ID("f-first_name")))
	if u := location(t, ctx); !strings.HasSuffix(u, "/portal/register") {
		t.Fatalf("/portal/ led to %s, want the registration form", u)
	}
	if w := eval[int](t, ctx, "measure the page", `document.documentElement.scrollWidth`); w > phoneWidth {
		t.Errorf("the registration form is %d CSS pixels wide on a %d-pixel phone: it scrolls sideways", w, phoneWidth)
	}
	screenshot(t, ctx, shots, "journey-1-register.png", phoneWidth)

	do(t, ctx, "fill in the registration form",
		chromedp.SendKeys(chromedp.ID("f-first_name"), "Ada"),
		chromedp.SendKeys(chromedp.ID("f-last_name"), "Lovelace"),
		chromedp.SendKeys(chromedp.ID("f-email"), email),
		chromedp.Click(chromedp.ID("f-terms"), chromedp.NodeVisible),
	)
	if !run(t, ctx, "read the terms box", chromedp.JavascriptAttribute[bool](chromedp.ID("f-terms"), "checked")) {
		t.Fatal("clicking the terms checkbox did not tick it")
	}
	res := submit(t, ctx, `form[action="register"] button[type="submit"]`)
	if res.Status != 200 || !strings.Contains(res.URL, "/portal/registered/") {
		t.Fatalf("registering led to %s, want the success page", status(res))
	}
	do(t, ctx, "wait for the success page", chromedp.WaitVisible(chromedp.CSS("main h1")))
	if got, want := text(t, ctx, "main h1"), "You are registered, Ada Lovelace"; got != want {
		t.Errorf("success page heading %q, want %q", got, want)
	}
	if got, want := text(t, ctx, "main"), "We emailed your credentials to "+email+"."; !strings.Contains(got, want) {
		t.Fatalf("the success page says %q, want it to say %q", got, want)
	}
	screenshot(t, ctx, shots, "journey-2-registered.png", phoneWidth)

	// The credentials email, as the development mailbox shows it.
	mail := mailboxEmail(t, ctx, s.URL, email)
	if mail.Subject == "" {
		t.Fatalf("/dev/mailbox shows no email to %s", email)
	}
	u, p := usernameRE.FindStringSubmatch(mail.Text), passwordRE.FindStringSubmatch(mail.Text)
	if u == nil || p == nil {
		// The text is not printed: it would hold the password.
		t.Fatalf("the email %q on /dev/mailbox has no Username: and Password: lines", mail.Subject)
	}
	username, password := u[1], p[1]

	// Sign in with exactly what the email says.
	navigate(t, ctx, s.URL+"/portal/login")
	do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("f-username"), username, chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-password"), password, chromedp.NodeVisible),
	)
	res = submit(t, ctx, `form[action="login"] button[type="submit"]`)
	if res.Status != 200 || !strings.HasSuffix(res.URL, "/portal/account") {
		t.Fatalf("signing in led to %s, want the account page", status(res))
	}
	if got := text(t, ctx, "main h1"); got != "You are signed in" {
		t.Errorf("account page heading %q, want %q", got, "You are signed in")
	}
	if got := text(t, ctx, "main dl.credentials code"); got != username {
		t.Errorf("the account page shows username %q, want %q", got, username)
	}

	// One sign-out button, in the header, big enough for a finger (44 CSS pixels).
	if n := eval[int](t, ctx, "count the sign-out buttons", `document.querySelectorAll('form[action$="logout"] button').length`); n != 1 {
		t.Errorf("the account page has %d sign-out buttons, want 1", n)
	}
	size := eval[[]float64](t, ctx, "measure the sign-out button", `(() => {
		const r = document.querySelector('header form[action$="logout"] button').getBoundingClientRect();
		return [r.width, r.height];
	})()`)
	if size[0] < 44 || size[1] < 44 {
		t.Errorf("the sign-out button is %.0f×%.0f CSS pixels, want at least 44×44", size[0], size[1])
	}

	// Sign out: back at the sign-in page, and the account is closed to this browser.
	res = submit(t, ctx, `header form[action$="logout"] button[type="submit"]`)
	if lu, err := url.Parse(res.URL); err != nil || lu.Path != "/portal/login" || res.Status != 200 {
		t.Fatalf("signing out led to %s, want the sign-in page", status(res))
	}
	if got := text(t, ctx, "main .notice"); got != "You are signed out on all devices." {
		t.Errorf("after signing out the notice is %q, want %q", got, "You are signed out on all devices.")
	}
	if n := eval[int](t, ctx, "look for a sign-out button", `document.querySelectorAll('form[action$="logout"]').length`); n != 0 {
		t.Errorf("after signing out the page still has %d sign-out forms", n)
	}
	navigate(t, ctx, s.URL+"/portal/account")
	if lu, err := url.Parse(location(t, ctx)); err != nil || lu.Path != "/portal/login" {
		t.Errorf("after signing out /portal/account led to %s, want the sign-in page", lu)
	}
}
