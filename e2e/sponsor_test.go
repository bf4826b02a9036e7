//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/portal"
	"github.com/lobbyhq/lobby/storage"
)

// Desktop-sized viewport (CSS pixels) of the sponsor's pages.
const deskWidth, deskHeight = 1280, 900

// mail is one email as the development mailbox shows it.
type mail struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// testSponsorJourney is the demo sponsor of `lobby serve --dev` at work on
// a portal where the person visited approves registrations: two guests
// register in browsers of their own; the sponsor signs in, approves one
// from the pending view, finds her by name and by email, emails her
// credentials again, extends, suspends (her gated page sends her back to
// sign in) and reinstates her, approves the other, makes a batch of ten
// accounts and prints their sheet, and checks the list and guest page on a
// phone.
func testSponsorJourney(t *testing.T, browser context.Context) {
	s := startSiteWith(t, func(p *portal.Policy) { p.RequireApproval = true })
	staff, err := lobby.EnsureDemoStaff(t.Context(), s.store)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(staff, func(u lobby.DemoStaff) bool { return u.Role == storage.RoleSponsor })
	if i < 0 {
		t.Fatalf("EnsureDemoStaff made no sponsor: %+v", staff)
	}
	sponsor := staff[i]
	shots := shotsDir(t)
	const (
		ada   = "ada.lovelace@example.org"
		grace = "grace.hopper@example.org"
	)

	// Two guests register, each in a browser of their own, naming the
	// demo sponsor as the person they visit.
	adaTab := newTab(t, browser)
	registerPending(t, adaTab, s, "Ada", "Lovelace", ada, sponsor.Email)
	graceTab := newTab(t, browser)
	registerPending(t, graceTab, s, "Grace", "Hopper", grace, sponsor.Email)

	// The sponsor signs in.
	ctx := newTab(t, browser)
	do(t, ctx, "emulate a desktop", chromedp.EmulateViewport(deskWidth, deskHeight))
	navigate(t, ctx, s.URL+"/sponsor/")
	if lu, err := url.Parse(location(t, ctx)); err != nil || lu.Path != "/sponsor/login" {
		t.Fatalf("/sponsor/ led to %s, want the sign-in page", lu)
	}
	screenshot(t, ctx, shots, "sponsor-1-login.png", deskWidth)
	do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("f-username"), sponsor.Username, chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-password"), sponsor.Password, chromedp.NodeVisible),
	)
	res := submit(t, ctx, `form[action="login"] button[type="submit"]`)
	if lu, err := url.Parse(res.URL); err != nil || lu.Path != "/sponsor/" || res.Status != 200 {
		t.Fatalf("signing in led to %s, want the guest list", status(res))
	}
	if got := text(t, ctx, "nav.sponsor .who"); !strings.Contains(got, "Demo sponsor") {
		t.Errorf("the navigation says %q, want the demo sponsor's name", got)
	}

	// The pending view lists both; approve Ada from her row.
	submit(t, ctx, `nav.sponsor a[href$="?status=pending"]`)
	if got := guestNames(t, ctx); !slices.Equal(got, []string{"Grace Hopper", "Ada Lovelace"}) {
		t.Fatalf("the pending view lists %q, want Grace Hopper and Ada Lovelace, newest first", got)
	}
	screenshot(t, ctx, shots, "sponsor-2-pending.png", deskWidth)
	adaID := approveRow(t, ctx, "Ada Lovelace")
	if got := guestNames(t, ctx); !slices.Equal(got, []string{"Grace Hopper"}) {
		t.Errorf("after approving Ada the pending view lists %q, want Grace Hopper alone", got)
	}

	// Ada's credentials arrive; she signs in and reaches the gated page.
	waitMails(t, s, ada, 2) // the pending confirmation, then the credentials
	creds := credentialMails(t, ctx, s, ada)
	if len(creds) != 1 {
		t.Fatalf("/dev/mailbox shows %d credentials emails to %s after the approval, want 1", len(creds), ada)
	}
	username, password := creds[0][0], creds[0][1]
	guestSignIn(t, adaTab, s, username, password)

	// Find Ada by last name and by a piece of her email address.
	for _, q := range []string{"Lovelace", "lovelace@exa"} {
		navigate(t, ctx, s.URL+"/sponsor/")
		do(t, ctx, "search for "+q,
			chromedp.SetValue(chromedp.ID("f-status"), "", chromedp.NodeVisible),
			chromedp.SendKeys(chromedp.ID("f-q"), q, chromedp.NodeVisible))
		submit(t, ctx, `form.filters button[type="submit"]`)
		if got := guestNames(t, ctx); !slices.Equal(got, []string{"Ada Lovelace"}) {
			t.Errorf("searching %q lists %q, want Ada Lovelace alone", q, got)
		}
	}
	screenshot(t, ctx, shots, "sponsor-3-list.png", deskWidth)
	res = submit(t, ctx, `ul.guests a.name`)
	if !strings.HasSuffix(res.URL, "/sponsor/guests/"+adaID) || res.Status != 200 {
		t.Fatalf("Ada's name led to %s, want her page", status(res))
	}
	if got := text(t, ctx, "main h1"); got != "Ada Lovelace" {
		t.Errorf("the guest page's heading is %q", got)
	}
	if got := text(t, ctx, "main span.status"); got != "active" {
		t.Errorf("after the approval Ada is %q, want active", got)
	}
	screenshot(t, ctx, shots, "sponsor-4-guest.png", deskWidth)

	// Email the credentials again: the same password, sent at once.
	submit(t, ctx, `form[action$="/resend"] button[type="submit"]`)
	if got := text(t, ctx, "main .notice"); !regexp.MustCompile(`Sent in \d+ ms\.`).MatchString(got) {
		t.Errorf("after emailing the credentials again the notice is %q, want it to say Sent in N ms.", got)
	}
	waitMails(t, s, ada, 3)
	creds = credentialMails(t, ctx, s, ada)
	if len(creds) != 2 {
		t.Fatalf("/dev/mailbox shows %d credentials emails to %s after the resend, want 2", len(creds), ada)
	}
	if creds[0] != creds[1] {
		t.Error("the credentials sent again differ from the first ones") // not printed: they hold the password
	}

	// Extend by a preset: the end of access moves.
	navigate(t, ctx, s.URL+"/sponsor/guests/"+adaID)
	before := detail(t, ctx, "Until")
	submit(t, ctx, `form[action$="/extend"] button[name="by"][value="24h0m0s"]`)
	if got := text(t, ctx, "main .notice"); !strings.Contains(got, "Access of Ada Lovelace extended until") {
		t.Errorf("after extending the notice is %q", got)
	}
	if after := detail(t, ctx, "Until"); after == before {
		t.Errorf("extending by a day left the end of access at %q", after)
	}

	// Suspend with a reason: Ada's gated page sends her to sign in.
	do(t, ctx, "give a reason", chromedp.SendKeys(chromedp.ID("f-suspend_reason"), "Lost her badge", chromedp.NodeVisible))
	submit(t, ctx, `form[action$="/suspend"] button[type="submit"]`)
	if got := text(t, ctx, "main span.status"); got != "suspended" {
		t.Fatalf("after suspending Ada is %q", got)
	}
	if got := text(t, ctx, "ol.history"); !strings.Contains(got, "Lost her badge") {
		t.Errorf("the history does not give the reason for suspending: %q", got)
	}
	navigate(t, adaTab, s.URL+"/wifi")
	if lu, err := url.Parse(location(t, adaTab)); err != nil || lu.Path != "/portal/login" {
		t.Errorf("suspended, Ada's /wifi led to %s, want the portal's sign-in page", lu)
	}

	// Reinstate: her credentials work again.
	submit(t, ctx, `form[action$="/reinstate"] button[type="submit"]`)
	if got := text(t, ctx, "main span.status"); got != "active" {
		t.Fatalf("after reinstating Ada is %q", got)
	}
	guestSignIn(t, adaTab, s, username, password)

	// The pending view lists Grace; approve her from her row.
	navigate(t, ctx, s.URL+"/sponsor/?status=pending")
	approveRow(t, ctx, "Grace Hopper")
	if got := text(t, ctx, "main .notice"); !strings.Contains(got, "Approved Grace Hopper") {
		t.Errorf("after approving Grace the notice is %q", got)
	}
	if got := text(t, ctx, "main p.empty"); got == "" {
		t.Error("after approving Grace the pending view is not empty")
	}
	waitMails(t, s, grace, 2)
	if n := len(credentialMails(t, ctx, s, grace)); n != 1 {
		t.Errorf("/dev/mailbox shows %d credentials emails to %s after her approval, want 1", n, grace)
	}
	if g, err := s.store.GetGuestByEmail(t.Context(), grace); err != nil {
		t.Fatal(err)
	} else if g.Status != storage.GuestActive {
		t.Errorf("after her approval Grace is %s, want active", g.Status)
	}

	sponsorBatch(t, ctx, s, shots)

	// Under each name the list says what there is to say, once: a batch
	// account has no email, and a self-registered username is the email.
	navigate(t, ctx, s.URL+"/sponsor/")
	for _, line := range eval[[]string](t, ctx, "read the list's details",
		`[...document.querySelectorAll("ul.guests li div.aside:first-of-type")].map(d => d.textContent.trim())`) {
		parts := strings.Split(line, "·")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		if slices.Contains(parts, "") || len(slices.Compact(slices.Clone(parts))) != len(parts) {
			t.Errorf("a row of the list says %q: an empty or repeated part", line)
		}
	}

	// The list and the guest page on a phone: no sideways scrolling.
	do(t, ctx, "emulate a phone",
		chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))
	for _, p := range []struct{ path, shot string }{
		{"/sponsor/", "sponsor-7-phone-list.png"},
		{"/sponsor/guests/" + adaID, "sponsor-8-phone-guest.png"},
	} {
		navigate(t, ctx, s.URL+p.path)
		if w := eval[int](t, ctx, "measure the page", `document.documentElement.scrollWidth`); w > phoneWidth {
			t.Errorf("%s is %d CSS pixels wide on a %d-pixel phone: it scrolls sideways", p.path, w, phoneWidth)
		}
		screenshot(t, ctx, shots, p.shot, phoneWidth)
	}
}

