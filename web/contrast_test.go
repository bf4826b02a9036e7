package web

import (
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// themes returns the colour variables of the stylesheet's light theme (the
// first :root block) and its dark theme (the :root block inside
// @media (prefers-color-scheme: dark), over the light one).
func themes(t *testing.T, css string) map[string]map[string]string {
	t.Helper()
	vars := func(block string) map[string]string {
		m := map[string]string{}
		for _, v := range regexp.MustCompile(`(--[a-z-]+)\s*:\s*([^;]+);`).FindAllStringSubmatch(block, -1) {
			m[v[1]] = strings.TrimSpace(v[2])
		}
		return m
	}
	light := regexp.MustCompile(`(?s)^.*?:root\s*\{(.*?)\}`).FindStringSubmatch(css)
	dark := regexp.MustCompile(`(?s)@media\s*\(prefers-color-scheme:\s*dark\)\s*\{\s*:root\s*\{(.*?)\}`).FindStringSubmatch(css)
	if light == nil || dark == nil {
		t.Fatal("the stylesheet has no light :root block or no dark-scheme :root block")
	}
	l := vars(light[1])
	d := map[string]string{}
	for k, v := range l {
		d[k] = v
	}
	for k, v := range vars(dark[1]) {
		d[k] = v
	}
	return map[string]map[string]string{"light": l, "dark": d}
}

// luminance is the WCAG 2 relative luminance of #rrggbb or #rgb.
func luminance(hex string) (float64, error) {
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 {
		return 0, fmt.Errorf("%q is not #rrggbb", hex)
	}
	var c [3]float64
	for i := range 3 {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("%q is not #rrggbb", hex)
		}
		s := float64(v) / 255
		if s <= 0.04045 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2], nil
}

// contrast is the WCAG 2 contrast ratio of two colours.
func contrast(a, b string) (float64, error) {
	la, err := luminance(a)
	if err != nil {
		return 0, err
	}
	lb, err := luminance(b)
	if err != nil {
		return 0, err
	}
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05), nil
}

func TestContrastFormula(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want float64
	}{{"#000", "#fff", 21}, {"#fff", "#fff", 1}, {"#767676", "#fff", 4.54}, {"#d0d7de", "#fff", 1.45}} {
		got, err := contrast(c.a, c.b)
		if err != nil || math.Abs(got-c.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.2f, %v; want %.2f", c.a, c.b, got, err, c.want)
		}
	}
}

// TestStylesheetContrast computes, for the light and the dark theme, the
// contrast of what the WCAG asks for: text 4.5:1 (1.4.3), and the borders
// that show where a text input is 3:1 against the page (1.4.11). The
// border's variable is read from the input rule itself, so that a rule
// that moves to another variable is checked too.
func TestStylesheetContrast(t *testing.T) {
	t.Parallel()
	raw, err := fs.ReadFile(Static(), "lobby.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(raw)
	input := regexp.MustCompile(`(?s)input\[type=text\][^{]*\{([^}]*)\}`).FindStringSubmatch(css)
	if input == nil {
		t.Fatal("no rule for text inputs")
	}
	border := regexp.MustCompile(`border:\s*\d+px\s+solid\s+var\((--[a-z-]+)\)`).FindStringSubmatch(input[1])
	background := regexp.MustCompile(`background:\s*var\((--[a-z-]+)\)`).FindStringSubmatch(input[1])
	if border == nil || background == nil {
		t.Fatalf("the text input rule sets no border or background colour variable:\n%s", input[1])
	}
	checks := []struct {
		what   string
		fg, bg string
		min    float64
	}{
		{"text input border (1.4.11)", border[1], background[1], 3},
		{"text input border against the page (1.4.11)", border[1], "--bg", 3},
		{"text", "--fg", "--bg", 4.5},
		{"muted text", "--muted", "--bg", 4.5},
		{"muted text on a panel", "--muted", "--panel", 4.5},
		{"links", "--accent", "--bg", 4.5},
		{"button text", "--accent-fg", "--accent", 4.5},
		{"error text", "--error", "--bg", 4.5},
	}
	for name, vars := range themes(t, css) {
		for _, c := range checks {
			fg, bg := vars[c.fg], vars[c.bg]
			ratio, err := contrast(fg, bg)
			if err != nil {
				t.Errorf("%s theme, %s: %s on %s: %v", name, c.what, c.fg, c.bg, err)
				continue
			}
			if ratio < c.min {
				t.Errorf("%s theme, %s: %s %s on %s %s is %.2f:1, want at least %.1f:1", name, c.what, c.fg, fg, c.bg, bg, ratio, c.min)
			}
		}
	}
}
