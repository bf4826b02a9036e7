package notify

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// The XOAUTH2 and password mechanisms refuse to start without TLS, whatever
// the server offers, and give away nothing when they do.
func TestAuthRefusesUnencryptedConnection(t *testing.T) {
	t.Parallel()
	const token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.payload.signature"
	for _, tc := range []struct {
		name string
		auth smtp.Auth
	}{
		{"xoauth2", &xoauth2Auth{user: "no-reply@contoso.onmicrosoft.com", token: token}},
		{"password", &passwordAuth{user: "relay@example.com", pass: "Relay-Pa55word!"}},
	} {
		plain := &smtp.ServerInfo{Name: "smtp.example.com", TLS: false, Auth: []string{"PLAIN", "LOGIN", "XOAUTH2"}}
		mech, resp, err := tc.auth.Start(plain)
		if !errors.Is(err, ErrInsecureAuth) || mech != "" || resp != nil {
			t.Errorf("%s without TLS: Start = %q, %q, %v; want nothing but ErrInsecureAuth", tc.name, mech, resp, err)
		}
	}
}

func TestXOAUTH2AuthStart(t *testing.T) {
	t.Parallel()
	a := &xoauth2Auth{user: "no-reply@contoso.onmicrosoft.com", token: "tok-123"}
	mech, resp, err := a.Start(&smtp.ServerInfo{Name: "smtp.office365.com", TLS: true, Auth: []string{"LOGIN", "XOAUTH2"}})
	if err != nil || mech != "XOAUTH2" {
		t.Fatalf("Start = %q, %v; want XOAUTH2", mech, err)
	}
	if want := "user=no-reply@contoso.onmicrosoft.com\x01auth=Bearer tok-123\x01\x01"; string(resp) != want {
		t.Errorf("initial response %q, want %q", resp, want)
	}
	if !strings.HasPrefix(base64.StdEncoding.EncodeToString(resp), xoauth2BlobPrefix) {
		t.Errorf("the initial response does not start with %q, which the log check looks for", xoauth2BlobPrefix)
	}
	// A JSON 334 challenge (Google's error report) is answered empty.
	if next, err := a.Next([]byte(`{"status":"400"}`), true); err != nil || next == nil || len(next) != 0 {
		t.Errorf("Next(challenge) = %q, %v; want an empty answer", next, err)
	}

	_, _, err = a.Start(&smtp.ServerInfo{Name: "smtp.example.com", TLS: true, Auth: []string{"PLAIN", "LOGIN"}})
	if !errors.Is(err, mail.ErrXOauth2AuthNotSupported) || !strings.Contains(err.Error(), "PLAIN") {
		t.Errorf("Start without XOAUTH2 offered: %v", err)
	}
}
