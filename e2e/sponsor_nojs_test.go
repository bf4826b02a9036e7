//go:build e2e

package e2e

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/storage"
)

// testSponsorWithoutJavaScript: a sponsor in a tab where pages cannot run
// scripts signs in, creates a guest, finds them, extends and suspends
// them: the sponsor pages need no JavaScript.
func testSponsorWithoutJavaScript(t *testing.T, browser context.Context) {
	s := startSite(t)
	staff, err := lobby.EnsureDemoStaff(t.Context(), s.store)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(staff, func(u lobby.DemoStaff) bool { return u.Role == storage.RoleSponsor })
	if i < 0 {
		t.Fatalf("EnsureDemoStaff made no sponsor: %+v", staff)
	}
	sponsor := staff[i]
	ctx := newTab(t, browser)
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turn JavaScript off: %v", err)
	}
	navigate(t, ctx, canaryPage)
	do(t, ctx, "wait for the canary", chromedp.WaitReady(chromedp.CSS("p")))
	if got := run(t, ctx, "read the canary", chromedp.AttributeValue(chromedp.CSS("p"), "id")); got.Value != "js-off" {
		t.Fatalf("the canary paragraph has id %q: page scripts still run", got.Value)
	}

	navigate(t, ctx, s.URL+"/sponsor/login")
	do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("f-username"), sponsor.Username, chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-password"), sponsor.Password, chromedp.NodeVisible),
	)
	if res := submit(t, ctx, `form[action="login"] button[type="submit"]`); res.Status != 200 || !strings.HasSuffix(res.URL, "/sponsor/") {
		t.Fatalf("signing in without JavaScript led to %s, want the guest list", status(res))
	}

	// Create a known guest with the one form.
	navigate(t, ctx, s.URL+"/sponsor/create")
	do(t, ctx, "fill in the new guest",
		chromedp.SendKeys(chromedp.ID("f-first_name"), "Katherine", chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-last_name"), "Johnson", chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-email"), "katherine.johnson@example.org", chromedp.NodeVisible),
	)
	res := submit(t, ctx, `form[action="create"] button[type="submit"]`)
	if res.Status != 200 || !strings.Contains(res.URL, "/sponsor/guests/") {
		t.Fatalf("creating a guest without JavaScript led to %s, want the guest's page", status(res))
	}
	if got := text(t, ctx, "main"); !strings.Contains(got, "Created Katherine Johnson") {
		t.Errorf("the guest page after creating says %q, want the notice", got)
	}

	// Find them by last name and open their page.
	navigate(t, ctx, s.URL+"/sponsor/")
	do(t, ctx, "search", chromedp.SendKeys(chromedp.ID("f-q"), "johnson", chromedp.NodeVisible))
	if res := submit(t, ctx, `form.filters button[type="submit"]`); res.Status != 200 {
		t.Fatalf("searching led to %s", status(res))
	}
	if got := text(t, ctx, "ul.guests"); !strings.Contains(got, "Katherine Johnson") {
		t.Fatalf("searching johnson lists %q, want Katherine Johnson", got)
	}
	if res := submit(t, ctx, `ul.guests a.name`); res.Status != 200 {
		t.Fatalf("opening the guest led to %s", status(res))
	}
	g, err := s.store.GetGuestByEmail(t.Context(), "katherine.johnson@example.org")
	if err != nil {
		t.Fatal(err)
	}

	// Extend by the first preset, then suspend with a reason.
	if res := submit(t, ctx, `form[action$="/extend"] button[name="by"]`); res.Status != 200 {
		t.Fatalf("extending led to %s", status(res))
	}
	after, err := s.store.GetGuest(t.Context(), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ValidUntil.After(g.ValidUntil) {
		t.Errorf("after extending without JavaScript the guest's access ends %v, was %v", after.ValidUntil, g.ValidUntil)
	}
	do(t, ctx, "give a reason", chromedp.SendKeys(chromedp.ID("f-suspend_reason"), "badge lost", chromedp.NodeVisible))
	if res := submit(t, ctx, `form[action$="/suspend"] button[type="submit"]`); res.Status != 200 {
		t.Fatalf("suspending led to %s", status(res))
	}
	if after, err = s.store.GetGuest(t.Context(), g.ID); err != nil || after.Status != storage.GuestSuspended {
		t.Errorf("after suspending without JavaScript the guest is %v (%v), want suspended", after.Status, err)
	}
	if u, err := url.Parse(location(t, ctx)); err != nil || u.Path != "/sponsor/guests/"+g.ID.String() {
		t.Errorf("after suspending the tab is at %s, want the guest's page", u)
	}
}
