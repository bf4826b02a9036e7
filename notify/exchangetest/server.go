package exchangetest

import (
	"cmp"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Options configures a Server. The zero value is ready to use.
type Options struct {
	TokenLifetime time.Duration    // default 3599s; tests shorten it
	Logger        *slog.Logger     // default discard
	Now           func() time.Time // default time.Now (token exp checks and issuance)
	// SeparateTokenCA has the token endpoint's certificate signed by a CA of its own
	// (TokenCACertPEM), so that a client can trust the SMTP server and not the token
	// endpoint, or the other way round. Default: one CA signs both.
	SeparateTokenCA bool
}

// Server is a running emulator: an HTTPS token endpoint and two SMTP ports (STARTTLS
// submission and implicit TLS), all on 127.0.0.1, sharing one model of tenants, apps and
// mailboxes, one set of faults and one captured mailbox.
type Server struct {
	opts   Options
	log    *slog.Logger
	ca     *testCA // signs the SMTP certificate
	tokCA  *testCA // signs the token endpoint's certificate: ca unless Options.SeparateTokenCA
	signer *signer
	model  *model
	faults faults
	inbox  *inbox
	stats  struct {
		tokenRequests, tokensIssued, smtpConnections, authAttempts, limitRefusals atomic.Int64
	}
	conns mailboxConns

	tenantID, clientID, mailbox string // the ready-made set-up

	httpSrv                 *http.Server
	smtpSrv                 *smtp.Server
	httpLn, smtpLn, smtpsLn net.Listener
	tokenBase               string
	smtpPort, smtpTLSPort   int
	serving                 sync.WaitGroup
	closeOnce               sync.Once
	closeErr                error
}

// Start generates the test CA and the token signing key, seeds the ready-made set-up and
// starts listening on 127.0.0.1 (random ports). Close it when done.
func Start(opts Options) (*Server, error) {
	opts.TokenLifetime = cmp.Or(opts.TokenLifetime, 3599*time.Second)
	if opts.TokenLifetime < time.Second {
		return nil, fmt.Errorf("exchangetest: Options.TokenLifetime must be at least 1s, got %v", opts.TokenLifetime)
	}
	opts.Logger = cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ca, err := newTestCA()
	if err != nil {
		return nil, fmt.Errorf("exchangetest: %w", err)
	}
	tokCA := ca
	if opts.SeparateTokenCA {
		if tokCA, err = newTestCA(); err != nil {
			return nil, fmt.Errorf("exchangetest: %w", err)
		}
	}
	sig, err := newSigner()
	if err != nil {
		return nil, fmt.Errorf("exchangetest: %w", err)
	}
	s := &Server{opts: opts, log: opts.Logger, ca: ca, tokCA: tokCA, signer: sig, model: newModel(), inbox: newInbox()}
	s.seed()

	var lns [3]net.Listener
	for i := range lns {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			for _, l := range lns[:i] {
				l.Close()
			}
			return nil, fmt.Errorf("exchangetest: listen: %w", err)
		}
	}
	s.httpLn = tls.NewListener(lns[0], tokCA.serverTLS())
	s.smtpLn = smtpListener{lns[1], s}
	s.smtpsLn = tls.NewListener(smtpListener{lns[2], s}, ca.serverTLS())
	s.tokenBase = "https://" + lns[0].Addr().String()
	s.smtpPort = lns[1].Addr().(*net.TCPAddr).Port
	s.smtpTLSPort = lns[2].Addr().(*net.TCPAddr).Port

	mux := http.NewServeMux()
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.handleToken)
	s.httpSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.smtpSrv = s.newSMTPServer()
	s.serve(func() error { return s.httpSrv.Serve(s.httpLn) })
	s.serve(func() error { return s.smtpSrv.Serve(s.smtpLn) })
	s.serve(func() error { return s.smtpSrv.Serve(s.smtpsLn) })
	s.log.Info("exchangetest: started", "token_endpoint", s.tokenBase, "smtp_port", s.smtpPort, "smtps_port", s.smtpTLSPort)
	return s, nil
}

func (s *Server) serve(run func() error) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := run(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("exchangetest: server stopped", "err", err)
		}
	}()
}

// seed creates the ready-made, correctly configured set-up: a tenant, an app with a
// secret, its service principal, FullAccess on the no-reply mailbox, SMTP AUTH on.
func (s *Server) seed() {
	s.tenantID, s.clientID, s.mailbox = newGUID(), newGUID(), "no-reply@contoso.onmicrosoft.com"
	s.model.defaultTenant = s.tenantID
	s.AddTenant(s.tenantID, "contoso.onmicrosoft.com")
	s.AddApp(s.tenantID, s.clientID, newClientSecret())
	s.SetServicePrincipal(s.clientID, true)
	s.AddMailbox(s.mailbox)
	s.SetMailboxPermission(s.clientID, s.mailbox, true)
}

