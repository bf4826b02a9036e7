// Command echo is a small echo application that embeds Lobby: the guest
// portal is mounted under /guest with MountEcho, and /wifi is a page only
// signed-in guests see (RequireGuestEcho). Guests live in a SQLite file; with -dev, mail goes to the
// built-in Exchange Online emulator and shows at /guest/dev/mailbox.
//
//	go run ./examples/echo -dev
//	open http://127.0.0.1:8080/wifi
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/notify/exchangetest/devmail"
	"github.com/lobbyhq/lobby/portal"
	"github.com/lobbyhq/lobby/storage"
)

// options configure the app.
type options struct {
	DB      string       // SQLite file
	Key     []byte       // secret key, 32 bytes
	BaseURL string       // external URL of the app's root, e.g. http://127.0.0.1:8080
	Dev     bool         // send mail to the built-in emulator
	Logger  *slog.Logger // default slog.Default()
	Now     func() time.Time
	// Limits are Lobby's per-client rate limits.
	Limits portal.Limits
}

// app is the host application with Lobby inside.
type app struct {
	handler  *echo.Echo
	lobby    *lobby.Lobby
	store    storage.Store
	emulator *exchangetest.Server // nil without -dev
}

// newApp opens the store, builds Lobby and the host's routes.
func newApp(ctx context.Context, o options) (*app, error) {
	st, err := lobby.OpenStore(ctx, o.DB, o.Key)
	if err != nil {
		return nil, err
	}
	a := &app{store: st}
	cfg := lobby.Config{
		Store:     st,
		BaseURL:   strings.TrimRight(o.BaseURL, "/") + "/guest",
		SecretKey: o.Key,
		Logger:    o.Logger,
		Now:       o.Now,
		Limits:    o.Limits,
	}
	if o.Dev {
		a.emulator, err = exchangetest.Start(exchangetest.Options{Logger: o.Logger})
		if err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("start the mail emulator: %w", err)
		}
		settings := devmail.Settings(a.emulator)
		cfg.DevMailbox = devMailbox(a.emulator)
		cfg.MailSettings = func(context.Context) (notify.Settings, error) { return settings, nil }
	}
	a.lobby, err = lobby.New(cfg)
	if err != nil {
		_ = a.Close()
		return nil, err
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	a.lobby.MountEcho(e, "/guest")
	e.GET("/wifi", wifi, a.lobby.RequireGuestEcho())
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/wifi") })
	a.handler = e
	return a, nil
}

// Close releases Lobby, the emulator and the store.
func (a *app) Close() error {
	var errs []error
	if a.lobby != nil {
		errs = append(errs, a.lobby.Close())
	}
	if a.emulator != nil {
		errs = append(errs, a.emulator.Close())
	}
	errs = append(errs, a.store.Close())
	return errors.Join(errs...)
}

var wifiPage = template.Must(template.New("wifi").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Guest Wi-Fi</title></head><body>
<h1>Welcome, {{.FirstName}}</h1>
<p>You are signed in as {{.Username}}. Your access is valid until {{.ValidUntil.Format "2 Jan 2006 15:04 MST"}}.</p>
</body></html>
`))

// wifi is the host's own page for signed-in guests.
func wifi(c echo.Context) error {
	g, ok := lobby.GuestFrom(c.Request().Context())
	if !ok {
		return echo.NewHTTPError(http.StatusUnauthorized, "not signed in") // RequireGuestEcho makes this unreachable
	}
	c.Response().Header().Set("Content-Type", "text/html; charset=utf-8")
	return wifiPage.Execute(c.Response(), g)
}

// loadKey reads the secret key from LOBBY_SECRET_KEY or from path, creating
// the file with a new key on first start.
func loadKey(path string) ([]byte, error) {
	if v := os.Getenv("LOBBY_SECRET_KEY"); v != "" {
		return storage.ParseKey(v)
	}
	key, _, err := lobby.LoadOrCreateKey(path)
	return key, err
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	baseURL := flag.String("base-url", "", "external URL of this app (default http://<addr>)")
	db := flag.String("db", "data/lobby.db", "SQLite database file")
	keyFile := flag.String("key-file", "data/lobby.key", "secret key file, created on first start (LOBBY_SECRET_KEY overrides)")
	dev := flag.Bool("dev", false, "send mail to the built-in Exchange Online emulator, shown at /guest/dev/mailbox")
	flag.Parse()

	if err := run(*addr, *baseURL, *db, *keyFile, *dev); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func run(addr, baseURL, db, keyFile string, dev bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	key, err := loadKey(keyFile)
	if err != nil {
		return err
	}
	if baseURL == "" {
		baseURL = "http://" + addr
	}
	a, err := newApp(ctx, options{DB: db, Key: key, BaseURL: baseURL, Dev: dev, Logger: logger})
	if err != nil {
		return err
	}
	defer a.Close()

	srv := &http.Server{Addr: addr, Handler: a.handler, ReadHeaderTimeout: 10 * time.Second}
	return serve(ctx, stop, logger, srv, a, baseURL+"/wifi")
}

// serve runs the HTTP server and Lobby's background work until ctx ends or
// one of them fails, then stops both and waits for them.
func serve(ctx context.Context, stop func(), logger *slog.Logger, srv *http.Server, a *app, url string) error {
	runDone := make(chan error, 1)
	go func() { runDone <- a.lobby.Run(ctx) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.ListenAndServe() }()
	logger.Info("serving", "url", url)

	var err error
	select {
	case err = <-srvDone:
	case err = <-runDone:
		runDone = nil
	case <-ctx.Done():
	}
	stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = serr
	}
	if runDone != nil {
		if rerr := <-runDone; rerr != nil && err == nil {
			err = rerr
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// devMailbox shows the emulator's captured mail on /guest/dev/mailbox,
// decoded by the emulator.
func devMailbox(emu *exchangetest.Server) lobby.DevMailbox {
	return lobby.DevMailboxFunc(func() []lobby.DevMessage {
		msgs := emu.Messages()
		out := make([]lobby.DevMessage, 0, len(msgs))
		for _, m := range msgs {
			body, err := m.Body()
			if err == nil && !body.HasText {
				err = exchangetest.ErrNoTextPart
			}
			out = append(out, lobby.DevMessage{ReceivedAt: m.ReceivedAt, From: m.From, To: m.To, Subject: m.Subject,
				Text: body.Text, HasHTML: body.HasHTML, DecodeErr: err})
		}
		return out
	})
}
