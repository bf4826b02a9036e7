//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// testLogger sends Lobby's warnings and errors to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// do runs browser steps, failing the test with what it was doing.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// run runs one browser action and returns its value, failing the test with
// what it was doing.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, what, js string) T {
	t.Helper()
	return run(t, ctx, what, chromedp.Evaluate[T](js))
}

// navigate loads url and waits for the page, failing on an HTTP error.
func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	res := run(t, ctx, "open "+url, chromedp.NavigateResponse(url))
	if res == nil || res.Status >= 400 {
		t.Fatalf("open %s: %s", url, status(res))
	}
}

// submit clicks a form's button and waits for the page the form leads to
// (after any redirects), returning its response.
func submit(t *testing.T, ctx context.Context, button string) *network.Response {
	t.Helper()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("submit with %s: %v", button, err)
	}
	if res == nil {
		t.Fatalf("submit with %s: no response", button)
	}
	return res
}

// status describes a response for failure messages.
func status(res *network.Response) string {
	if res == nil {
		return "no response"
	}
	return fmt.Sprintf("%s answered %d %s", res.URL, res.Status, res.StatusText)
}

// text returns the visible text of the first element matching css.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	return strings.Join(strings.Fields(run(t, ctx, "read "+css, chromedp.Text(chromedp.CSS(css), chromedp.NodeVisible))), " ")
}

// location is the address of the page in the tab.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, "read the location", chromedp.Location())
}

// shotsDir is where screenshots go: LOBBY_E2E_SHOTS when set, else a
// temporary directory of the test.
func shotsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LOBBY_E2E_SHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("LOBBY_E2E_SHOTS: %v", err)
	}
	return dir
}

// screenshot takes a full-page PNG screenshot into dir/name, checks that it
// is a PNG of the page's full width, and returns its height in pixels.
func screenshot(t *testing.T, ctx context.Context, dir, name string, wantWidth int) int {
	t.Helper()
	buf := run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s (%d bytes) is not a PNG: %v", path, len(buf), err)
	}
	if _, err := png.Decode(bytes.NewReader(buf)); err != nil {
		t.Fatalf("screenshot %s does not decode: %v", path, err)
	}
	if cfg.Width != wantWidth || cfg.Height == 0 {
		t.Fatalf("screenshot %s is %dx%d, want %d pixels wide and not empty", path, cfg.Width, cfg.Height, wantWidth)
	}
	t.Logf("screenshot %s: %dx%d, %d bytes", path, cfg.Width, cfg.Height, len(buf))
	return cfg.Height
}

// shownEmail is an email as the development mailbox shows it.
type shownEmail struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// mailboxEmail opens the development mailbox of the site at siteURL and
// returns the email to the address to (empty when there is none).
func mailboxEmail(t *testing.T, ctx context.Context, siteURL, to string) shownEmail {
	t.Helper()
	navigate(t, ctx, siteURL+"/dev/mailbox")
	do(t, ctx, "wait for the mailbox", chromedp.WaitVisible(chromedp.CSS("main section pre")))
	toJS, _ := json.Marshal(to)
	return eval[shownEmail](t, ctx, "find the credentials email", `(() => {
		for (const s of document.querySelectorAll("main section")) {
			const dds = [...s.querySelectorAll("dd")].map(d => d.textContent.trim());
			if (dds.includes(`+string(toJS)+`)) {
				return {subject: s.querySelector("h2").textContent.trim(), text: s.querySelector("pre").textContent};
			}
		}
		return {subject: "", text: ""};
	})()`)
}