// NewServer starts a Server for a test and closes it when the test ends.
func NewServer(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := Start(opts)
	if err != nil {
		tb.Fatalf("exchangetest.NewServer: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("exchangetest: close: %v", err)
		}
	})
	return s
}

// Close stops the listeners and closes every open connection. It is safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		err := s.httpSrv.Close()
		if serr := s.smtpSrv.Close(); !errors.Is(serr, net.ErrClosed) {
			err = errors.Join(err, serr)
		}
		// A Serve goroutine that had not yet registered its listener still needs it closed.
		for _, l := range []net.Listener{s.httpLn, s.smtpLn, s.smtpsLn} {
			if lerr := l.Close(); !errors.Is(lerr, net.ErrClosed) {
				err = errors.Join(err, lerr)
			}
		}
		s.serving.Wait()
		if err != nil {
			s.closeErr = fmt.Errorf("exchangetest: close: %w", err)
		}
	})
	return s.closeErr
}

func (s *Server) now() time.Time { return s.opts.Now() }

// TokenEndpointBase is the token endpoint's base URL, such as "https://127.0.0.1:41234";
// clients post to {base}/{tenant}/oauth2/v2.0/token.
func (s *Server) TokenEndpointBase() string { return s.tokenBase }

// SMTPHost is the SMTP host, "127.0.0.1".
func (s *Server) SMTPHost() string { return "127.0.0.1" }

// SMTPPort is the submission port with STARTTLS (Exchange Online's 587).
func (s *Server) SMTPPort() int { return s.smtpPort }

// SMTPTLSPort is the implicit-TLS port (465).
func (s *Server) SMTPTLSPort() int { return s.smtpTLSPort }

// CACertPEM is the PEM of the test CA that signed the SMTP servers' certificate, and the
// token endpoint's too unless Options.SeparateTokenCA (SANs 127.0.0.1, ::1, localhost).
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.ca.certPEM...) }

// CertPool is a pool holding only the test CA of CACertPEM.
func (s *Server) CertPool() *x509.CertPool { return s.ca.pool.Clone() }

// TokenCACertPEM is the PEM of the test CA that signed the token endpoint's certificate:
// the same as CACertPEM unless Options.SeparateTokenCA.
func (s *Server) TokenCACertPEM() []byte { return append([]byte(nil), s.tokCA.certPEM...) }

// TokenCertPool is a pool holding only the test CA of TokenCACertPEM.
func (s *Server) TokenCertPool() *x509.CertPool { return s.tokCA.pool.Clone() }

// TokenSigningKey is the public key access tokens are signed with (RS256).
func (s *Server) TokenSigningKey() *rsa.PublicKey { return &s.signer.key.PublicKey }

// Tenant is the ready-made tenant's ID (a GUID); its domain is contoso.onmicrosoft.com.
func (s *Server) Tenant() string { return s.tenantID }

// ClientID is the ready-made app's client (application) ID.
func (s *Server) ClientID() string { return s.clientID }

// ClientSecret is the ready-made app's current client secret value (40 characters).
func (s *Server) ClientSecret() string { a, _ := s.model.app(s.clientID); return a.secret }

// SecretID is the ID of the ready-made app's secret. Sent instead of the value, as people
// do by mistake, it gets AADSTS7000215.
func (s *Server) SecretID() string { a, _ := s.model.app(s.clientID); return a.secretID }

// Mailbox is the ready-made mailbox, "no-reply@contoso.onmicrosoft.com".
func (s *Server) Mailbox() string { return s.mailbox }

// TokenRequests counts every POST to the token endpoint, successful or not.
func (s *Server) TokenRequests() int64 { return s.stats.tokenRequests.Load() }

// TokensIssued counts the access tokens issued.
func (s *Server) TokensIssued() int64 { return s.stats.tokensIssued.Load() }

// SMTPConnections counts the TCP connections accepted on both SMTP ports, dropped ones too.
func (s *Server) SMTPConnections() int64 { return s.stats.smtpConnections.Load() }

// ConnectionLimitRefusals counts the MAIL FROM commands refused under SetConnectionLimit.
func (s *Server) ConnectionLimitRefusals() int64 { return s.stats.limitRefusals.Load() }

// OpenConnections is the number of connections authenticated as mailbox and open now.
func (s *Server) OpenConnections(mailbox string) int { return s.conns.open(mailbox) }

// AuthAttempts counts AUTH commands that reached a mechanism (XOAUTH2 or LOGIN).
func (s *Server) AuthAttempts() int64 { return s.stats.authAttempts.Load() }
