package lobby

import (
	"context"
	"net"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// hangingSMTP is an SMTP server that takes a message and never answers its
// end of data: a send to it runs until it is cancelled. accepted gets a
// value once a message's data has been sent.
func hangingSMTP(t *testing.T) (port int, accepted <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	serve := func(c net.Conn) {
		tc := textproto.NewConn(c)
		_ = tc.PrintfLine("220 hang.example ESMTP")
		for {
			line, err := tc.ReadLine()
			if err != nil {
				return
			}
			switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
			case "EHLO", "HELO":
				_ = tc.PrintfLine("250 hang.example")
			case "DATA":
				_ = tc.PrintfLine("354 go ahead")
				if _, err := tc.ReadDotBytes(); err != nil {
					return
				}
				select {
				case ch <- struct{}{}:
				default:
				}
				// No answer: the sender waits until it gives up.
			case "QUIT":
				_ = tc.PrintfLine("221 bye")
				return
			default:
				_ = tc.PrintfLine("250 ok")
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port, ch
}

// Config.ShutdownTimeout reaches the dispatcher New builds: a send still
// running when Run's ctx ends is interrupted after it (not after the
// dispatcher's default of 30s) and recorded as interrupted, so the next
// start sends the message at once instead of after its lease.
func TestRunInterruptsSendsAfterShutdownTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	port, accepted := hangingSMTP(t)
	key := newKey(t)
	st, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "lobby.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	settings := notify.Settings{Host: "127.0.0.1", Port: port, Security: notify.SecurityNone, AuthMode: notify.AuthNone,
		From: "lobby@example.com"}
	l, err := New(Config{Store: st, BaseURL: "https://wifi.example.com/guest", SecretKey: key, Logger: testLogger(t),
		MailSettings:    func(context.Context) (notify.Settings, error) { return settings, nil },
		ShutdownTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	f := l.Dispatcher().Submit(t.Context(), notify.Message{Kind: "admin.test", To: []string{"ada@example.net"},
		Subject: "Hello", Text: "Hello."})
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the send never reached the SMTP server")
	}
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(timeout + notify.InterruptGrace + 5*time.Second):
		t.Fatalf("Run did not return within ShutdownTimeout (%v) + InterruptGrace: the timeout did not reach the dispatcher", timeout)
	}
	took := time.Since(stopped)
	m, err := st.GetMail(t.Context(), f.ID())
	if err != nil {
		t.Fatal(err)
	}
	if m.Status == storage.MailSending || m.Diagnosis != notify.CodeCanceled || m.Attempts != 0 {
		t.Errorf("after the shutdown the message is %s (%q) after %d attempts, want postponed as interrupted, no attempt used",
			m.Status, m.Diagnosis, m.Attempts)
	}
	t.Logf("Run returned %v after its ctx ended (ShutdownTimeout %v)", took.Round(time.Millisecond), timeout)
}
