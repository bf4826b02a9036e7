package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wneessen/go-mail/smtp"
)

// StepOutcome is how one step of a connection test ended.
type StepOutcome string

// The step outcomes.
const (
	StepOK      StepOutcome = "ok"
	StepFailed  StepOutcome = "failed"
	StepSkipped StepOutcome = "skipped"
)

// Step names of a connection test, in order. The encryption step is named
// "starttls" or "tls" after the settings' security.
const (
	StepSettings = "settings"
	StepResolve  = "resolve"
	StepDial     = "dial"
	StepStartTLS = "starttls"
	StepTLS      = "tls"
	StepToken    = "token"
	StepAuth     = "auth"
)

// Step is one step of a connection test.
type Step struct {
	Name     string        `json:"name"`
	Outcome  StepOutcome   `json:"outcome"`
	Duration time.Duration `json:"duration"`
	// Detail says what happened (never a secret).
	Detail string `json:"detail,omitempty"`
}

// Report is the result of [TestConnection].
type Report struct {
	Steps []Step        `json:"steps"`
	Total time.Duration `json:"total"`
	// Diagnosis explains the failure; nil when every step passed.
	Diagnosis *Diagnosis `json:"diagnosis,omitempty"`
	// Err is the failure itself, for logs (no secrets).
	Err error `json:"-"`
}

// OK reports whether no step failed.
func (r Report) OK() bool {
	if r.Diagnosis != nil || r.Err != nil || len(r.Steps) == 0 {
		return false
	}
	for _, s := range r.Steps {
		if s.Outcome == StepFailed {
			return false
		}
	}
	return true
}

// Step returns the step with that name.
func (r Report) Step(name string) (Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return Step{}, false
}

// String renders the report as a small table and a verdict, for the
// test-connection command.
func (r Report) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, s := range r.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Outcome, s.Duration.Round(time.Millisecond), s.Detail)
	}
	_ = tw.Flush()
	if r.OK() {
		fmt.Fprintf(&b, "Connection test passed in %s.\n", r.Total.Round(time.Millisecond))
		return b.String()
	}
	fmt.Fprintf(&b, "Connection test failed after %s.\n", r.Total.Round(time.Millisecond))
	if d := r.Diagnosis; d != nil {
		fmt.Fprintf(&b, "%s: %s\n", d.Code, d.Message)
		if d.Detail != "" {
			fmt.Fprintf(&b, "Details: %s\n", d.Detail)
		}
		if d.Hint != "" {
			fmt.Fprintf(&b, "What to do: %s\n", d.Hint)
		}
	}
	return b.String()
}

// TestConnection checks the settings step by step, the way a send would
// use them, without sending mail: resolve the host, connect, encrypt
// (STARTTLS or TLS), get a new access token (never a cached one), AUTH, QUIT.
// The admin page saves SMTP settings only after a report that is OK.
func TestConnection(ctx context.Context, s Settings) Report {
	t := &connTest{start: time.Now()}
	s = s.WithDefaults()
	t.run(ctx, s)
	return t.report()
}

type connTest struct {
	start time.Time
	steps []Step
	err   error
}

func (t *connTest) report() Report {
	r := Report{Steps: t.steps, Total: time.Since(t.start), Err: t.err}
	if t.err != nil {
		d := Diagnose(t.err)
		r.Diagnosis = &d
	}
	return r
}

// step runs fn as the named step unless an earlier one failed.
func (t *connTest) step(name string, fn func() (detail string, err error)) bool {
	if t.err != nil {
		t.steps = append(t.steps, Step{Name: name, Outcome: StepSkipped, Detail: "an earlier step failed"})
		return false
	}
	start := time.Now()
	detail, err := fn()
	st := Step{Name: name, Outcome: StepOK, Duration: time.Since(start), Detail: detail}
	switch {
	case errors.Is(err, errSkip):
		st.Outcome = StepSkipped
	case err != nil:
		st.Outcome = StepFailed
		st.Detail = Diagnose(err).Detail
		if st.Detail == "" {
			st.Detail = firstLine(err.Error())
		}
		t.err = err
	}
	t.steps = append(t.steps, st)
	return err == nil
}

// errSkip marks a step that does not apply to the settings.
var errSkip = errors.New("skipped")