// sponsorBatch makes a batch of ten accounts, checks the printable sheet
// on screen and in print, and downloads its CSV.
func sponsorBatch(t *testing.T, ctx context.Context, s *site, shots string) {
	t.Helper()
	navigate(t, ctx, s.URL+"/sponsor/batch")
	do(t, ctx, "fill in the batch form",
		chromedp.SetValue(chromedp.ID("f-count"), "", chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-count"), "10", chromedp.NodeVisible))
	res := submit(t, ctx, `form[action="batch"] button[type="submit"]`)
	if res.Status != 200 {
		t.Fatalf("making the batch led to %s", status(res))
	}
	if n := eval[int](t, ctx, "count the cards", `document.querySelectorAll("ol.cards li.card").length`); n != 10 {
		t.Fatalf("the sheet shows %d cards, want 10", n)
	}
	screenshot(t, ctx, shots, "sponsor-5-sheet.png", deskWidth)

	// In print: no navigation, no buttons, the cards two to a row.
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatalf("emulate print: %v", err)
	}
	printed := eval[struct {
		Nav     string `json:"nav"`
		Buttons string `json:"buttons"`
		Columns int    `json:"columns"`
		Row     bool   `json:"row"`
	}](t, ctx, "read the print layout", `(() => {
		const cards = document.querySelectorAll("ol.cards li.card");
		const a = cards[0].getBoundingClientRect(), b = cards[1].getBoundingClientRect();
		return {
			nav: getComputedStyle(document.querySelector("nav.sponsor")).display,
			buttons: getComputedStyle(document.querySelector("main .no-print")).display,
			columns: getComputedStyle(document.querySelector("ol.cards")).gridTemplateColumns.split(" ").length,
			row: Math.abs(a.top - b.top) < 1 && b.left > a.right,
		};
	})()`)
	if printed.Nav != "none" || printed.Buttons != "none" {
		t.Errorf("in print the navigation is display %q and the buttons %q, want both none", printed.Nav, printed.Buttons)
	}
	if printed.Columns != 2 || !printed.Row {
		t.Errorf("in print the cards are in %d columns (first two side by side: %v), want 2", printed.Columns, printed.Row)
	}
	screenshot(t, ctx, shots, "sponsor-6-sheet-print.png", deskWidth)
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
		t.Fatalf("stop emulating print: %v", err)
	}

	// The CSV, as the sheet's form posts it (its CSRF and batch tokens)
	// with the browser's cookies: the pages' Content-Security-Policy
	// rightly stops a script in the page from fetching it.
	form := eval[struct {
		Action string            `json:"action"`
		Fields map[string]string `json:"fields"`
	}](t, ctx, "read the CSV form", `(() => {
		const f = document.querySelector('form[action$="batch/csv"]');
		return {action: f.action, fields: Object.fromEntries(new FormData(f))};
	})()`)
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{form.Action}})
	if err != nil {
		t.Fatalf("read the browser's cookies: %v", err)
	}
	values := url.Values{}
	for k, v := range form.Fields {
		values.Set(k, v)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, form.Action, strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("download the CSV: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("download the CSV: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("the CSV download answered %s %q", resp.Status, ct)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV download does not parse: %v", err)
	}
	if len(rows) != 11 || !slices.Equal(rows[0][:2], []string{"username", "password"}) {
		t.Fatalf("the CSV has %d rows starting %q, want a header (username, password, …) and 10 accounts", len(rows), rows[0])
	}
	cards := eval[[][]string](t, ctx, "read the cards", `[...document.querySelectorAll("ol.cards li.card")].map(c => [...c.querySelectorAll("dd code")].map(e => e.textContent.trim()))`)
	for i, c := range cards {
		if !slices.Equal(c, rows[i+1][:2]) {
			t.Errorf("card %d and the CSV's row %d differ in username or password", i+1, i+1) // not printed: they hold passwords
		}
	}
	if len(cards) != 10 {
		t.Errorf("read %d cards, want 10", len(cards))
	}
}

