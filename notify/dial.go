package notify

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/proxy"
)

// rootCAs is the system pool plus the extra CAs of the settings.
func rootCAs(extraPEM string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if strings.TrimSpace(extraPEM) == "" {
		return pool, nil
	}
	certs, err := parseCAPEM(extraPEM)
	if err != nil {
		return nil, fmt.Errorf("notify: trusted certificates: %w", err)
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// smtpTLSConfig verifies the SMTP server against roots under its host name.
func smtpTLSConfig(host string, roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		ServerName: strings.TrimSuffix(host, "."),
		RootCAs:    roots,
		MinVersion: tls.VersionTLS12,
	}
}

// proxyURL parses Settings.ProxyURL; nil when unset.
func proxyURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("notify: proxy: %q is not a URL such as http://proxy:3128", redactURL(raw))
	}
	return u, nil
}

// isReservedInvalid reports names under the .invalid TLD, which RFC 6761
// guarantees never resolve; they fail at once, without a DNS round trip.
func isReservedInvalid(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "invalid" || strings.HasSuffix(h, ".invalid")
}

func notFound(host string) error {
	return &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// resolve looks a host up (an IP literal resolves to itself).
func resolve(ctx context.Context, host string) ([]string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []string{host}, nil
	}
	if isReservedInvalid(host) {
		return nil, notFound(host)
	}
	return net.DefaultResolver.LookupHost(ctx, host)
}

// smtpDialer opens the TCP connection to the SMTP server, directly or through
// the proxy, and for implicit TLS does the handshake.
type smtpDialer struct {
	timeout   time.Duration
	proxy     *url.URL
	roots     *x509.CertPool // for an https proxy
	implicit  *tls.Config    // non-nil: implicit TLS
	afterDial func(net.Conn) // test hook: sees the raw TCP connection
}

// dialTCP connects to addr, through the proxy when one is set.
func (d *smtpDialer) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	nd := &net.Dialer{Timeout: d.timeout}
	if d.proxy == nil {
		if isReservedInvalid(host) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: notFound(host)}
		}
		return nd.DialContext(ctx, "tcp", addr)
	}
	switch d.proxy.Scheme {
	case "http", "https":
		return dialHTTPConnect(ctx, nd, d.proxy, d.roots, addr)
	case "socks5", "socks5h":
		pd, err := proxy.FromURL(d.proxy, nd)
		if err != nil {
			return nil, fmt.Errorf("notify: proxy: %w", err)
		}
		if cd, ok := pd.(proxy.ContextDialer); ok {
			return cd.DialContext(ctx, "tcp", addr)
		}
		return pd.Dial("tcp", addr)
	default:
		return nil, fmt.Errorf("notify: proxy: unsupported scheme %q", d.proxy.Scheme)
	}
}

// dial is a go-mail DialContextFunc.
func (d *smtpDialer) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	c, err := d.dialTCP(ctx, addr)
	if err != nil {
		return nil, err
	}
	if d.afterDial != nil {
		d.afterDial(c)
	}
	if d.implicit == nil {
		return watchGreeting(c, addr, d.timeout), nil
	}
	tc := tls.Client(c, d.implicit)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, handshakeError(err)
	}
	return tc, nil
}

// dialHTTPConnect opens a tunnel to addr with HTTP CONNECT.
func dialHTTPConnect(ctx context.Context, nd *net.Dialer, p *url.URL, roots *x509.CertPool, addr string) (net.Conn, error) {
	paddr := p.Host
	if p.Port() == "" {
		port := "80"
		if p.Scheme == "https" {
			port = "443"
		}
		paddr = net.JoinHostPort(p.Hostname(), port)
	}
	c, err := nd.DialContext(ctx, "tcp", paddr)
	if err != nil {
		return nil, fmt.Errorf("notify: proxy: %w", err)
	}
	if p.Scheme == "https" {
		tc := tls.Client(c, &tls.Config{ServerName: p.Hostname(), RootCAs: roots, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("notify: proxy: tls handshake: %w", err)
		}
		c = tc
	}
	deadline, ok := ctx.Deadline()
	if nd.Timeout > 0 && (!ok || time.Now().Add(nd.Timeout).Before(deadline)) {
		deadline = time.Now().Add(nd.Timeout)
	}
	_ = c.SetDeadline(deadline)

	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: addr},
		Host:   addr,
		Header: make(http.Header),
	}
	if p.User != nil {
		pw, _ := p.User.Password()
		cred := base64.StdEncoding.EncodeToString([]byte(p.User.Username() + ":" + pw))
		req.Header.Set("Proxy-Authorization", "Basic "+cred)
	}
	if err := req.Write(c); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("notify: proxy: CONNECT %s: %w", addr, err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("notify: proxy: CONNECT %s: %w", addr, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_ = c.Close()
		return nil, &ProxyError{Addr: addr, Status: resp.Status, StatusCode: resp.StatusCode}
	}
	_ = c.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: c, r: br}, nil
	}
	return c, nil
}

// ProxyError is a proxy's refusal to open a tunnel: its answer to CONNECT
// was not 200.
type ProxyError struct {
	Addr       string // the tunnel's target, host:port
	Status     string // the proxy's status line, such as "407 Proxy Authentication Required"
	StatusCode int
}

func (e *ProxyError) Error() string {
	return fmt.Sprintf("notify: proxy: CONNECT %s refused: %s", e.Addr, e.Status)
}

// bufferedConn returns bytes the proxy reader buffered before reading more.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// tokenHTTPClient is the client for the token endpoint: system roots plus the
// extra CAs, the proxy of the settings (or the environment's), and the
// connection timeout as the bound of a whole request.
func tokenHTTPClient(s Settings, roots *x509.CertPool) (*http.Client, error) {
	pu, err := proxyURL(s.ProxyURL)
	if err != nil {
		return nil, err
	}
	proxyFn := http.ProxyFromEnvironment
	if pu != nil {
		proxyFn = http.ProxyURL(pu)
	}
	nd := &net.Dialer{Timeout: s.ConnTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: proxyFn,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, _, err := net.SplitHostPort(addr); err == nil && isReservedInvalid(host) {
				return nil, &net.OpError{Op: "dial", Net: network, Err: notFound(host)}
			}
			return nd.DialContext(ctx, network, addr)
		},
		// A proxy's refusal of the tunnel becomes a *ProxyError, as on the
		// SMTP path, instead of net/http's bare status text.
		OnProxyConnectResponse: func(_ context.Context, _ *url.URL, req *http.Request, resp *http.Response) error {
			if resp.StatusCode != http.StatusOK {
				return &ProxyError{Addr: req.Host, Status: resp.Status, StatusCode: resp.StatusCode}
			}
			return nil
		},
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: s.ConnTimeout,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        2,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   s.ConnTimeout,
		// Never follow a redirect: for a 307 or 308 Go would post the form,
		// client secret included, to wherever the Location points (even
		// plain http on another host). Entra ID does not redirect token
		// requests; the redirect comes back as the response and
		// [Diagnose] names where it pointed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// isBrokenConn reports errors that mean the connection died under us (the
// peer closed or reset it), as opposed to a reply or a timeout.
func isBrokenConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}