func (t *connTest) run(ctx context.Context, s Settings) {
	var (
		p      *profile
		conn   net.Conn
		client *smtp.Client
	)
	defer func() {
		if client != nil {
			_ = client.Close()
		}
		if conn != nil {
			_ = conn.Close()
		}
	}()
	deadline := func() { _ = conn.SetDeadline(time.Now().Add(s.ConnTimeout)) }

	t.step(StepSettings, func() (string, error) {
		if err := refuseInsecure(s); err != nil {
			return "", err
		}
		var err error
		if p, err = newProfile(s, ""); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s, %s, auth %s", s.Addr(), s.Security, s.AuthMode), nil
	})

	t.step(StepResolve, func() (string, error) {
		if p.dialer.proxy != nil {
			return "resolved by the proxy " + redactURL(s.ProxyURL), errSkip
		}
		rctx, cancel := context.WithTimeout(ctx, s.ConnTimeout)
		defer cancel()
		addrs, err := resolve(rctx, s.Host)
		if err != nil {
			return "", err
		}
		return strings.Join(addrs, ", "), nil
	})

	greet := func() (string, error) {
		deadline()
		c, err := smtp.NewClient(conn, s.Host)
		if err != nil {
			return "", fmt.Errorf("notify: smtp: greeting from %s: %w", s.Addr(), err)
		}
		client = c
		if err := client.Hello(heloName()); err != nil {
			return "", fmt.Errorf("notify: smtp: EHLO: %w", err)
		}
		return "", nil
	}

	t.step(StepDial, func() (string, error) {
		dctx, cancel := context.WithTimeout(ctx, s.ConnTimeout)
		defer cancel()
		c, err := p.dialer.dialTCP(dctx, s.Addr())
		if err != nil {
			return "", fmt.Errorf("notify: smtp: dial %s: %w", s.Addr(), err)
		}
		conn = c
		detail := "connected to " + c.RemoteAddr().String()
		if p.dialer.proxy != nil {
			detail = "connected to " + s.Addr() + " through the proxy"
		}
		if s.Security == SecurityTLS {
			return detail, nil
		}
		conn = watchGreeting(c, s.Addr(), s.ConnTimeout)
		if _, err := greet(); err != nil {
			return "", p.dialer.noGreeting(ctx, err, p.tls)
		}
		return detail + "; the server greeted and answered EHLO", nil
	})

	switch s.Security {
	case SecurityTLS:
		t.step(StepTLS, func() (string, error) {
			deadline()
			tc := tls.Client(conn, p.tls)
			hctx, cancel := context.WithTimeout(ctx, s.ConnTimeout)
			defer cancel()
			if err := tc.HandshakeContext(hctx); err != nil {
				return "", fmt.Errorf("notify: smtp: with %s: %w", s.Addr(), handshakeError(err))
			}
			conn = tc
			if _, err := greet(); err != nil {
				return "", err
			}
			return tlsDetail(tc.ConnectionState()), nil
		})
	default:
		t.step(StepStartTLS, func() (string, error) {
			if s.Security == SecurityNone {
				return "security is none: the connection stays unencrypted", errSkip
			}
			if ok, _ := client.Extension("STARTTLS"); !ok {
				return "", fmt.Errorf("%w (EHLO from %s did not list it)", ErrStartTLSUnavailable, s.Addr())
			}
			deadline()
			if err := client.StartTLS(p.tls); err != nil {
				return "", fmt.Errorf("notify: smtp: STARTTLS with %s: %w", s.Addr(), err)
			}
			state, _ := client.TLSConnectionState()
			return tlsDetail(state), nil
		})
	}

	var token string
	t.step(StepToken, func() (string, error) {
		if s.AuthMode != AuthExchangeOnline {
			return "auth is " + string(s.AuthMode) + ": no token needed", errSkip
		}
		tok, err := fetchToken(ctx, s, slog.New(slog.DiscardHandler))
		if err != nil {
			return "", err
		}
		token = tok.AccessToken
		return fmt.Sprintf("token issued by %s for %s, valid for %s",
			hostOf(s.TokenURL()), ExchangeOnlineScope, time.Until(tok.Expiry).Round(time.Second)), nil
	})

	t.step(StepAuth, func() (string, error) {
		var a smtp.Auth
		switch s.AuthMode {
		case AuthExchangeOnline:
			a = &xoauth2Auth{user: s.AuthUser(), token: token}
		case AuthPassword:
			a = &passwordAuth{user: s.AuthUser(), pass: s.Password}
		default:
			return "auth is none", errSkip
		}
		deadline()
		if err := client.Auth(a); err != nil {
			client = nil // go-mail ended the session after the failure
			return "", &authModeError{mode: s.AuthMode, err: fmt.Errorf("notify: smtp: AUTH as %s: %w", s.AuthUser(), err)}
		}
		return "authenticated as " + s.AuthUser(), nil
	})

	if t.err == nil && client != nil {
		deadline()
		if err := client.Quit(); err == nil {
			client = nil
		}
	}
}

func tlsDetail(st tls.ConnectionState) string {
	d := tls.VersionName(st.Version)
	if len(st.PeerCertificates) > 0 {
		c := st.PeerCertificates[0]
		d += fmt.Sprintf(", certificate for %s issued by %s, valid until %s",
			certName(c.Subject.CommonName, c.DNSNames), c.Issuer.CommonName, c.NotAfter.Format(time.DateOnly))
	}
	return d
}

func certName(cn string, dns []string) string {
	if cn != "" {
		return cn
	}
	if len(dns) > 0 {
		return dns[0]
	}
	return "?"
}

func hostOf(rawURL string) string {
	rest, ok := strings.CutPrefix(rawURL, "https://")
	if !ok {
		return rawURL
	}
	host, _, _ := strings.Cut(rest, "/")
	return host
}

func heloName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}
