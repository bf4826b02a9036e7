package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func validSettings() Settings {
	return Settings{
		Host:         "smtp.office365.com",
		From:         "no-reply@contoso.onmicrosoft.com",
		AuthMode:     AuthExchangeOnline,
		TenantID:     "6e8d4b0c-5a7f-4c1e-9b2d-3f4a5b6c7d8e",
		ClientID:     "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d",
		ClientSecret: "Qx8~vT3.kZp_9rLm-2WnYb7Hc4Jd6Fs1Ga0Ue5Io",
		Version:      3,
	}
}

func TestSettingsDefaults(t *testing.T) {
	t.Parallel()
	s := validSettings().WithDefaults()
	if s.Port != 587 || s.Security != SecurityStartTLS || s.ConnTimeout != DefaultConnTimeout ||
		s.TokenEndpointBase != DefaultTokenEndpointBase || s.TokenRefreshMargin != DefaultTokenRefreshMargin {
		t.Errorf("defaults: %+v", s)
	}
	if got := s.TokenURL(); got != "https://login.microsoftonline.com/6e8d4b0c-5a7f-4c1e-9b2d-3f4a5b6c7d8e/oauth2/v2.0/token" {
		t.Errorf("TokenURL = %s", got)
	}
	if s.AuthUser() != "no-reply@contoso.onmicrosoft.com" {
		t.Errorf("AuthUser = %s", s.AuthUser())
	}
	if p := (Settings{Security: SecurityTLS}).WithDefaults().Port; p != 465 {
		t.Errorf("TLS port default %d", p)
	}
	set := Settings{Port: 2525, ConnTimeout: time.Second, AuthMode: AuthExchangeOnline, TokenRefreshMargin: time.Minute}.WithDefaults()
	if set.Port != 2525 || set.ConnTimeout != time.Second || set.TokenRefreshMargin != time.Minute {
		t.Errorf("set values overridden: %+v", set)
	}
	if err := validSettings().Validate(); err != nil {
		t.Errorf("valid settings: %v", err)
	}
}

func TestSettingsValidateReportsEveryField(t *testing.T) {
	t.Parallel()
	err := Settings{AuthMode: AuthExchangeOnline, ProxyURL: "ftp://proxy", TrustedCAPEM: "not a certificate", Port: 70000}.Validate()
	var ve ValidationErrors
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want ValidationErrors", err)
	}
	var fields []string
	for _, fe := range ve {
		fields = append(fields, fe.Field)
		if fe.Message == "" {
			t.Errorf("%s: empty message", fe.Field)
		}
	}
	for _, want := range []string{"host", "port", "from", "tenant_id", "client_id", "client_secret", "proxy_url", "trusted_ca_pem"} {
		if !slices.Contains(fields, want) {
			t.Errorf("no problem reported for %s; got %v", want, fields)
		}
	}
	if len(ve.For("client_secret")) != 1 {
		t.Errorf("For(client_secret) = %v", ve.For("client_secret"))
	}
}

func TestSettingsValidateFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field  string
		change func(*Settings)
	}{
		{"host", func(s *Settings) { s.Host = "smtp://smtp.office365.com" }},
		{"host", func(s *Settings) { s.Host = "smtp.office365.com:587" }},
		{"security", func(s *Settings) { s.Security = "ssl" }},
		{"security", func(s *Settings) { s.Security = SecurityNone }},
		{"conn_timeout", func(s *Settings) { s.ConnTimeout = time.Millisecond }},
		{"from", func(s *Settings) { s.From = "no-reply" }},
		{"auth_mode", func(s *Settings) { s.AuthMode = "oauth" }},
		{"password", func(s *Settings) { s.AuthMode = AuthPassword }},
		{"tenant_id", func(s *Settings) { s.TenantID = "not a tenant" }},
		{"client_id", func(s *Settings) { s.ClientID = "Lobby SMTP" }},
		{"client_secret", func(s *Settings) { s.ClientSecret = "" }},
		{"token_endpoint_base", func(s *Settings) { s.TokenEndpointBase = "http://login.microsoftonline.com" }},
		{"token_refresh_margin", func(s *Settings) { s.TokenRefreshMargin = 2 * time.Hour }},
		{"proxy_url", func(s *Settings) { s.ProxyURL = "proxy:3128" }},
		{"trusted_ca_pem", func(s *Settings) {
			s.TrustedCAPEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}},
		{"version", func(s *Settings) { s.Version = -1 }},
	} {
		s := validSettings()
		tc.change(&s)
		var ve ValidationErrors
		if err := s.Validate(); !errors.As(err, &ve) || len(ve.For(tc.field)) == 0 {
			t.Errorf("%s: Validate() = %v, want a problem with %s", tc.field, err, tc.field)
		}
	}
}

func TestSettingsInsecureAuthIsAFieldError(t *testing.T) {
	t.Parallel()
	s := validSettings()
	s.Security = SecurityNone
	err := s.Validate()
	if !errors.Is(err, ErrInsecureAuth) {
		t.Fatalf("Validate() = %v, want ErrInsecureAuth inside", err)
	}
	s.AuthMode = AuthNone
	if err := s.Validate(); err != nil {
		t.Errorf("no auth without TLS (a relay) is allowed: %v", err)
	}
}

// Secrets never show, whichever way the settings are printed or logged.
func TestSettingsNeverPrintSecrets(t *testing.T) {
	t.Parallel()
	s := validSettings()
	s.AuthMode = AuthExchangeOnline
	s.Password = "Pa55word-for-relay"
	s.ProxyURL = "http://proxyuser:proxy-pa55@proxy.example.net:3128"

	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("settings", "smtp", s)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("settings", "smtp", s, "ptr", &s)
	redacted, err := json.Marshal(s.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Join([]string{
		s.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, &s), logs.String(), string(redacted),
	}, "\n")
	for _, secret := range append(s.Secrets(), "proxy-pa55") {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q printed:\n%s", secret[:3]+"…", out)
		}
	}
	if len(s.Secrets()) != 3 {
		t.Errorf("Secrets() = %d values, want 3", len(s.Secrets()))
	}
	if !strings.Contains(string(redacted), redactedValue) || !strings.Contains(out, s.ClientID) {
		t.Errorf("redacted output lost the non-secret fields:\n%s", out)
	}
	if s.ClientSecret == redactedValue {
		t.Error("Redacted changed the original")
	}
}

// A margin of 0 means the default (the field is empty), so the refresh
// margin's message does not offer 0; a negative one is refused with it.
func TestSettingsRefreshMarginZeroMeansDefault(t *testing.T) {
	t.Parallel()
	s := validSettings()
	s.TokenRefreshMargin = 0
	if err := s.Validate(); err != nil || s.WithDefaults().TokenRefreshMargin != DefaultTokenRefreshMargin {
		t.Fatalf("margin 0: Validate() = %v, margin %v; want the default", err, s.WithDefaults().TokenRefreshMargin)
	}
	for _, m := range []time.Duration{-time.Second, 51 * time.Minute} {
		s.TokenRefreshMargin = m
		var ve ValidationErrors
		if err := s.Validate(); !errors.As(err, &ve) || len(ve.For("token_refresh_margin")) != 1 {
			t.Fatalf("margin %v: Validate() = %v", m, err)
		}
		msg := ve.For("token_refresh_margin")[0]
		if strings.Contains(msg, "between 0") || !strings.Contains(msg, "empty") {
			t.Errorf("margin %v: message %q offers 0 or does not say empty means the default", m, msg)
		}
	}
}
