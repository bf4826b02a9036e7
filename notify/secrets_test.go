package notify

import (
	"fmt"
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
	if strings.Contains(logs, "eyJ") {
		t.Error("something JWT-like appears in the output")
	}
	if strings.Contains(logs, xoauth2BlobPrefix) {
		t.Error("something like a base64 XOAUTH2 initial response (user=...auth=Bearer ...) appears in the output")
	}
	if t.Failed() {
		t.Logf("captured %d bytes of output", len(logs))
	}
}