// registerPending registers a guest on the portal in ctx, naming visited
// as the person they visit, and checks that they wait for approval.
func registerPending(t *testing.T, ctx context.Context, s *site, first, last, email, visited string) {
	t.Helper()
	navigate(t, ctx, s.URL+"/portal/register")
	do(t, ctx, "fill in the registration form",
		chromedp.SendKeys(chromedp.ID("f-first_name"), first, chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-last_name"), last),
		chromedp.SendKeys(chromedp.ID("f-email"), email),
		chromedp.SendKeys(chromedp.ID("f-person_visited"), visited),
		chromedp.Click(chromedp.ID("f-terms"), chromedp.NodeVisible),
	)
	res := submit(t, ctx, `form[action="register"] button[type="submit"]`)
	if res.Status != 200 || !strings.Contains(res.URL, "/portal/registered/") {
		t.Fatalf("registering %s led to %s, want the success page", email, status(res))
	}
	if got, want := text(t, ctx, "main h1"), "Thank you, "+first+" "+last; got != want {
		t.Fatalf("the success page's heading is %q, want %q (waiting for approval)", got, want)
	}
}

// guestSignIn signs a guest in on the portal in ctx and checks that the
// gated page lets them in.
func guestSignIn(t *testing.T, ctx context.Context, s *site, username, password string) {
	t.Helper()
	navigate(t, ctx, s.URL+"/portal/login?return=%2Fwifi")
	do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("f-username"), username, chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-password"), password, chromedp.NodeVisible),
	)
	res := submit(t, ctx, `form[action^="login"] button[type="submit"]`)
	if res.Status != 200 || !strings.HasSuffix(res.URL, "/wifi") {
		t.Fatalf("signing in led to %s, want /wifi", status(res))
	}
	if got := text(t, ctx, "h1"); !strings.HasPrefix(got, "You are online") {
		t.Fatalf("the gated page says %q", got)
	}
}

