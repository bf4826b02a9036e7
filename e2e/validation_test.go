//go:build e2e

package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lobbyhq/lobby/storage"
)

// fieldState is what a form field looks like to a browser and to assistive
// technology after the server answered.
type fieldState struct {
	ID          string   `json:"id"`
	Value       string   `json:"value"`
	Checked     bool     `json:"checked"`
	Invalid     string   `json:"invalid"`     // aria-invalid
	DescribedBy []string `json:"describedBy"` // aria-describedby ids
	Errors      []string `json:"errors"`      // texts of the described-by elements that are error messages
	Beside      bool     `json:"beside"`      // every error message is in the field's own .field container
}

// validationPage is the registration page after a rejected form.
type validationPage struct {
	Title        string       `json:"title"`
	FirstInMain  string       `json:"firstInMain"` // class of main's first element
	SummaryRole  string       `json:"summaryRole"`
	SummaryFocus bool         `json:"summaryFocus"` // the summary has the focus
	Links        []string     `json:"links"`        // the summary's link targets
	LinkTexts    []string     `json:"linkTexts"`
	Fields       []fieldState `json:"fields"`
}

const readValidationPage = `(() => {
	const sum = document.querySelector(".error-summary");
	const main = document.querySelector("main");
	const field = id => {
		const el = document.getElementById(id);
		const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
		const errs = ids.map(i => document.getElementById(i)).filter(e => e && e.classList.contains("error"));
		return {
			id: id,
			value: el.value,
			checked: !!el.checked,
			invalid: el.getAttribute("aria-invalid") || "",
			describedBy: ids,
			errors: errs.map(e => e.textContent.replace(/\s+/g, " ").trim()),
			beside: errs.every(e => e.closest(".field") === el.closest(".field")),
		};
	};
	return {
		title: document.title,
		firstInMain: main.firstElementChild ? main.firstElementChild.className : "",
		summaryRole: sum ? sum.getAttribute("role") || "" : "",
		summaryFocus: !!sum && document.activeElement === sum,
		links: sum ? [...sum.querySelectorAll("a")].map(a => a.getAttribute("href")) : [],
		linkTexts: sum ? [...sum.querySelectorAll("a")].map(a => a.textContent.replace(/\s+/g, " ").trim()) : [],
		fields: ["f-first_name", "f-last_name", "f-email", "f-terms"].map(field),
	};
})()`

