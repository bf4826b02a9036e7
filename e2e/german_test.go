//go:build e2e

package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

var (
	benutzernameRE = regexp.MustCompile(`(?m)^\s*Benutzername:\s*(\S+)\s*$`)
	passwortRE     = regexp.MustCompile(`(?m)^\s*Passwort:\s*(\S+)\s*$`)
)

// testGuestInGerman is a guest whose browser asks for German: every page
// on the way (registration, its errors, success, sign-in, the gated page's
// way through it, the account) is German, and so is the credentials email
// in the development mailbox. Then the switcher turns the pages French.
func testGuestInGerman(t *testing.T, browser context.Context) {
	s := startSite(t)
	ctx := newTab(t, browser)
	shots := shotsDir(t)
	const email = "lena.schmidt@example.de"

	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}}); err != nil {
		t.Fatalf("ask for German: %v", err)
	}
	do(t, ctx, "emulate a phone",
		chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))
	german := func(step string) {
		t.Helper()
		if lang := eval[string](t, ctx, "read the page's language", `document.documentElement.lang`); lang != "de" {
			t.Errorf("%s: <html lang=%q>, want de", step, lang)
		}
	}

	// The gated page sends the guest to sign in; from there, to register.
	navigate(t, ctx, s.URL+"/wifi")
	do(t, ctx, "wait for the sign-in page", chromedp.WaitVisible(chromedp.ID("f-username")))
	german("sign-in page")
	if got := text(t, ctx, "main h1"); got != "Anmelden" {
		t.Errorf("sign-in heading %q, want Anmelden", got)
	}
	navigate(t, ctx, s.URL+"/portal/register")
	do(t, ctx, "wait for the registration form", chromedp.WaitVisible(chromedp.ID("f-first_name")))
	german("registration form")
	for css, want := range map[string]string{
		"main h1":                   "Für einen Gastzugang registrieren",
		`label[for="f-first_name"]`: "Vorname",
		`label[for="f-terms"]`:      "Ich akzeptiere die Nutzungsbedingungen",
		"main .valid-for":           "Der Zugang gilt 1 Tag.",
		`form[action="register"] button[type="submit"]`: "Registrieren",
	} {
		if got := text(t, ctx, css); got != want {
			t.Errorf("registration form: %s says %q, want %q", css, got, want)
		}
	}
	screenshot(t, ctx, shots, "german-1-register.png", phoneWidth)

	// Sent without the terms: the errors are German too.
	do(t, ctx, "fill in the form without the terms",
		chromedp.SendKeys(chromedp.ID("f-first_name"), "Lena"),
		chromedp.SendKeys(chromedp.ID("f-last_name"), "Schmidt"),
		chromedp.SendKeys(chromedp.ID("f-email"), email),
	)
	res := submit(t, ctx, `form[action="register"] button[type="submit"]`)
	if res.Status != 422 {
		t.Fatalf("registering without the terms: %s, want 422", status(res))
	}
	german("registration errors")
	if got := text(t, ctx, ".error-summary"); !strings.Contains(got, "Es gibt ein Problem") || !strings.Contains(got, "Akzeptieren Sie die Nutzungsbedingungen") {
		t.Errorf("the error summary says %q, want it in German", got)
	}
	screenshot(t, ctx, shots, "german-2-errors.png", phoneWidth)

	do(t, ctx, "accept the terms", chromedp.Click(chromedp.ID("f-terms"), chromedp.NodeVisible))
	res = submit(t, ctx, `form[action="register"] button[type="submit"]`)
	if res.Status != 200 || !strings.Contains(res.URL, "/portal/registered/") {
		t.Fatalf("registering led to %s, want the success page", status(res))
	}
	do(t, ctx, "wait for the success page", chromedp.WaitVisible(chromedp.CSS("main h1")))
	german("success page")
	if got, want := text(t, ctx, "main h1"), "Sie sind registriert, Lena Schmidt"; got != want {
		t.Errorf("success heading %q, want %q", got, want)
	}
	if got := text(t, ctx, "main"); !strings.Contains(got, "Wir haben Ihre Zugangsdaten an "+email+" geschickt.") ||
		!strings.Contains(got, "Ihr Zugang gilt bis ") {
		t.Errorf("the success page says %q, want it in German", got)
	}
	screenshot(t, ctx, shots, "german-3-registered.png", phoneWidth)

	// The credentials email, in German, on the development mailbox.
	waitMails(t, s, email, 1)
	mail := mailboxEmail(t, ctx, s.URL, email)
	if !strings.HasPrefix(mail.Subject, "Ihr Gastzugang zu ") {
		t.Errorf("the credentials email's subject is %q, want German", mail.Subject)
	}
	for _, want := range []string{"Hallo Lena Schmidt,", "Hier sind Ihre Zugangsdaten:", "Gültig bis: ", "Hier anmelden: "} {
		if !strings.Contains(mail.Text, want) {
			t.Errorf("the credentials email lacks %q (it is not printed: it holds the password)", want)
		}
	}
	u, p := benutzernameRE.FindStringSubmatch(mail.Text), passwortRE.FindStringSubmatch(mail.Text)
	if u == nil || p == nil {
		t.Fatalf("the email %q has no Benutzername: and Passwort: lines", mail.Subject)
	}
	// No screenshot of the mailbox: it would hold the password.

	// Signing in from the gated page, and back to it.
	navigate(t, ctx, s.URL+"/wifi")
	do(t, ctx, "sign in",
		chromedp.WaitVisible(chromedp.ID("f-username")),
		chromedp.SendKeys(chromedp.ID("f-username"), u[1], chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-password"), "wrong", chromedp.NodeVisible),
	)
	res = submit(t, ctx, `form[action="login"] button[type="submit"]`)
	if res.Status != 401 {
		t.Fatalf("a wrong password: %s, want 401", status(res))
	}
	german("wrong password")
	if got := text(t, ctx, ".error-summary"); !strings.Contains(got, "Benutzername oder Passwort stimmen nicht") {
		t.Errorf("a wrong password says %q, want German", got)
	}
	do(t, ctx, "sign in again", chromedp.SendKeys(chromedp.ID("f-password"), p[1], chromedp.NodeVisible))
	res = submit(t, ctx, `form[action="login"] button[type="submit"]`)
	if res.Status != 200 || !strings.HasSuffix(res.URL, "/wifi") {
		t.Fatalf("signing in led to %s, want the gated page", status(res))
	}
	navigate(t, ctx, s.URL+"/portal/account")
	german("account page")
	if got := text(t, ctx, "main h1"); got != "Sie sind angemeldet" {
		t.Errorf("account heading %q, want Sie sind angemeldet", got)
	}
	if got := text(t, ctx, `header form[action$="logout"] button`); got != "Abmelden" {
		t.Errorf("the sign-out button says %q, want Abmelden", got)
	}
	screenshot(t, ctx, shots, "german-4-account.png", phoneWidth)

	// The switcher (a plain link) turns the pages French, over the
	// browser's German.
	do(t, ctx, "choose French", chromedp.Click(chromedp.CSS(`nav.languages a[lang="fr"]`), chromedp.NodeVisible))
	do(t, ctx, "wait for the French page", chromedp.WaitReady(chromedp.CSS(`html[lang="fr"]`)))
	if got := text(t, ctx, "main h1"); got != "Vous êtes connecté" {
		t.Errorf("after choosing French the account heading is %q", got)
	}
	screenshot(t, ctx, shots, "german-5-french.png", phoneWidth)
}
