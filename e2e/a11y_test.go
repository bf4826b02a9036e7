//go:build e2e

package e2e

import (
	"context"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// formControls lists the form controls a person fills in (not hidden ones),
// each with the text of its accessible label: its <label> elements, else
// aria-labelledby, else aria-label.
const formControls = `[...document.querySelectorAll("input, select, textarea")]
	.filter(el => el.type !== "hidden")
	.map(el => {
		let label = [...(el.labels || [])].map(l => l.textContent).join(" ");
		const by = el.getAttribute("aria-labelledby");
		if (!label.trim() && by) {
			label = by.split(/\s+/).map(id => (document.getElementById(id) || {}).textContent || "").join(" ");
		}
		if (!label.trim()) {
			label = el.getAttribute("aria-label") || "";
		}
		return {id: el.id, name: el.name, label: label.replace(/\s+/g, " ").trim()};
	})`

type control struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Label string `json:"label"`
}

// focused describes document.activeElement: its id, or its tag and text.
const focused = `(() => {
	const el = document.activeElement;
	if (!el || el === document.body) return "body";
	if (el.id) return "#" + el.id;
	return el.tagName.toLowerCase() + ":" + (el.getAttribute("type") || "") + ":" + el.textContent.replace(/\s+/g, " ").trim().slice(0, 40);
})()`

// testAccessibility checks the registration and sign-in pages with a
// keyboard and a screen reader in mind: the language is declared, every
// control has a label, and pressing Tab from the top of the page goes
// through the fields in order and reaches the submit button.
func testAccessibility(t *testing.T, browser context.Context) {
	s := startSite(t)
	ctx := newTab(t, browser)

	for _, pg := range []struct {
		path   string
		submit string   // how focused describes the submit button
		fields []string // the controls, in the order Tab must reach them
	}{
		{"/portal/register", "button:submit:Register", []string{"#f-first_name", "#f-last_name", "#f-email", "#f-terms"}},
		{"/portal/login", "button:submit:Sign in", []string{"#f-username", "#f-password"}},
	} {
		navigate(t, ctx, s.URL+pg.path)
		do(t, ctx, "wait for "+pg.path, chromedp.WaitVisible(chromedp.CSS("main form button[type=submit]")))

		if lang := eval[string](t, ctx, "read the page language", `document.documentElement.lang`); lang == "" {
			t.Errorf("%s: <html> has no lang", pg.path)
		}

		controls := eval[[]control](t, ctx, "list the form controls", formControls)
		if len(controls) < len(pg.fields) {
			t.Errorf("%s: found %d form controls, want at least %d", pg.path, len(controls), len(pg.fields))
		}
		for _, c := range controls {
			if c.Label == "" {
				t.Errorf("%s: the control id=%q name=%q has no label", pg.path, c.ID, c.Name)
			}
		}

		// Tab from the top of the page until the submit button has the
		// focus, or the focus comes round to where it started.
		var order []string
		for range 40 {
			do(t, ctx, "press Tab", chromedp.KeyEvent(kb.Tab))
			f := eval[string](t, ctx, "read the focus", focused)
			if len(order) > 0 && f == order[0] {
				break
			}
			order = append(order, f)
			if f == pg.submit {
				break
			}
		}
		if order[len(order)-1] != pg.submit {
			t.Errorf("%s: Tab never reached the submit button %q; it went %q", pg.path, pg.submit, order)
			continue
		}
		if order[0] != "a::Skip to main content" {
			t.Errorf("%s: the first Tab stop is %q, want the skip link", pg.path, order[0])
		}
		// The fields come in their order, each once, before the button.
		var seen []string
		for _, f := range order {
			if slices.Contains(pg.fields, f) {
				seen = append(seen, f)
			}
		}
		if !slices.Equal(seen, pg.fields) {
			t.Errorf("%s: Tab reached the fields as %q, want %q (the whole order: %q)", pg.path, seen, pg.fields, order)
		}
	}
}
