package notify

import (
	"cmp"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Security says how the SMTP connection is encrypted.
type Security string

// The connection security modes.
const (
	// SecurityStartTLS connects in plain text and upgrades with STARTTLS before
	// anything else; a server that does not offer STARTTLS is refused
	// (Exchange Online on port 587).
	SecurityStartTLS Security = "starttls"
	// SecurityTLS speaks TLS from the first byte (implicit TLS, port 465).
	SecurityTLS Security = "tls"
	// SecurityNone sends in plain text. Only allowed without authentication.
	SecurityNone Security = "none"
)

// AuthMode says how Lobby authenticates to the SMTP server.
type AuthMode string

// The authentication modes.
const (
	// AuthNone sends without SMTP AUTH (an internal relay).
	AuthNone AuthMode = "none"
	// AuthPassword authenticates with a username and password (PLAIN or LOGIN).
	AuthPassword AuthMode = "password"
	// AuthExchangeOnline gets an access token from Entra ID with the
	// client-credentials grant and authenticates with SASL XOAUTH2.
	AuthExchangeOnline AuthMode = "exchange-online-oauth"
)

// Defaults filled in by [Settings.WithDefaults].
const (
	DefaultTokenEndpointBase  = "https://login.microsoftonline.com"
	DefaultTokenRefreshMargin = 10 * time.Minute
	DefaultConnTimeout        = 30 * time.Second
	// ExchangeOnlineScope is the scope of the client-credentials request.
	ExchangeOnlineScope = "https://outlook.office365.com/.default"
)

// redactedValue replaces a secret in [Settings.Redacted].
const redactedValue = "[redacted]"

// Settings are the SMTP server settings an admin saves. The zero values of
// Port, Security, ConnTimeout, AuthMode, TokenEndpointBase and
// TokenRefreshMargin mean "the default" (see [Settings.WithDefaults]).
//
// ClientSecret and Password are secrets: [Settings.String],
// [Settings.LogValue] and [Settings.Redacted] never show them. They are in the
// JSON encoding because storage seals them; use Redacted before exporting.
type Settings struct {
	Host        string        `json:"host"`
	Port        int           `json:"port,omitempty"`
	Security    Security      `json:"security,omitempty"`
	ConnTimeout time.Duration `json:"conn_timeout,omitempty"`
	// From is the sender address; with Exchange Online it is normally the
	// mailbox the app has FullAccess to (otherwise it needs SendAs).
	From     string   `json:"from"`
	AuthMode AuthMode `json:"auth_mode,omitempty"`
	// Username is the SMTP login in password mode and the XOAUTH2 user (the
	// mailbox) in Exchange Online mode; empty means From.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`

	TenantID            string    `json:"tenant_id,omitempty"`
	ClientID            string    `json:"client_id,omitempty"`
	ClientSecret        string    `json:"client_secret,omitempty"`
	ClientSecretExpires time.Time `json:"client_secret_expires,omitzero"`
	TokenEndpointBase   string    `json:"token_endpoint_base,omitempty"`
	// TokenRefreshMargin is how long before its expiry a cached token is
	// replaced (in the background; while the token endpoint is down the
	// cached token stays in use until shortly before it expires), at most
	// 50 minutes; 0 (empty) means the default, 10 minutes, so a margin of 0
	// cannot be chosen. For a token that lives shorter than twice the
	// margin, half its lifetime is used instead.
	TokenRefreshMargin time.Duration `json:"token_refresh_margin,omitempty"`

	// ProxyURL (http://, https://, socks5://) is used for the token endpoint
	// and, when set, for the SMTP connection too (HTTP CONNECT or SOCKS5).
	// When empty, the token endpoint honours HTTPS_PROXY/NO_PROXY and SMTP
	// connects directly.
	ProxyURL string `json:"proxy_url,omitempty"`
	// TrustedCAPEM holds extra CA certificates (PEM) trusted in addition to
	// the system roots, for the token endpoint and the SMTP server.
	TrustedCAPEM string `json:"trusted_ca_pem,omitempty"`

	// Version is the settings version; tokens are cached per version.
	Version int64 `json:"version"`
}

// WithDefaults returns a copy with every empty field that has a default filled in.
func (s Settings) WithDefaults() Settings {
	s.Host = strings.TrimSpace(s.Host)
	s.Security = cmp.Or(s.Security, SecurityStartTLS)
	s.Port = cmp.Or(s.Port, defaultPort(s.Security))
	s.ConnTimeout = cmp.Or(s.ConnTimeout, DefaultConnTimeout)
	s.AuthMode = cmp.Or(s.AuthMode, AuthNone)
	if s.AuthMode == AuthExchangeOnline {
		s.TokenEndpointBase = cmp.Or(s.TokenEndpointBase, DefaultTokenEndpointBase)
		s.TokenRefreshMargin = cmp.Or(s.TokenRefreshMargin, DefaultTokenRefreshMargin)
	}
	return s
}

func defaultPort(sec Security) int {
	switch sec {
	case SecurityTLS:
		return 465
	case SecurityNone:
		return 25
	default:
		return 587
	}
}

// AuthUser is the SMTP login: Username, or From's address when Username is empty.
func (s Settings) AuthUser() string {
	if s.Username != "" {
		return s.Username
	}
	if a, err := mail.ParseAddress(s.From); err == nil {
		return a.Address
	}
	return s.From
}

// TokenURL is the client-credentials endpoint: {base}/{tenant}/oauth2/v2.0/token.
func (s Settings) TokenURL() string {
	base := strings.TrimRight(cmp.Or(s.TokenEndpointBase, DefaultTokenEndpointBase), "/")
	return base + "/" + url.PathEscape(s.TenantID) + "/oauth2/v2.0/token"
}

// Addr is host:port.
func (s Settings) Addr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// Secrets returns the non-empty secret values (client secret, password, the
// proxy's password), for callers that must scrub text they did not build
// themselves.
func (s Settings) Secrets() []string {
	var out []string
	for _, v := range []string{s.ClientSecret, s.Password, proxyPassword(s.ProxyURL)} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Redacted returns a copy with every secret that is set replaced by
// "[redacted]" (a proxy password by "xxxxx").
func (s Settings) Redacted() Settings {
	if s.ClientSecret != "" {
		s.ClientSecret = redactedValue
	}
	if s.Password != "" {
		s.Password = redactedValue
	}
	if proxyPassword(s.ProxyURL) != "" {
		s.ProxyURL = redactURL(s.ProxyURL)
	}
	return s
}

func proxyPassword(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		pw, _ := u.User.Password()
		return pw
	}
	return ""
}

// String describes the settings without secrets.
func (s Settings) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "smtp{host=%s port=%d security=%s from=%s auth=%s", s.Host, s.Port, s.Security, s.From, s.AuthMode)
	if s.Username != "" {
		fmt.Fprintf(&b, " username=%s", s.Username)
	}
	if s.Password != "" {
		b.WriteString(" password=" + redactedValue)
	}
	if s.AuthMode == AuthExchangeOnline || s.TenantID != "" || s.ClientID != "" {
		fmt.Fprintf(&b, " tenant=%s client_id=%s", s.TenantID, s.ClientID)
	}
	if s.ClientSecret != "" {
		b.WriteString(" client_secret=" + redactedValue)
	}
	if s.ProxyURL != "" {
		b.WriteString(" proxy=" + redactURL(s.ProxyURL))
	}
	fmt.Fprintf(&b, " version=%d}", s.Version)
	return b.String()
}