// testServerValidation sends the registration form with a bad email address
// and the terms not accepted, past the browser's own checks, and expects the
// server to refuse it accessibly: an error summary first, with the focus and
// links to the fields; each message beside its field and tied to it; what
// was typed kept; nothing stored or sent. Then the corrected form registers.
func testServerValidation(t *testing.T, browser context.Context) {
	s := startSite(t)
	ctx := newTab(t, browser)
	const badEmail = "grace.hopper-at-example.org"

	navigate(t, ctx, s.URL+"/portal/register")
	do(t, ctx, "wait for the registration form", chromedp.WaitVisible(chromedp.ID("f-email")))

	// Take away the browser's own checks, so that only the server judges.
	left := eval[int](t, ctx, "remove required and type=email", `(() => {
		const form = document.querySelector('form[action="register"]');
		form.querySelectorAll("[required]").forEach(e => e.removeAttribute("required"));
		form.querySelectorAll('input[type="email"]').forEach(e => e.removeAttribute("type"));
		return form.querySelectorAll('[required], input[type="email"]').length;
	})()`)
	if left != 0 {
		t.Fatalf("%d required or type=email fields are left", left)
	}

	do(t, ctx, "fill in the form with a bad email and the terms not accepted",
		chromedp.SendKeys(chromedp.ID("f-first_name"), "Grace"),
		chromedp.SendKeys(chromedp.ID("f-last_name"), "Hopper"),
		chromedp.SendKeys(chromedp.ID("f-email"), badEmail),
	)
	res := submit(t, ctx, `form[action="register"] button[type="submit"]`)
	if res.Status != 422 {
		t.Fatalf("the invalid form got %s, want 422 Unprocessable Entity", status(res))
	}
	do(t, ctx, "wait for the error summary", chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	pg := eval[validationPage](t, ctx, "read the page", readValidationPage)

	if !strings.HasPrefix(pg.Title, "Error: ") {
		t.Errorf("title %q, want it to start with %q", pg.Title, "Error: ")
	}
	if !strings.Contains(" "+pg.FirstInMain+" ", " error-summary ") {
		t.Errorf("the first element of main has class %q, want the error summary", pg.FirstInMain)
	}
	if pg.SummaryRole != "alert" {
		t.Errorf("the error summary has role %q, want alert", pg.SummaryRole)
	}
	if !pg.SummaryFocus {
		t.Errorf("the error summary does not have the focus after the page loads")
	}
	if want := []string{"#f-email", "#f-terms"}; !slices.Equal(pg.Links, want) {
		t.Errorf("the error summary links to %v, want %v", pg.Links, want)
	}

	byID := map[string]fieldState{}
	for _, f := range pg.Fields {
		byID[f.ID] = f
	}
	for id, value := range map[string]string{"f-first_name": "Grace", "f-last_name": "Hopper", "f-email": badEmail} {
		if got := byID[id].Value; got != value {
			t.Errorf("%s holds %q after the error, want what was typed, %q", id, got, value)
		}
	}
	if byID["f-terms"].Checked {
		t.Error("the terms box is ticked after the error, and it was not before")
	}
	for _, id := range []string{"f-first_name", "f-last_name"} {
		if f := byID[id]; f.Invalid != "" || len(f.Errors) != 0 {
			t.Errorf("%s was right but is marked invalid (%q) with errors %q", id, f.Invalid, f.Errors)
		}
	}
	for i, id := range []string{"f-email", "f-terms"} {
		f := byID[id]
		if f.Invalid != "true" {
			t.Errorf("%s: aria-invalid %q, want true", id, f.Invalid)
		}
		if !slices.Contains(f.DescribedBy, id+"-error") || len(f.Errors) != 1 {
			t.Errorf("%s: aria-describedby %q gives error messages %q, want its one message", id, f.DescribedBy, f.Errors)
			continue
		}
		if !f.Beside {
			t.Errorf("%s: its error message is not beside it (not in its .field)", id)
		}
		if i < len(pg.LinkTexts) && !strings.HasSuffix(f.Errors[0], pg.LinkTexts[i]) {
			t.Errorf("%s: message %q beside the field, %q in the summary; want the same", id, f.Errors[0], pg.LinkTexts[i])
		}
	}
	if want := "Accept the acceptable-use terms to register."; len(byID["f-terms"].Errors) == 1 && !strings.Contains(byID["f-terms"].Errors[0], want) {
		t.Errorf("terms message %q, want %q", byID["f-terms"].Errors[0], want)
	}

	// Nothing stored, nothing queued, nothing sent.
	guests, err := s.store.ListGuests(t.Context(), storage.GuestFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(guests.Guests) != 0 {
		t.Errorf("the rejected form stored %d guests", len(guests.Guests))
	}
	mail, err := s.store.ListMail(t.Context(), storage.MailFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(mail) != 0 {
		t.Errorf("the rejected form queued %d emails", len(mail))
	}
	if n := len(s.emu.Messages()); n != 0 {
		t.Errorf("the emulator received %d emails after a rejected form", n)
	}

	// The same page, corrected, registers.
	do(t, ctx, "correct the form",
		chromedp.Clear(chromedp.ID("f-email")),
		chromedp.SendKeys(chromedp.ID("f-email"), "grace.hopper@example.org"),
		chromedp.Click(chromedp.ID("f-terms"), chromedp.NodeVisible),
	)
	if got := run(t, ctx, "read the email field", chromedp.Value(chromedp.ID("f-email"))); got != "grace.hopper@example.org" {
		t.Fatalf("the email field holds %q after correcting it", got)
	}
	res = submit(t, ctx, `form[action="register"] button[type="submit"]`)
	if res.Status != 200 || !strings.Contains(res.URL, "/portal/registered/") {
		t.Fatalf("the corrected form led to %s, want the success page", status(res))
	}
	if got, want := text(t, ctx, "main"), "We emailed your credentials to grace.hopper@example.org."; !strings.Contains(got, want) {
		t.Errorf("the success page says %q, want %q", got, want)
	}
}
