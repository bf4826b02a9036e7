//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lobbyhq/lobby/portal"
)

// testSignInNowFromAGatedPage is a guest on captive Wi-Fi: sent from a
// gated page to sign in, they register, see their credentials on the
// success page (ShowCredentials), press "Sign in now" without reading any
// email, and land on the gated page. A second browser with the success
// page's address gets neither the credentials nor the button.
func testSignInNowFromAGatedPage(t *testing.T, browser context.Context) {
	s := startSiteWith(t, func(p *portal.Policy) { p.ShowCredentials = true })
	ctx := newTab(t, browser)
	shots := shotsDir(t)
	do(t, ctx, "emulate a phone",
		chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))

	// The gate sends the guest to sign in; they have no account yet.
	navigate(t, ctx, s.URL+"/wifi")
	if u := location(t, ctx); !strings.Contains(strings.ToLower(u), "/portal/login?return=%2fwifi") {
		t.Fatalf("/wifi led to %s, want the sign-in page returning to /wifi", u)
	}
	res := submit(t, ctx, `a[href^="register"]`)
	if res.Status != 200 || !strings.Contains(strings.ToLower(res.URL), "/portal/register?return=%2fwifi") {
		t.Fatalf("the Register link led to %s", status(res))
	}
	do(t, ctx, "fill in the registration form",
		chromedp.SendKeys(chromedp.ID("f-first_name"), "Ada"),
		chromedp.SendKeys(chromedp.ID("f-last_name"), "Lovelace"),
		chromedp.SendKeys(chromedp.ID("f-email"), "ada@example.org"),
		chromedp.Click(chromedp.ID("f-terms"), chromedp.NodeVisible),
	)
	res = submit(t, ctx, `form[action="register"] button[type="submit"]`)
	if res.Status != 200 || !strings.Contains(res.URL, "/portal/registered/") {
		t.Fatalf("registering led to %s, want the success page", status(res))
	}
	successURL := res.URL
	if got := text(t, ctx, "main dl.credentials"); !strings.Contains(got, "Password") {
		t.Fatalf("the success page shows no credentials: %q", got)
	}
	if w := eval[int](t, ctx, "measure the page", `document.documentElement.scrollWidth`); w > phoneWidth {
		t.Errorf("the success page is %d CSS pixels wide on a %d-pixel phone", w, phoneWidth)
	}
	screenshot(t, ctx, shots, "signinnow-1-registered.png", phoneWidth)

	res = submit(t, ctx, `form[action$="/login"] button[type="submit"]`)
	if res.Status != 200 || !strings.HasSuffix(res.URL, "/wifi") {
		t.Fatalf("Sign in now led to %s, want /wifi", status(res))
	}
	if got := text(t, ctx, "h1"); got != "You are online, Ada" {
		t.Fatalf("the gated page says %q", got)
	}

	// Another browser with the success page's address.
	other := newTab(t, browser)
	navigate(t, other, successURL)
	if got := text(t, other, "main"); strings.Contains(got, "Password") || strings.Contains(got, "Sign in now") {
		t.Fatalf("another browser sees the credentials or the button: %q", got)
	}

	// The 404 page, in the same style.
	res = run(t, other, "open a missing page", chromedp.NavigateResponse(s.URL+"/nowhere"))
	if res == nil || res.Status != 404 || text(t, other, "main h1") != "Page not found" {
		t.Fatalf("a missing page: %s", status(res))
	}
	do(t, other, "emulate a phone",
		chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))
	screenshot(t, other, shots, "signinnow-2-notfound.png", phoneWidth)
}
