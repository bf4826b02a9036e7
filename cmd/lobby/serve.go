package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/notify/exchangetest/devmail"
	"github.com/lobbyhq/lobby/storage"
)

type serveFlags struct {
	common
	portal          portalFlags
	alarms          alarmFlags
	Addr            string
	BaseURL         string
	Dev             bool
	DevAllowRemote  bool
	MetricsAddr     string
	ShutdownTimeout time.Duration
	MailWorkers     int
	Templates       string
	RADIUSSecret    string // a file holding it
	// ForwardAuthHosts and CaptiveVenueURL: see lobby.Config.
	ForwardAuthHosts string
	CaptiveVenueURL  string
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	f.register(fs)
	fs.StringVar(&f.Addr, "addr", env("ADDR", "127.0.0.1:8080"), "address to listen on (LOBBY_ADDR)")
	fs.StringVar(&f.BaseURL, "base-url", env("BASE_URL", ""), "external URL of Lobby, for links in emails; default http://ADDR (LOBBY_BASE_URL)")
	dev, err := strconv.ParseBool(env("DEV", "false"))
	if err != nil {
		return fmt.Errorf("%w: LOBBY_DEV=%q is not true or false", errUsage, env("DEV", ""))
	}
	fs.BoolVar(&f.Dev, "dev", dev, "development mail: start the built-in Exchange Online emulator, send through it, show its mailbox at /dev/mailbox, create demo staff (LOBBY_DEV)")
	shutdown, err := envDuration("SHUTDOWN_TIMEOUT", 15*time.Second)
	if err != nil {
		return err
	}
	fs.BoolVar(&f.DevAllowRemote, "dev-allow-remote", false, "allow --dev on a non-loopback address (its mailbox page shows every password to anyone who can reach it)")
	fs.StringVar(&f.MetricsAddr, "metrics-addr", env("METRICS_ADDR", ""), "serve Prometheus metrics at /metrics on this separate address, e.g. 127.0.0.1:9090; off when empty (LOBBY_METRICS_ADDR)")
	fs.DurationVar(&f.ShutdownTimeout, "shutdown-timeout", shutdown, "how long to finish requests and sends on SIGTERM (LOBBY_SHUTDOWN_TIMEOUT)")
	workers := notify.DefaultWorkers
	if v := env("MAIL_WORKERS", ""); v != "" {
		if workers, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("%w: LOBBY_MAIL_WORKERS=%q is not a number", errUsage, v)
		}
	}
	fs.IntVar(&f.MailWorkers, "mail-workers", workers, "emails sent at once, each over its own SMTP connection; Exchange Online allows 3 per mailbox (LOBBY_MAIL_WORKERS)")
	fs.StringVar(&f.Templates, "templates", env("TEMPLATES", ""), "directory of email templates (NAME.subject.tmpl, NAME.txt.tmpl, NAME.html.tmpl) "+
		"that replace the built-in ones file by file; see docs/templates.md (LOBBY_TEMPLATES)")
	fs.StringVar(&f.RADIUSSecret, "radius-secret-file", env("RADIUS_SECRET_FILE", ""), "file holding the secret FreeRADIUS sends to /radius/ (LOBBY_RADIUS_SECRET_FILE, "+
		"or the secret itself in LOBBY_RADIUS_SECRET); off when neither is set; see docs/freeradius.md")
	fs.StringVar(&f.ForwardAuthHosts, "forward-auth-hosts", env("FORWARD_AUTH_HOSTS", ""), "comma-separated hosts (host or host:port) whose pages the forward-auth endpoint may send a browser back to after sign-in; default the --base-url host; see docs/forward-auth.md (LOBBY_FORWARD_AUTH_HOSTS)")
	fs.StringVar(&f.CaptiveVenueURL, "captive-venue-url", env("CAPTIVE_VENUE_URL", ""), "venue-info-url of the captive-portal API: a page about the venue; see docs/captive-portal.md (LOBBY_CAPTIVE_VENUE_URL)")
	if err := f.portal.register(fs); err != nil {
		return err
	}
	if err := f.alarms.register(fs); err != nil {
		return err
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	policy, err := f.portal.policy()
	if err != nil {
		return err
	}
	logger, err := f.logger(stderr)
	if err != nil {
		return err
	}
	key, err := f.key(stderr)
	if err != nil {
		return err
	}

	start := time.Now()
	st, err := lobby.OpenStore(ctx, f.database(), key)
	if err != nil {
		return err
	}
	defer st.Close()
	logger.Info("store open", "backend", st.Backend(), "took_ms", time.Since(start).Milliseconds())

	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another Lobby running? pick another with --addr or LOBBY_ADDR)", f.Addr, err)
	}
	defer ln.Close()
	if f.Dev && !f.DevAllowRemote && !isLoopback(ln.Addr()) {
		return fmt.Errorf("%w: --dev on %s: the development mailbox shows every password and approval link to anyone "+
			"who can reach it; listen on a loopback address (--addr 127.0.0.1:8080), or add --dev-allow-remote on a private network",
			errUsage, ln.Addr())
	}
	baseURL := f.BaseURL
	if baseURL == "" {
		baseURL = "http://" + displayAddr(ln.Addr())
	}

	cfg := lobby.Config{Store: st, BaseURL: baseURL, SecretKey: key, Logger: logger, Portal: policy,
		TrustProxyHeaders: f.portal.TrustProxy, ProxyHeader: f.portal.ProxyHeader, TrustedProxyHops: f.portal.ProxyHops,
		ShutdownTimeout: f.ShutdownTimeout, MailWorkers: f.MailWorkers}
	for _, h := range strings.Split(f.ForwardAuthHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.ForwardAuthHosts = append(cfg.ForwardAuthHosts, h)
		}
	}
	cfg.CaptiveVenueURL = f.CaptiveVenueURL
	if err := f.alarms.apply(&cfg); err != nil {
		return err
	}
	if cfg.RADIUSSecret, err = radiusSecret(f.RADIUSSecret); err != nil {
		return err
	}
	if f.Templates != "" {
		if st, err := os.Stat(f.Templates); err != nil || !st.IsDir() {
			return fmt.Errorf("%w: --templates %s is not a directory; give the directory that holds your NAME.subject.tmpl, NAME.txt.tmpl and NAME.html.tmpl files", errUsage, f.Templates)
		}
		cfg.Templates = os.DirFS(f.Templates)
	}
	if f.Dev {
		emu, err := exchangetest.Start(exchangetest.Options{Logger: logger.With("component", "exchangetest")})
		if err != nil {
			return fmt.Errorf("start the development emulator: %w", err)
		}
		defer emu.Close()
		settings := devmail.Settings(emu)
		cfg.MailSettings = func(context.Context) (notify.Settings, error) { return settings, nil }
		cfg.DevMailbox = devMailbox(emu)
		if err := devStaff(ctx, st, stdout, baseURL); err != nil {
			return err
		}
		logger.Warn("development mode: mail goes to the built-in Exchange Online emulator, not to real mailboxes",
			"token_endpoint", emu.TokenEndpointBase(), "smtp", net.JoinHostPort(emu.SMTPHost(), strconv.Itoa(emu.SMTPPort())))
	}
	l, err := lobby.New(cfg)
	if err != nil {
		return err
	}
	defer l.Close()

	srv := &http.Server{
		Handler:           l.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	runDone := make(chan error, 1)
	go func() { runDone <- l.Run(runCtx) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()
	if f.MetricsAddr != "" {
		mln, err := net.Listen("tcp", f.MetricsAddr)
		if err != nil {
			stopRun()
			<-runDone
			return fmt.Errorf("listen on --metrics-addr %s: %w", f.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", l.MetricsHandler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		logger.Info("metrics", "url", "http://"+displayAddr(mln.Addr())+"/metrics")
	}

	fmt.Fprintf(stdout, "\nLobby %s is running at %s\n", version, baseURL)
	fmt.Fprintf(stdout, "  guest portal:  %s/portal/\n", baseURL)
	if f.Dev {
		fmt.Fprintf(stdout, "  dev mailbox:   %s/dev/mailbox\n", baseURL)
	}
	fmt.Fprintf(stdout, "  health:        %s/healthz  %s/readyz\n", baseURL, baseURL)
	if cfg.RADIUSSecret != "" {
		fmt.Fprintf(stdout, "  radius:        %s/radius/ (for FreeRADIUS's rlm_rest; keep it on loopback or TLS)\n", baseURL)
	}
	fmt.Fprintf(stdout, "Press Ctrl+C to stop.\n\n")

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-serveDone:
	case serveErr = <-runDone:
		if serveErr == nil {
			serveErr = errors.New("background work stopped unexpectedly")
		}
	}
	logger.Info("shutting down", "timeout_ms", f.ShutdownTimeout.Milliseconds())
	// The background work stops along with the HTTP server, not after it:
	// the mail dispatcher has the whole timeout for the sends in flight,
	// then notify.InterruptGrace to record those it had to interrupt, so
	// that the next start sends them at once rather than after their lease.
	stopRun()
	shutCtx, cancel := context.WithTimeout(context.Background(), f.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Warn("http shutdown", "error", err.Error())
	}
	runWait := time.NewTimer(f.ShutdownTimeout + notify.InterruptGrace + time.Second)
	defer runWait.Stop()
	select {
	case err := <-runDone:
		if err != nil && serveErr == nil {
			serveErr = err
		}
	case <-runWait.C:
		logger.Warn("background work did not stop in time; unsent mail stays in the outbox for the next start")
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	logger.Info("stopped")
	return serveErr
}

// isLoopback reports whether a listener address is on the loopback network.
func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// displayAddr turns a listener address into one a browser can open.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
		}
		return a.String()
	}
	return tcp.String()
}

// devStaff makes sure the demo admin and sponsor exist, gives them a fresh
// password at every development start (so that it can always be printed)
// and prints where and how to sign in.
func devStaff(ctx context.Context, st storage.Store, stdout io.Writer, baseURL string) error {
	staff, err := lobby.EnsureDemoStaff(ctx, st)
	if err != nil {
		return err
	}
	for _, u := range staff {
		fmt.Fprintf(stdout, "demo %s: sign in at %s/sponsor/ with username %q and password %s (new at every --dev start)\n",
			u.Role, strings.TrimRight(baseURL, "/"), u.Username, u.Password)
	}
	return nil
}

// devMailbox shows the emulator's captured mail on /dev/mailbox, decoded by
// the emulator.
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
