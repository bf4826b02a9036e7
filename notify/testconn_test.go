package notify

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

func TestTestConnectionPasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		change   func(*Settings, *exchangetest.Server)
		tlsStep  string
		skipped  []string
		authUsed bool
	}{
		{name: "starttls", change: func(*Settings, *exchangetest.Server) {}, tlsStep: StepStartTLS, authUsed: true},
		{name: "implicit tls", tlsStep: StepTLS, authUsed: true, change: func(s *Settings, srv *exchangetest.Server) {
			s.Security, s.Port = SecurityTLS, srv.SMTPTLSPort()
		}},
		{name: "no auth", tlsStep: StepStartTLS, skipped: []string{StepToken, StepAuth}, change: func(s *Settings, _ *exchangetest.Server) {
			s.AuthMode = AuthNone
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := deliverySetup(t, exchangetest.Options{})
			s := b.settings
			tc.change(&s, b.srv)
			r := TestConnection(ctxT(t), s)
			if !r.OK() || r.Diagnosis != nil {
				t.Fatalf("report not OK:\n%s", r)
			}
			var names []string
			for _, st := range r.Steps {
				names = append(names, st.Name)
				want := StepOK
				if slices.Contains(tc.skipped, st.Name) {
					want = StepSkipped
				}
				if st.Outcome != want || st.Detail == "" {
					t.Errorf("step %s: %s %q, want %s with a detail", st.Name, st.Outcome, st.Detail, want)
				}
			}
			want := []string{StepSettings, StepResolve, StepDial, tc.tlsStep, StepToken, StepAuth}
			if !slices.Equal(names, want) {
				t.Errorf("steps %v, want %v", names, want)
			}
			if r.Total <= 0 || !strings.Contains(r.String(), "passed") {
				t.Errorf("total %v, text:\n%s", r.Total, r)
			}
			// No mail is sent; AUTH happened once when configured.
			if n := len(b.srv.Messages()); n != 0 {
				t.Errorf("%d messages sent by a connection test", n)
			}
			wantAuth := int64(0)
			if tc.authUsed {
				wantAuth = 1
			}
			if b.srv.AuthAttempts() != wantAuth || b.srv.SMTPConnections() != 1 {
				t.Errorf("AUTH attempts %d, connections %d", b.srv.AuthAttempts(), b.srv.SMTPConnections())
			}
			// A connection test never uses a cached token: a second one asks again.
			if tc.authUsed {
				if r := TestConnection(ctxT(t), s); !r.OK() || b.srv.TokenRequests() != 2 {
					t.Errorf("second test: OK=%v, token requests %d", r.OK(), b.srv.TokenRequests())
				}
			}
		})
	}
}

// With a proxy set, both the token request and the SMTP connection go
// through it (HTTP CONNECT).
func TestProxyCarriesTokenAndSMTP(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	proxyURL, targets := connectProxy(t)
	s := b.settings
	s.ProxyURL = proxyURL

	tr := b.transport(t, TransportOptions{})
	if err := tr.Send(ctxT(t), s, testEmail("via proxy")); err != nil {
		t.Fatalf("Send: %v (%s)", err, Diagnose(err))
	}
	r := TestConnection(ctxT(t), s)
	if !r.OK() {
		t.Fatalf("TestConnection:\n%s", r)
	}
	if st, _ := r.Step(StepResolve); st.Outcome != StepSkipped {
		t.Errorf("resolve step %s, want skipped (the proxy resolves)", st.Outcome)
	}
	u, _ := url.Parse(b.srv.TokenEndpointBase())
	smtpAddr := net.JoinHostPort(b.srv.SMTPHost(), strconv.Itoa(b.srv.SMTPPort()))
	got := targets()
	if !slices.Contains(got, u.Host) || !slices.Contains(got, smtpAddr) {
		t.Errorf("CONNECT targets %v, want %s and %s", got, u.Host, smtpAddr)
	}
}

// connectProxy is a minimal HTTP CONNECT proxy; targets lists what was asked.
func connectProxy(t testing.TB) (proxyURL string, targets func() []string) {
	return refusingProxy(t, nil)
}

// refusingProxy is connectProxy that answers a CONNECT with the status line
// refuse returns for its target, such as "407 Proxy Authentication
// Required", and tunnels when it returns "" (or refuse is nil).
func refusingProxy(t testing.TB, refuse func(target string) string) (proxyURL string, targets func() []string) {
	var mu sync.Mutex
	var seen []string
	var wg sync.WaitGroup
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil || req.Method != http.MethodConnect {
					_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
					return
				}
				mu.Lock()
				seen = append(seen, req.Host)
				mu.Unlock()
				if refuse != nil {
					if status := refuse(req.Host); status != "" {
						_, _ = io.WriteString(c, "HTTP/1.1 "+status+"\r\nContent-Length: 0\r\n\r\n")
						return
					}
				}
				up, err := net.Dial("tcp", req.Host)
				if err != nil {
					_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
					return
				}
				defer up.Close()
				_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				done := make(chan struct{})
				go func() { _, _ = io.Copy(up, c); _ = up.(*net.TCPConn).CloseWrite(); close(done) }()
				_, _ = io.Copy(c, up)
				_ = c.(*net.TCPConn).CloseWrite()
				<-done
			})
		}
	})
	return "http://" + ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}