// guestNames are the names the guest list in ctx shows, in order.
func guestNames(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return eval[[]string](t, ctx, "read the guest list",
		`[...document.querySelectorAll("ul.guests li a.name")].map(a => a.textContent.trim())`)
}

// approveRow presses the Approve button in the row of the guest named name
// in the pending view, checks that the view comes back, and returns the
// guest's ID.
func approveRow(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	js, _ := json.Marshal(name)
	href := eval[string](t, ctx, "find "+name, `(() => {
		const a = [...document.querySelectorAll("ul.guests li a.name")].find(a => a.textContent.trim() === `+string(js)+`);
		return a ? a.getAttribute("href") : "";
	})()`)
	if href == "" {
		t.Fatalf("the pending view does not list %s", name)
	}
	id := href[strings.LastIndex(href, "/")+1:]
	res := submit(t, ctx, `ul.guests form[action$="/guests/`+id+`/approve"] button[type="submit"]`)
	if lu, err := url.Parse(res.URL); err != nil || lu.Path != "/sponsor/" || lu.Query().Get("status") != "pending" || res.Status != 200 {
		t.Fatalf("approving %s led to %s, want the pending view", name, status(res))
	}
	return id
}

// detail is the value of the guest page's detail labelled dt.
func detail(t *testing.T, ctx context.Context, dt string) string {
	t.Helper()
	js, _ := json.Marshal(dt)
	v := eval[string](t, ctx, "read "+dt, `(() => {
		const d = [...document.querySelectorAll("main dt")].find(d => d.textContent.trim() === `+string(js)+`);
		return d ? d.nextElementSibling.textContent.trim() : "";
	})()`)
	if v == "" {
		t.Fatalf("the guest page has no %q", dt)
	}
	return v
}

