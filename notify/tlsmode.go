package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// A security setting that does not match the port fails in one of two ways,
// told apart here so that [Diagnose] can say so instead of "unknown" or
// "timed out":
//
//   - Security tls on a STARTTLS port (587): the server greets in plain text
//     while Lobby starts a TLS handshake ([ErrServerNotTLS]);
//   - Security starttls on an implicit-TLS port (465): both sides wait, the
//     server for a TLS handshake and Lobby for the greeting, until the
//     timeout ([NoGreetingError]).

// ErrServerNotTLS means the server answered the TLS handshake of implicit TLS
// in plain text: it is a plain-text or STARTTLS port.
var ErrServerNotTLS = errors.New("notify: smtp: the server answered the TLS handshake in plain text")

// implicitTLSPort is the conventional port of SMTP submission over implicit TLS.
const implicitTLSPort = 465

// NoGreetingError means the server accepted the TCP connection but sent no
// SMTP greeting within the timeout. On the implicit-TLS port, or when the
// server answered a TLS handshake on a new connection (SpeaksTLS), the
// security setting does not match the port.
type NoGreetingError struct {
	Addr    string
	Port    int
	Timeout time.Duration
	// SpeaksTLS: a second connection to Addr completed a TLS handshake, or
	// got as far as the server's certificate.
	SpeaksTLS bool
	Err       error // the read timeout
}

func (e *NoGreetingError) Error() string {
	s := fmt.Sprintf("no SMTP greeting within %s from %s", e.Timeout, e.Addr)
	switch {
	case e.SpeaksTLS:
		s += "; it answers a TLS handshake (implicit TLS)"
	case e.Port == implicitTLSPort:
		s += ", the implicit-TLS port"
	}
	return s
}

// Unwrap returns the read timeout.
func (e *NoGreetingError) Unwrap() error { return e.Err }

// tlsMismatch reports whether the missing greeting is a security setting
// that does not match the port.
func (e *NoGreetingError) tlsMismatch() bool { return e.SpeaksTLS || e.Port == implicitTLSPort }

// greetingConn turns a read timeout before the server sent anything into a
// *NoGreetingError. After the first byte it only passes reads through.
type greetingConn struct {
	net.Conn
	addr    string
	port    int
	timeout time.Duration
	greeted atomic.Bool
}

func watchGreeting(c net.Conn, addr string, timeout time.Duration) *greetingConn {
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return &greetingConn{Conn: c, addr: addr, port: port, timeout: timeout}
}

func (c *greetingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.greeted.Store(true)
	}
	if err != nil && n == 0 && !c.greeted.Load() {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, &NoGreetingError{Addr: c.addr, Port: c.port, Timeout: c.timeout, Err: err}
		}
	}
	return n, err
}

// handshakeError wraps a failed implicit-TLS handshake, marking a server
// that answered in plain text.
func handshakeError(err error) error {
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) {
		return fmt.Errorf("tls handshake: %w: %w", ErrServerNotTLS, err)
	}
	return fmt.Errorf("tls handshake: %w", err)
}

// probeTLS tells whether the server at addr speaks TLS from the first byte:
// it opens a new connection (through the proxy, if any) and tries a TLS
// handshake, bounded by the connection timeout within 1 to 5 seconds. A
// certificate or alert error counts as TLS: the server answered in TLS.
func (d *smtpDialer) probeTLS(ctx context.Context, addr string, cfg *tls.Config) bool {
	ctx, cancel := context.WithTimeout(ctx, min(max(d.timeout, time.Second), 5*time.Second))
	defer cancel()
	c, err := d.dialTCP(ctx, addr)
	if err != nil {
		return false
	}
	defer c.Close()
	err = tls.Client(c, cfg).HandshakeContext(ctx)
	if err == nil {
		return true
	}
	var (
		alert tls.AlertError
		cve   *tls.CertificateVerificationError
		ua    x509.UnknownAuthorityError
		hn    x509.HostnameError
		ci    x509.CertificateInvalidError
	)
	return errors.As(err, &alert) || errors.As(err, &cve) || errors.As(err, &ua) ||
		errors.As(err, &hn) || errors.As(err, &ci)
}

// noGreeting probes the server after a missing greeting, so that the error
// says whether the port speaks implicit TLS. It returns err.
func (d *smtpDialer) noGreeting(ctx context.Context, err error, cfg *tls.Config) error {
	var nge *NoGreetingError
	if errors.As(err, &nge) {
		nge.SpeaksTLS = d.probeTLS(ctx, nge.Addr, cfg)
	}
	return err
}
