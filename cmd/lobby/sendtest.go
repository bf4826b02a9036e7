package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
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
	workers := fs.Int("workers", notify.DefaultWorkers, "senders in the pool (connections at most; Exchange Online allows 3 per mailbox)")
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
		Store:           st,
		Settings:        func(context.Context) (notify.Settings, error) { return s, nil },
		Sender:          transport,
		Workers:         *workers,
		Logger:          logger,
		ShutdownTimeout: sendTestShutdown,
	})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(runCtx) }()
	var stopOnce sync.Once
	stopDispatcher := func() {
		stopOnce.Do(func() {
			stop()
			if err := <-runDone; err != nil {
				logger.Debug("send-test-email: dispatcher stopped late", "error", err.Error())
			}
		})
	}
	defer stopDispatcher()

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
	ids := make([]uuid.UUID, len(futures))
	firsts := make([]notify.Result, len(futures))
	for i, fut := range futures {
		ids[i] = fut.ID()
		firsts[i] = fut.Wait(waitCtx)
	}
	// A Future completes with the first outcome; a deferred message may
	// still go out on a later attempt. Follow the outbox until every
	// message is sent or failed, or the wait is over.
	final := followOutbox(waitCtx, st, ids)
	// Then stop the dispatcher, so that no send is still running (those in
	// flight finish or are interrupted and recorded), and count what the
	// outbox says: every message once, as it stands when we exit.
	stopDispatcher()
	readCtx, cancelRead := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancelRead()
	final = outboxStatus(readCtx, st, ids, final)
	took := time.Since(start)

	tally := map[storage.MailStatus]int{}
	var first *notify.Result
	for i, id := range ids {
		m := final[id]
		status := storage.MailStatus("unknown")
		attempts := firsts[i].Attempts
		if m != nil {
			status, attempts = m.Status, m.Attempts
		}
		tally[status]++
		if *count <= 20 || status != storage.MailSent {
			fmt.Fprintf(stdout, "  %d: %s after %d attempt(s); first outcome %s after %s\n", i+1, status, attempts,
				firsts[i].Status, firsts[i].Took.Round(time.Millisecond))
		}
		if status != storage.MailSent && first == nil {
			r := firsts[i]
			first = &r
		}
	}
	stats := transport.Stats()
	fmt.Fprintf(stdout, "\n%d sent, %d deferred, %d failed, %d pending in %s (%.1f messages/s); %d SMTP connection(s) opened\n",
		tally[storage.MailSent], tally[storage.MailDeferred], tally[storage.MailDead],
		*count-tally[storage.MailSent]-tally[storage.MailDeferred]-tally[storage.MailDead],
		took.Round(time.Millisecond), float64(tally[storage.MailSent])/took.Seconds(), stats.Opened)
	if emu != nil {
		ours := 0
		for _, m := range emu.Messages() {
			if _, ok := final[capturedOutboxID(m.Data)]; ok {
				ours++
			}
		}
		fmt.Fprintf(stdout, "The emulator captured %d of these message(s) and answered %d token request(s).\n", ours, emu.TokenRequests())
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
	if tally[storage.MailSent]+tally[storage.MailDead] < *count {
		fmt.Fprintln(stdout, "Deferred and pending messages stay in the outbox; a running Lobby keeps retrying them.")
	}
	logger.Debug("send-test-email done", slog.Int("count", *count))
	return fmt.Errorf("not every test email was sent")
}

// sendTestShutdown bounds how long send-test-email lets the sends in flight
// finish once its wait is over; those still running are interrupted.
const sendTestShutdown = 10 * time.Second

// followOutbox reads the outbox every followEvery until each message is
// sent or dead, or ctx ends, and returns the last rows it read (a message
// whose read failed is missing).
func followOutbox(ctx context.Context, st storage.Store, ids []uuid.UUID) map[uuid.UUID]*storage.OutboxMessage {
	rows := make(map[uuid.UUID]*storage.OutboxMessage, len(ids))
	t := time.NewTicker(followEvery)
	defer t.Stop()
	for {
		open := 0
		for _, id := range ids {
			if m := rows[id]; m != nil && (m.Status == storage.MailSent || m.Status == storage.MailDead) {
				continue
			}
			if m, err := st.GetMail(ctx, id); err == nil {
				rows[id] = m
			}
			if m := rows[id]; m == nil || (m.Status != storage.MailSent && m.Status != storage.MailDead) {
				open++
			}
		}
		if open == 0 {
			return rows
		}
		select {
		case <-ctx.Done():
			return rows
		case <-t.C:
		}
	}
}

// followEvery is how often send-test-email reads the outbox while it waits.
const followEvery = 250 * time.Millisecond

// outboxStatus reads the rows of the messages not sent or dead in rows
// again, once; a message whose read fails keeps its last row.
func outboxStatus(ctx context.Context, st storage.Store, ids []uuid.UUID, rows map[uuid.UUID]*storage.OutboxMessage) map[uuid.UUID]*storage.OutboxMessage {
	for _, id := range ids {
		if m := rows[id]; m != nil && (m.Status == storage.MailSent || m.Status == storage.MailDead) {
			continue
		}
		if m, err := st.GetMail(ctx, id); err == nil {
			rows[id] = m
		} else if _, ok := rows[id]; !ok {
			rows[id] = nil
		}
	}
	return rows
}

// capturedOutboxID is the outbox ID in the Message-ID the dispatcher gave a
// raw message (<outbox ID>@domain), or uuid.Nil.
func capturedOutboxID(data []byte) uuid.UUID {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return uuid.Nil
	}
	local, _, _ := strings.Cut(strings.Trim(strings.TrimSpace(msg.Header.Get("Message-Id")), "<>"), "@")
	id, err := uuid.Parse(local)
	if err != nil {
		return uuid.Nil
	}
	return id
}
