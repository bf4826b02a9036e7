package notify

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// deliveryBundle is what a delivery test works with: an emulator, settings
// that are right for it, and a log that captures every line.
type deliveryBundle struct {
	srv      *exchangetest.Server
	settings Settings
	logs     *lockedBuffer
	logger   *slog.Logger
}

// deliverySetup starts an emulator and returns correct Exchange Online
// settings for its STARTTLS port, trusting its test CA.
func deliverySetup(t testing.TB, opts exchangetest.Options) *deliveryBundle {
	srv := exchangetest.NewServer(t, opts)
	logs := &lockedBuffer{}
	return &deliveryBundle{
		srv:    srv,
		logs:   logs,
		logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		settings: Settings{
			Host:              srv.SMTPHost(),
			Port:              srv.SMTPPort(),
			Security:          SecurityStartTLS,
			ConnTimeout:       10 * time.Second,
			From:              srv.Mailbox(),
			AuthMode:          AuthExchangeOnline,
			TenantID:          srv.Tenant(),
			ClientID:          srv.ClientID(),
			ClientSecret:      srv.ClientSecret(),
			TokenEndpointBase: srv.TokenEndpointBase(),
			TrustedCAPEM:      trustedPEM(srv),
			Version:           1,
		},
	}
}

// trustedPEM is the emulator's CA, or both its CAs when the token endpoint
// has one of its own.
func trustedPEM(srv *exchangetest.Server) string {
	if smtp, tok := srv.CACertPEM(), srv.TokenCACertPEM(); !bytes.Equal(smtp, tok) {
		return string(smtp) + string(tok)
	}
	return string(srv.CACertPEM())
}

// transport returns a transport logging to the bundle, closed at the end.
func (b *deliveryBundle) transport(t testing.TB, opts TransportOptions) *Transport {
	if opts.Logger == nil {
		opts.Logger = b.logger
	}
	tr := NewTransport(opts)
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func testEmail(subject string) *Email {
	return &Email{To: []string{"guest@example.net"}, Subject: subject, Text: "Your guest account is ready."}
}

// ctxT is a context that ends with the test, bounded to keep a hung
// exchange from hanging the run.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent log writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// silentServer accepts connections and never says anything: a dial to it
// succeeds and the wait for the SMTP greeting (or a TLS handshake) times out.
func silentServer(t testing.TB) (host string, port int) {
	a := silentListener(t).addr
	return a.IP.String(), a.Port
}

// silent is a listener that accepts TCP connections and never answers;
// accepted gets a value per connection (dropped when nobody reads it).
// Connections close when the test ends.
type silent struct {
	addr     *net.TCPAddr
	accepted chan struct{}
}

func silentListener(t testing.TB) *silent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silent{addr: ln.Addr().(*net.TCPAddr), accepted: make(chan struct{}, 16)}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case s.accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return s
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}
