package notify

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// xoauth2BlobPrefix starts the base64 of every XOAUTH2 initial response:
// "user=" is "dXNlcj" and two bits of the next character ("dXNlcj0" when it
// is a digit or punctuation, "dXNlcj1" when it is a letter).
const xoauth2BlobPrefix = "dXNlcj"

var (
	// jwtRE matches a JWT's header and payload ({" is eyJ in base64url).
	jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)
	// xoauth2BlobRE matches a base64 XOAUTH2 initial response, which is far
	// longer than the 22 random characters of a Message-ID.
	xoauth2BlobRE = regexp.MustCompile(xoauth2BlobPrefix + `[A-Za-z0-9+/]{40,}`)
)

// Every log line, error, diagnosis and report of runs with wrong and right
// secrets is captured; neither the client secret nor any access token (nor
// any JWT at all) may appear in them.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	b := deliverySetup(t, exchangetest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	out := b.logs // every line and every printed result goes here
	record := func(err error) {
		if err != nil {
			fmt.Fprintf(out, "error: %v\n%+v\n%s\n", err, Diagnose(err), Diagnose(err))
		}
	}
	tokens := NewTokenCache(TokenCacheOptions{Logger: b.logger})
	newTransport := func() *Transport { return b.transport(t, TransportOptions{Tokens: tokens, Logger: b.logger}) }
	var used []string
	noteToken := func(s Settings) {
		if tok, _, err := tokens.Token(ctxT(t), s); err == nil {
			used = append(used, tok)
		}
	}

	right := b.settings
	wrongValue := right
	wrongValue.ClientSecret, wrongValue.Version = "Zz9~wrong.secret_value-0123456789abcdefgh", 2
	secretID := right
	secretID.ClientSecret, secretID.Version = b.srv.SecretID(), 3
	password := right
	password.AuthMode, password.Password, password.Version = AuthPassword, "Relay-Pa55word!", 4

	for _, s := range []Settings{wrongValue, secretID, password} {
		record(newTransport().Send(ctxT(t), s, testEmail("wrong")))
		fmt.Fprintln(out, TestConnection(ctxT(t), s).String())
		fmt.Fprintf(out, "%v %+v %#v\n", s, s, s)
	}
	tr := newTransport()
	for i := range 3 {
		record(tr.Send(ctxT(t), right, testEmail(fmt.Sprint("right ", i))))
	}
	noteToken(right)
	fmt.Fprintln(out, TestConnection(ctxT(t), right).String())

	// A cached token refused by the server, dropped and replaced.
	skew.Store(int64(2 * time.Hour))
	record(newTransport().Send(ctxT(t), right, testEmail("after skew")))
	noteToken(right)
	// The token endpoint down.
	b.srv.SetTokenEndpointDown(true)
	down := right
	down.Version = 5
	record(newTransport().Send(ctxT(t), down, testEmail("endpoint down")))

	logs := out.String()
	for _, want := range []string{"acquired from endpoint", "from cache", "message sent", "request to the token endpoint failed",
		"rejected the cached token", "AADSTS7000215", "invalid_client_secret", "smtp_auth_disabled", "Connection test passed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the captured output lacks %q: the runs did not do what this test expects", want)
		}
	}
	if len(used) != 2 || used[0] == used[1] {
		t.Fatalf("captured %d distinct tokens, want 2", len(used))
	}
	secrets := append([]string{b.srv.ClientSecret(), b.srv.SecretID()}, used...)
	secrets = append(secrets, wrongValue.ClientSecret, password.Password)
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a secret or token (%d chars) appears in the output", len(s))
		}
	}
	// Patterns, not bare prefixes: go-mail's random Message-IDs (22
	// characters of base64's alphabet, logged with each send) hold "eyJ"
	// now and then.
	if m := jwtRE.FindString(logs); m != "" {
		t.Errorf("something JWT-like (%d chars) appears in the output", len(m))
	}
	if m := xoauth2BlobRE.FindString(logs); m != "" {
		t.Errorf("something like a base64 XOAUTH2 initial response (user=...auth=Bearer ..., %d chars) appears in the output", len(m))
	}
	if t.Failed() {
		t.Logf("captured %d bytes of output", len(logs))
	}
}

// The patterns find what they are for, and not a Message-ID that happens to
// hold their first letters.
func TestSecretPatterns(t *testing.T) {
	t.Parallel()
	jwt := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSJ9.c2ln"
	blob := base64.StdEncoding.EncodeToString([]byte("user=no-reply@contoso.onmicrosoft.com\x01auth=Bearer " + jwt + "\x01\x01"))
	for _, tc := range []struct {
		text      string
		jwt, blob bool
	}{
		{`msg="notify: smtp: message sent" message_id=<AbeyJx9Qk2mZ0pL7tR4wVn@lobby>`, false, false},
		{`message_id=<dXNlcjQk2mZ0pL7tR4wVna@lobby>`, false, false},
		{"token " + jwt, true, false},
		{"auth " + blob, false, true},
	} {
		if got := jwtRE.MatchString(tc.text); got != tc.jwt {
			t.Errorf("jwtRE on %q = %v", tc.text, got)
		}
		if got := xoauth2BlobRE.MatchString(tc.text); got != tc.blob {
			t.Errorf("xoauth2BlobRE on %q = %v", tc.text, got)
		}
	}
}
