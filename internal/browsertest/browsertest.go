// Package browsertest starts the headless Chromium that the browser tests
// drive through chromedp, for the e2e and integration suites alike. It
// imports package testing, so only tests import it.
package browsertest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path finds the browser: LOBBY_CHROMIUM, /usr/bin/chromium, or chromium
// on PATH. Without one the test is skipped, or fails under CI=true.
func Path(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("LOBBY_CHROMIUM"); p != "" {
		found, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("LOBBY_CHROMIUM=%q is not a program that can run: %v; point it at a Chromium or Chrome binary", p, err)
		}
		return found
	}
	if found, err := exec.LookPath("/usr/bin/chromium"); err == nil {
		return found
	}
	if found, err := exec.LookPath("chromium"); err == nil {
		return found
	}
	const msg = "no Chromium found (looked at LOBBY_CHROMIUM, /usr/bin/chromium and chromium on PATH); " +
		"install it (apt-get install chromium) or set LOBBY_CHROMIUM to a Chromium or Chrome binary"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Start starts one headless Chromium with a fresh profile for the test and
// its subtests and returns its chromedp context; each opens its own tab
// with Tab. The browser is closed when the test ends.
func Start(t testing.TB) context.Context {
	t.Helper()
	path := Path(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // the suite may run as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully and wait for it to exit, so that its
		// profile directory can be removed after it.
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		defer ccancel()
		if err := chromedp.Cancel(cctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("closing Chromium: %v", err)
		}
		cancel()
		cancelAlloc()
	})
	// The first Do starts the browser; it must not have a deadline of its
	// own, or the deadline would end the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	return ctx
}

// Tab opens a tab of browser in a browser context of its own (its own
// cookies and storage, like a private window) and returns a context for
// its actions, bounded by timeout. The tab is closed when the test ends.
func Tab(t testing.TB, browser context.Context, timeout time.Duration) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(tab, timeout)
	t.Cleanup(cancelTimeout)
	return ctx
}