// GoString keeps %#v from printing secrets.
func (s Settings) GoString() string { return "notify.Settings" + s.String() }

// LogValue implements [slog.LogValuer] without secrets.
func (s Settings) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("host", s.Host),
		slog.Int("port", s.Port),
		slog.String("security", string(s.Security)),
		slog.String("from", s.From),
		slog.String("auth", string(s.AuthMode)),
		slog.Int64("version", s.Version),
	}
	if s.Username != "" {
		attrs = append(attrs, slog.String("username", s.Username))
	}
	if s.AuthMode == AuthExchangeOnline {
		attrs = append(attrs,
			slog.String("tenant", s.TenantID),
			slog.String("client_id", s.ClientID),
			slog.Bool("client_secret_set", s.ClientSecret != ""))
	}
	if s.ProxyURL != "" {
		attrs = append(attrs, slog.String("proxy", redactURL(s.ProxyURL)))
	}
	return slog.GroupValue(attrs...)
}

// redactURL drops a password from a URL's user info (a proxy may carry one).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	return u.Redacted()
}

// FieldError is one problem with one settings field. Field is the JSON name.
type FieldError struct {
	Field   string
	Message string
	// Err is a sentinel such as [ErrInsecureAuth] when one applies.
	Err error
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Unwrap returns the sentinel, if any.
func (e FieldError) Unwrap() error { return e.Err }

// ValidationErrors is every problem [Settings.Validate] found.
type ValidationErrors []FieldError

func (v ValidationErrors) Error() string {
	parts := make([]string, len(v))
	for i, fe := range v {
		parts[i] = fe.Error()
	}
	return "notify: settings: " + strings.Join(parts, "; ")
}

// Unwrap lets errors.Is and errors.As see each field error.
func (v ValidationErrors) Unwrap() []error {
	out := make([]error, len(v))
	for i, fe := range v {
		out[i] = fe
	}
	return out
}

// For returns the messages about one field (for showing beside it).
func (v ValidationErrors) For(field string) []string {
	var out []string
	for _, fe := range v {
		if fe.Field == field {
			out = append(out, fe.Message)
		}
	}
	return out
}

var (
	guidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	hostnameRE = regexp.MustCompile(`^([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*\.?$`)
)

// Validate checks the settings (after defaults) and returns every problem as
// [ValidationErrors], or nil. Each problem names its JSON field.
func (s Settings) Validate() error {
	s = s.WithDefaults()
	var errs ValidationErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	switch {
	case s.Host == "":
		add("host", "enter the SMTP server name, for Exchange Online smtp.office365.com")
	case strings.Contains(s.Host, "://"):
		add("host", "enter only the server name, without a scheme such as smtp://")
	case net.ParseIP(s.Host) == nil && !hostnameRE.MatchString(s.Host):
		add("host", "%q is not a valid host name; enter only the name, without a port", s.Host)
	}
	if s.Port < 1 || s.Port > 65535 {
		add("port", "the port must be between 1 and 65535 (587 for STARTTLS, 465 for TLS)")
	}
	switch s.Security {
	case SecurityStartTLS, SecurityTLS, SecurityNone:
	default:
		add("security", "choose %q, %q or %q", SecurityStartTLS, SecurityTLS, SecurityNone)
	}
	switch {
	case s.ConnTimeout > 10*time.Minute:
		add("conn_timeout", "the connection timeout must be at most 10 minutes")
	case s.ConnTimeout < 100*time.Millisecond:
		add("conn_timeout", "the connection timeout is too short to connect anywhere; use a few seconds (30 is usual)")
	}
	if s.From == "" {
		add("from", "enter the sender address, for Exchange Online the mailbox the app may use")
	} else if _, err := mail.ParseAddress(s.From); err != nil {
		add("from", "%q is not a valid email address", s.From)
	}

	switch s.AuthMode {
	case AuthNone:
	case AuthPassword:
		if s.Password == "" {
			add("password", "enter the password of the SMTP account")
		}
		if s.AuthUser() == "" {
			add("username", "enter the SMTP username")
		}
	case AuthExchangeOnline:
		s.validateExchange(add)
	default:
		add("auth_mode", "choose %q, %q or %q", AuthNone, AuthPassword, AuthExchangeOnline)
	}
	if s.Security == SecurityNone && s.AuthMode != AuthNone && s.AuthMode != "" {
		errs = append(errs, FieldError{Field: "security", Err: ErrInsecureAuth,
			Message: "credentials are never sent over an unencrypted connection; choose STARTTLS or TLS"})
	}

	if s.ProxyURL != "" {
		u, err := url.Parse(s.ProxyURL)
		switch {
		case err != nil || u.Host == "":
			add("proxy_url", "enter the proxy as a URL such as http://proxy.example.com:3128")
		case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5" && u.Scheme != "socks5h":
			add("proxy_url", "the proxy scheme must be http, https or socks5")
		}
	}
	if s.TrustedCAPEM != "" {
		if _, err := parseCAPEM(s.TrustedCAPEM); err != nil {
			add("trusted_ca_pem", "%v", err)
		}
	}
	if s.Version < 0 {
		add("version", "the settings version cannot be negative")
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func (s Settings) validateExchange(add func(field, format string, args ...any)) {
	switch {
	case s.TenantID == "":
		add("tenant_id", "enter the Directory (tenant) ID from the app registration's Overview page")
	case !guidRE.MatchString(s.TenantID) && !hostnameRE.MatchString(s.TenantID):
		add("tenant_id", "the tenant is a GUID (Directory (tenant) ID) or a domain such as contoso.onmicrosoft.com")
	}
	switch {
	case s.ClientID == "":
		add("client_id", "enter the Application (client) ID from the app registration's Overview page")
	case !guidRE.MatchString(s.ClientID):
		add("client_id", "the Application (client) ID is a GUID such as 00000000-0000-0000-0000-000000000000")
	}
	if s.ClientSecret == "" {
		add("client_secret", "enter the client secret's Value (shown once when the secret is created), not its Secret ID")
	}
	u, err := url.Parse(s.TokenEndpointBase)
	switch {
	case err != nil || u.Host == "":
		add("token_endpoint_base", "enter the token endpoint as a URL such as %s", DefaultTokenEndpointBase)
	case u.Scheme != "https":
		add("token_endpoint_base", "the token endpoint must use https: the client secret is sent to it")
	}
	if s.TokenRefreshMargin < 0 || s.TokenRefreshMargin > 50*time.Minute {
		add("token_refresh_margin", "enter a refresh margin from 1 second to 50 minutes (tokens live about an hour), or leave it empty for the default of 10 minutes")
	}
}

// parseCAPEM parses one or more PEM certificates.
func parseCAPEM(pemText string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(pemText)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("found a %q block; paste only CERTIFICATE blocks", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("a certificate could not be parsed: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found; paste the CA certificate starting with -----BEGIN CERTIFICATE-----")
	}
	return certs, nil
}
