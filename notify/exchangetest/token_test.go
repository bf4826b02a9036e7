package exchangetest_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

func TestTokenSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := b.srv

	r := postToken(t, srv, srv.Tenant(), credentials(srv))
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %v", r.status, r.body)
	}
	if r.str("token_type") != "Bearer" || r.body["expires_in"] != 3599.0 || r.body["ext_expires_in"] != 3599.0 {
		t.Errorf("response = %v", r.body)
	}
	if len(r.body) != 4 {
		t.Errorf("response has %d fields, want 4 (no refresh token in this flow): %v", len(r.body), r.body)
	}

	tok := r.str("access_token")
	if n := len(tok); n < 1500 || n > 3072 {
		t.Errorf("token is %d bytes, want 1.5-3 KB like Entra's", n)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var header map[string]string
	decodeSegment(t, parts[0], &header)
	if header["alg"] != "RS256" || header["typ"] != "JWT" || header["kid"] == "" {
		t.Errorf("header = %v", header)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(srv.TokenSigningKey(), crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}

	var claims struct {
		Aud, Iss, Tid, AppID, Oid, Sub, Ver, IdTyp string
		Roles                                      []string
		Iat, Nbf, Exp                              int64
	}
	decodeSegment(t, parts[1], &claims)
	now := b.clock.Now().Unix()
	if claims.Aud != "https://outlook.office365.com" ||
		claims.Iss != "https://sts.windows.net/"+srv.Tenant()+"/" ||
		claims.Tid != srv.Tenant() || claims.AppID != srv.ClientID() ||
		claims.Oid == "" || claims.Sub != claims.Oid || claims.Ver != "1.0" || claims.IdTyp != "app" ||
		len(claims.Roles) != 1 || claims.Roles[0] != "SMTP.SendAsApp" {
		t.Errorf("claims = %+v", claims)
	}
	if claims.Exp != now+3599 || claims.Iat != now-300 || claims.Nbf != now-300 {
		t.Errorf("iat %d nbf %d exp %d, want now-300, now-300, now+3599 (now %d)", claims.Iat, claims.Nbf, claims.Exp, now)
	}
	if srv.TokenRequests() != 1 || srv.TokensIssued() != 1 {
		t.Errorf("TokenRequests %d TokensIssued %d, want 1 1", srv.TokenRequests(), srv.TokensIssued())
	}
}

func TestTokenRequestForms(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv

	t.Run("tenant by domain name", func(t *testing.T) {
		if r := postToken(t, srv, "Contoso.onmicrosoft.com", credentials(srv)); r.status != http.StatusOK {
			t.Errorf("status %d: %v", r.status, r.body)
		}
	})
	t.Run("client_secret_basic", func(t *testing.T) {
		form := credentials(srv)
		form.Del("client_id")
		form.Del("client_secret")
		r := postTokenRequest(t, srv, srv.Tenant(), form, func(req *http.Request) {
			req.SetBasicAuth(url.QueryEscape(srv.ClientID()), url.QueryEscape(srv.ClientSecret()))
		})
		if r.status != http.StatusOK {
			t.Errorf("status %d: %v", r.status, r.body)
		}
	})
	t.Run("short lifetime", func(t *testing.T) {
		short := setupWithLifetime(t, 90*time.Second)
		if r := postToken(t, short, short.Tenant(), credentials(short)); r.body["expires_in"] != 90.0 {
			t.Errorf("expires_in = %v, want 90", r.body["expires_in"])
		}
	})
	if srv.ClientSecret() == srv.SecretID() || len(srv.ClientSecret()) != 40 || !strings.Contains(srv.ClientSecret(), "~") {
		t.Errorf("secret %q (ID %q) does not look like an Entra secret value", srv.ClientSecret(), srv.SecretID())
	}
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	expired := setup(t).srv
	expired.ExpireSecret(expired.ClientID())
	const stranger = "0b7e4c2a-1f5d-4e7c-9a3b-2d6f8e1c4a5b"

	tests := []struct {
		name   string
		srv    *exchangetest.Server
		tenant string
		form   url.Values // overrides of the ready-made credentials; "" deletes
		status int
		error  string
		code   int
		desc   string // start of the text after "AADSTSnnnn: "
	}{
		{"unknown tenant", srv, stranger, nil,
			400, "invalid_request", 90002, "Tenant '" + stranger + "' not found."},
		{"unknown tenant domain", srv, "contoso.onmicrosoft.con", nil,
			400, "invalid_request", 90002, "Tenant 'contoso.onmicrosoft.con' not found."},
		{"malformed tenant", srv, "your-tenant-id", nil,
			400, "invalid_request", 900023, "Specified tenant identifier 'your-tenant-id' is neither a valid DNS name, nor a valid external domain."},
		{"unknown client id", srv, srv.Tenant(), url.Values{"client_id": {stranger}},
			400, "unauthorized_client", 700016, "Application with identifier '" + stranger + "' was not found in the directory 'contoso.onmicrosoft.com'."},
		{"secret ID instead of value", srv, srv.Tenant(), url.Values{"client_secret": {srv.SecretID()}},
			401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID"},
		{"expired secret", expired, expired.Tenant(), nil,
			401, "invalid_client", 7000222, "The provided client secret keys for app '" + expired.ClientID() + "' are expired."},
		{"wrong scope", srv, srv.Tenant(), url.Values{"scope": {"https://outlook.office365.com/SMTP.SendAsApp"}},
			400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid."},
		{"unknown resource", srv, srv.Tenant(), url.Values{"scope": {"https://mail.example.com/.default"}},
			400, "invalid_resource", 500011, "The resource principal named https://mail.example.com was not found"},
		{"no grant type", srv, srv.Tenant(), url.Values{"grant_type": {""}},
			400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."},
		{"password grant", srv, srv.Tenant(), url.Values{"grant_type": {"password"}},
			400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type 'password'."},
		{"no secret", srv, srv.Tenant(), url.Values{"client_secret": {""}},
			401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."},
	}
	t.Run("group", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				form := credentials(tc.srv)
				for k, v := range tc.form {
					if v[0] == "" {
						form.Del(k)
					} else {
						form[k] = v
					}
				}
				r := postToken(t, tc.srv, tc.tenant, form)
				if r.status != tc.status || r.str("error") != tc.error {
					t.Errorf("got %d %q, want %d %q", r.status, r.str("error"), tc.status, tc.error)
				}
				checkAADError(t, r, tc.code, tc.desc)
			})
		}
	})
	if srv.TokensIssued() != 0 || expired.TokensIssued() != 0 {
		t.Errorf("tokens issued on errors: %d, %d", srv.TokensIssued(), expired.TokensIssued())
	}
	if got, want := srv.TokenRequests()+expired.TokenRequests(), int64(len(tests)); got != want {
		t.Errorf("TokenRequests = %d, want %d", got, want)
	}
}

// checkAADError checks the full Entra error shape.
func checkAADError(t *testing.T, r tokenReply, code int, desc string) {
	t.Helper()
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	traceID, correlationID, ts := r.str("trace_id"), r.str("correlation_id"), r.str("timestamp")
	if !guid.MatchString(traceID) || !guid.MatchString(correlationID) {
		t.Errorf("trace_id %q, correlation_id %q: want GUIDs", traceID, correlationID)
	}
	if _, err := time.Parse("2006-01-02 15:04:05Z", ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
	d := r.str("error_description")
	wantPrefix := fmt.Sprintf("AADSTS%d: %s", code, desc)
	wantSuffix := fmt.Sprintf("\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", traceID, correlationID, ts)
	if !strings.HasPrefix(d, wantPrefix) || !strings.HasSuffix(d, wantSuffix) {
		t.Errorf("error_description = %q\nwant %q ... %q", d, wantPrefix, wantSuffix)
	}
	if codes, _ := r.body["error_codes"].([]any); len(codes) != 1 || codes[0] != float64(code) {
		t.Errorf("error_codes = %v, want [%d]", r.body["error_codes"], code)
	}
	if uri := r.str("error_uri"); uri != fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", code) {
		t.Errorf("error_uri = %q", uri)
	}
}

func TestTokenErrorKeepsClientRequestID(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	const id = "5f0c7c1e-2b1a-4c55-9c7e-0d8e3b6f9a21"
	form := credentials(srv)
	form.Set("client_secret", "wrong")
	r := postTokenRequest(t, srv, srv.Tenant(), form, func(req *http.Request) { req.Header.Set("client-request-id", id) })
	if r.str("correlation_id") != id {
		t.Errorf("correlation_id = %q, want the client-request-id %q", r.str("correlation_id"), id)
	}
	if r.header.Get("x-ms-request-id") != r.str("trace_id") {
		t.Errorf("x-ms-request-id %q != trace_id %q", r.header.Get("x-ms-request-id"), r.str("trace_id"))
	}
}

func TestTokenEndpointNeedsTheTestCA(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	defer client.CloseIdleConnections()
	_, err := client.PostForm(srv.TokenEndpointBase()+"/"+srv.Tenant()+"/oauth2/v2.0/token", credentials(srv))
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("err = %v, want x509.UnknownAuthorityError", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CACertPEM()) {
		t.Fatal("CACertPEM does not parse")
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		conn, err := tls.Dial("tcp", strings.Replace(strings.TrimPrefix(srv.TokenEndpointBase(), "https://"), "127.0.0.1", host, 1),
			&tls.Config{RootCAs: pool, ServerName: host})
		if err != nil {
			t.Errorf("TLS to %s with CACertPEM: %v", host, err)
			continue
		}
		conn.Close()
	}
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// With SeparateTokenCA the token endpoint and the SMTP ports have certificates from
// different CAs: each pool verifies its own server only.
func TestSeparateTokenCA(t *testing.T) {
	t.Parallel()
	srv := exchangetest.NewServer(t, exchangetest.Options{SeparateTokenCA: true})
	if string(srv.TokenCACertPEM()) == string(srv.CACertPEM()) {
		t.Fatal("the token endpoint's CA is the SMTP one")
	}
	tokenAddr := strings.TrimPrefix(srv.TokenEndpointBase(), "https://")
	smtpsAddr := fmt.Sprintf("%s:%d", srv.SMTPHost(), srv.SMTPTLSPort())
	for _, tc := range []struct {
		name, addr string
		pool       *x509.CertPool
		ok         bool
	}{
		{"token endpoint, its CA", tokenAddr, srv.TokenCertPool(), true},
		{"token endpoint, SMTP CA", tokenAddr, srv.CertPool(), false},
		{"SMTP, its CA", smtpsAddr, srv.CertPool(), true},
		{"SMTP, token endpoint CA", smtpsAddr, srv.TokenCertPool(), false},
	} {
		c, err := tls.Dial("tcp", tc.addr, &tls.Config{RootCAs: tc.pool, ServerName: srv.SMTPHost()})
		if err == nil {
			c.Close()
		}
		var ua x509.UnknownAuthorityError
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && !errors.As(err, &ua):
			t.Errorf("%s: err = %v, want an unknown authority", tc.name, err)
		}
	}
	if r := postToken(t, srv, srv.Tenant(), credentials(srv)); r.status != http.StatusOK {
		t.Errorf("token request: %d %v", r.status, r.body)
	}
}
