//go:build e2e

package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// canaryPage runs a script that renames its paragraph: with JavaScript off
// the paragraph keeps the id "js-off".
var canaryPage = "data:text/html," + url.PathEscape(`<!doctype html><title>canary</title>`+
	`<p id="js-off">scripts do not run</p><script>document.getElementById("js-off").id = "js-on";</script>`)

// testWithoutJavaScript registers a guest in a tab where pages cannot run
// scripts: the portal needs none.
func testWithoutJavaScript(t *testing.T, browser context.Context) {
	s := startSite(t)
	ctx := newTab(t, browser)
	const email = "alan.turing@example.org"

	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turn JavaScript off: %v", err)
	}
	// Prove that it is off: the canary's script must not have run.
	navigate(t, ctx, canaryPage)
	do(t, ctx, "wait for the canary", chromedp.WaitReady(chromedp.CSS("p")))
	if got := run(t, ctx, "read the canary", chromedp.AttributeValue(chromedp.CSS("p"), "id")); got.Value != "js-off" {
		t.Fatalf("the canary paragraph has id %q: page scripts still run", got.Value)
	}

	navigate(t, ctx, s.URL+"/portal/register")
	do(t, ctx, "fill in the registration form",
		chromedp.SendKeys(chromedp.ID("f-first_name"), "Alan", chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-last_name"), "Turing", chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-email"), email, chromedp.NodeVisible),
		chromedp.Click(chromedp.ID("f-terms"), chromedp.NodeVisible),
	)
	res := submit(t, ctx, `form[action="register"] button[type="submit"]`)
	if res.Status != 200 || !strings.Contains(res.URL, "/portal/registered/") {
		t.Fatalf("registering without JavaScript led to %s, want the success page", status(res))
	}
	if got, want := text(t, ctx, "main"), "We emailed your credentials to "+email+"."; !strings.Contains(got, want) {
		t.Fatalf("the success page says %q, want it to say %q", got, want)
	}
	g, err := s.store.GetGuestByEmail(t.Context(), email)
	if err != nil {
		t.Fatalf("no guest stored for %s: %v", email, err)
	}
	if g.FirstName != "Alan" || g.LastName != "Turing" {
		t.Errorf("stored guest %q %q, want Alan Turing", g.FirstName, g.LastName)
	}
	msgs := s.emu.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || !strings.EqualFold(msgs[0].To[0], email) {
		t.Errorf("the emulator has %d emails, want the one credentials email to %s", len(msgs), email)
	}
}
