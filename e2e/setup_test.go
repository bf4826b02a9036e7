//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/internal/browsertest"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/notify/exchangetest/devmail"
	"github.com/lobbyhq/lobby/portal"
	"github.com/lobbyhq/lobby/storage"
)

// tabTimeout bounds everything one test does in its tab, so that a page that
// never comes fails the test with the step that waited rather than hanging
// until the suite's timeout.
const tabTimeout = 60 * time.Second

// newTab opens a tab of browser in a browser context of its own, bounded
// by tabTimeout.
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	return browsertest.Tab(t, browser, tabTimeout)
}

// policy is the portal policy of the test sites, changed by mod.
func policy(mod func(*portal.Policy)) portal.Policy {
	p := portal.Policy{SuccessWait: 15 * time.Second}
	if mod != nil {
		mod(&p)
	}
	return p
}

// site is Lobby running as `lobby serve --dev` runs it: a SQLite store in a
// temporary directory, the Exchange Online emulator as its mail (the
// emulator's SMTP settings as Config.MailSettings, its mailbox at
// /dev/mailbox), the background work running, over real HTTP.
type site struct {
	URL   string // the server's root, without a trailing slash
	store storage.Store
	emu   *exchangetest.Server
}

func startSite(t *testing.T) *site {
	t.Helper()
	return startSiteWith(t, nil)
}

// startSiteWith is startSite with a portal policy changed by mod, and a
// page of the host at /wifi behind RequireGuest.
func startSiteWith(t *testing.T, mod func(*portal.Policy)) *site {
	t.Helper()
	return startSiteOpts(t, siteOptions{policy: mod})
}

// siteOptions change how startSiteOpts starts Lobby.
type siteOptions struct {
	// policy changes the portal policy (see policy).
	policy func(*portal.Policy)
	// noMailSettings starts Lobby without Config.MailSettings, as
	// `lobby serve` without --dev starts it: mail goes out only once an
	// admin has saved SMTP settings (pointing them at the emulator) on
	// the SMTP server page.
	noMailSettings bool
}

// startSiteOpts is startSite as opts say.
func startSiteOpts(t *testing.T, opts siteOptions) *site {
	t.Helper()
	ctx := t.Context()
	key := make([]byte, storage.KeySize)
	rand.Read(key)

	st, err := lobby.OpenStore(ctx, filepath.Join(t.TempDir(), "lobby.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})

	emu := exchangetest.NewServer(t, exchangetest.Options{})
	settings := devmail.Settings(emu)
	var mailSettings notify.SettingsSource = func(context.Context) (notify.Settings, error) { return settings, nil }
	if opts.noMailSettings {
		mailSettings = nil
	}
	srv := httptest.NewUnstartedServer(nil)
	l, err := lobby.New(lobby.Config{
		Store:        st,
		BaseURL:      "http://" + srv.Listener.Addr().String(),
		SecretKey:    key,
		Logger:       testLogger(t),
		MailSettings: mailSettings,
		DevMailbox:   devMailbox(emu),
		// The success page waits for the credentials email only until it is
		// sent; the longer bound keeps a loaded machine (Chromium and the
		// race detector on two cores) from turning "we emailed your
		// credentials" into "your email is on its way".
		Portal: policy(opts.policy),
	})
	if err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	mux := http.NewServeMux()
	mux.Handle("/", l.Handler())
	mux.Handle("/wifi", l.RequireGuest(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, _ := lobby.GuestFrom(r.Context())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Wi-Fi</title><h1>You are online, %s</h1>", html.EscapeString(g.FirstName))
	})))
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return &site{URL: srv.URL, store: st, emu: emu}
}