// waitMails waits until the emulator has accepted n emails to addr.
func waitMails(t *testing.T, s *site, addr string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		msgs := s.emu.Messages()
		have := 0
		for _, m := range msgs {
			if slices.Contains(m.To, addr) {
				have++
			}
		}
		if have >= n {
			return
		}
		if _, err := s.emu.WaitForMessages(ctx, len(msgs)+1); err != nil {
			t.Fatalf("waiting for %d emails to %s (have %d): %v", n, addr, have, err)
		}
	}
}

// credentialMails are the username and password of every credentials
// email to addr on /dev/mailbox, opened in ctx.
func credentialMails(t *testing.T, ctx context.Context, s *site, addr string) [][2]string {
	t.Helper()
	navigate(t, ctx, s.URL+"/dev/mailbox")
	to, _ := json.Marshal(addr)
	mails := eval[[]mail](t, ctx, "read the emails to "+addr, `(() => {
		const out = [];
		for (const s of document.querySelectorAll("main section")) {
			const dds = [...s.querySelectorAll("dd")].map(d => d.textContent.trim());
			if (dds.includes(`+string(to)+`)) {
				out.push({subject: s.querySelector("h2").textContent.trim(), text: s.querySelector("pre").textContent});
			}
		}
		return out;
	})()`)
	var creds [][2]string
	for _, m := range mails {
		u, p := usernameRE.FindStringSubmatch(m.Text), passwordRE.FindStringSubmatch(m.Text)
		if u != nil && p != nil {
			creds = append(creds, [2]string{u[1], p[1]})
		}
	}
	return creds
}
