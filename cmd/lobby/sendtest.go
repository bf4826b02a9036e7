package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"time"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/notify"
)

// cmdSendTestEmail sends test emails the way Lobby sends every email: into
// the outbox, through the retry pool, and waits on each Future.
func cmdSendTestEmail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send-test-email", flag.ContinueOnError)
	var f smtpFlags
	if err := f.register(fs); err != nil {
		return err
	}
	to := fs.String("to", "", "recipient address (required)")
	count := fs.Int("count", 1, "how many test emails to send")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for the results")
	workers := fs.Int("workers", 8, "senders in the pool (connections at most)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, err := mail.ParseAddress(*to); err != nil || *to == "" {
		return fmt.Errorf("%w: send-test-email: --to must be an email address", errUsage)
	}
	if *count < 1 || *count > 10000 {
		return fmt.Errorf("%w: send-test-email: --count must be between 1 and 10000", errUsage)
	}
	logger, err := f.logger(stderr)
	if err != nil {
		return err
	}
	s, emu, err := f.settings(ctx, stderr)
	if err != nil {
		return err
	}
	if emu != nil {
		defer emu.Close()
	}
	key, err := f.key(stderr)
	if err != nil {
		return err
	}
	st, err := lobby.OpenStore(ctx, f.database(), key)
	if err != nil {
		return err
	}
	defer st.Close()

	transport := notify.NewTransport(notify.TransportOptions{PoolSize: *workers, Logger: logger})
	defer transport.Close()
	d, err := notify.NewDispatcher(notify.DispatcherConfig{
		Store:    st,
		Settings: func(context.Context) (notify.Settings, error) { return s, nil },
		Sender:   transport,
		Workers:  *workers,
		Logger:   logger,
	})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(runCtx) }()
	defer func() { stop(); <-runDone }()

	renderer, err := notify.NewRenderer(nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Sending %d test email(s) to %s through %s (%s, auth %s)\n", *count, *to, s.Addr(), s.Security, s.AuthMode)
	start := time.Now()
	futures := make([]*notify.Future, *count)
	for i := range futures {
		subject, text, html, err := renderer.Render("test_email", map[string]any{"SiteName": "Lobby", "SentAt": time.Now()})
		if err != nil {
			return err
		}
		if *count > 1 {
			subject = fmt.Sprintf("%s (%d of %d)", subject, i+1, *count)
		}
		futures[i] = d.Submit(ctx, notify.Message{Kind: "admin.test", To: []string{*to}, Subject: subject, Text: text, HTML: html})
	}
	fmt.Fprintf(stdout, "Submitted in %s; waiting for the results (up to %s)\n", time.Since(start).Round(time.Millisecond), *wait)

	waitCtx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	tally := map[notify.Status]int{}
	var first *notify.Result
	for i, fut := range futures {
		r := fut.Wait(waitCtx)
		tally[r.Status]++
		if *count <= 20 || r.Status != notify.StatusSent {
			fmt.Fprintf(stdout, "  %d: %s after %d attempt(s), %s\n", i+1, r.Status, r.Attempts, r.Took.Round(time.Millisecond))
		}
		if r.Status != notify.StatusSent && first == nil {
			first = &r
		}
	}
	took := time.Since(start)
	stats := transport.Stats()
	fmt.Fprintf(stdout, "\n%d sent, %d deferred, %d failed, %d pending in %s (%.1f messages/s); %d SMTP connection(s) opened\n",
		tally[notify.StatusSent], tally[notify.StatusDeferred], tally[notify.StatusFailed], tally[notify.StatusPending],
		took.Round(time.Millisecond), float64(*count)/took.Seconds(), stats.Opened)
	if emu != nil {
		fmt.Fprintf(stdout, "The emulator captured %d message(s) and answered %d token request(s).\n", len(emu.Messages()), emu.TokenRequests())
	}
	if first == nil {
		return nil
	}
	if d := first.Diagnosis; d != nil {
		fmt.Fprintf(stdout, "\n%s: %s\n", d.Code, d.Message)
		if d.Detail != "" {
			fmt.Fprintf(stdout, "Details: %s\n", d.Detail)
		}
		if d.Hint != "" {
			fmt.Fprintf(stdout, "What to do: %s\n", d.Hint)
		}
	}
	if first.Status == notify.StatusDeferred || first.Status == notify.StatusPending {
		fmt.Fprintln(stdout, "Deferred and pending messages stay in the outbox; a running Lobby keeps retrying them.")
	}
	logger.Debug("send-test-email done", slog.Int("count", *count))
	return fmt.Errorf("not every test email was sent")
}
