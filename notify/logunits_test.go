package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// checkLogUnits lists the JSON log records' time spans that are not an
// integer number of milliseconds in a key ending in _ms: a Go duration
// ("6.88ms", or nanoseconds as a bare number under a key without a unit)
// reads differently from every other line. It also returns the _ms keys
// seen, by message.
func checkLogUnits(logs string) (problems []string, seen map[string][]string) {
	seen = map[string][]string{}
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for line := range strings.Lines(logs) {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			errorf("log line is not JSON: %v: %s", err, line)
			continue
		}
		msg, _ := rec["msg"].(string)
		var walk func(prefix string, m map[string]any)
		walk = func(prefix string, m map[string]any) {
			for k, v := range m {
				key := prefix + k
				if sub, ok := v.(map[string]any); ok {
					walk(key+".", sub)
					continue
				}
				if strings.HasSuffix(k, "_ms") {
					n, ok := v.(json.Number)
					if _, err := n.Int64(); !ok || err != nil {
						errorf("%q: %s = %v (%T), want an integer of milliseconds", msg, key, v, v)
					}
					seen[msg] = append(seen[msg], key)
					continue
				}
				for _, bare := range []string{"took", "expires_in", "retry_in", "cool_down", "margin", "refresh_before_expiry", "timeout", "wait"} {
					if k == bare {
						errorf("%q: %s = %v: a time span without its unit; want %s_ms", msg, key, v, k)
					}
				}
				if s, ok := v.(string); ok && k != "msg" && k != "time" {
					if _, err := time.ParseDuration(s); err == nil && strings.ContainsAny(s, "hmsµn") {
						errorf("%q: %s = %q is a Go duration; want an integer %s_ms", msg, key, s, k)
					}
				}
			}
		}
		walk("", rec)
	}
	return problems, seen
}

// TestLogUnits: the token cache and the transport log their time spans as
// integer milliseconds (took_ms, expires_in_ms, ...), as the rest of the
// JSON log does.
func TestLogUnits(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 1})
	for _, subject := range []string{"first", "second"} {
		if err := tr.Send(ctxT(t), b.settings, testEmail(subject)); err != nil {
			t.Fatal(err)
		}
	}
	bad := b.settings
	bad.ClientSecret = "not-the-secret"
	bad.Version = 2
	if err := tr.Send(ctxT(t), bad, testEmail("refused")); err == nil {
		t.Fatal("send with a wrong client secret: no error")
	}

	logs := b.logs.String()
	problems, seen := checkLogUnits(logs)
	for _, p := range problems {
		t.Error(p)
	}
	for msg, key := range map[string]string{
		"notify: token: acquired from endpoint, putting it in the token cache": "took_ms",
		"notify: token: from cache":                           "expires_in_ms",
		"notify: smtp: message sent":                          "took_ms",
		"notify: token: request to the token endpoint failed": "took_ms",
	} {
		if !strings.Contains(strings.Join(seen[msg], " "), key) {
			t.Errorf("no %q line with %s; _ms keys seen: %v\n%s", msg, key, seen, logs)
		}
	}
}

// TestCheckLogUnits: the check catches a duration logged as a Go duration
// or without its unit, and passes integer milliseconds.
func TestCheckLogUnits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		bad  bool
	}{
		{`{"msg":"m","took_ms":12}`, false},
		{`{"msg":"m","took_ms":12.5}`, true},
		{`{"msg":"m","took_ms":"12ms"}`, true},
		{`{"msg":"m","took":"6.883024ms"}`, true},
		{`{"msg":"m","cool_down":300000000000}`, true},
		{`{"msg":"m","g":{"wait_for":"1m0s"}}`, true},
		{`{"msg":"m","addr":"127.0.0.1:25","status":"sent"}`, false},
	} {
		problems, _ := checkLogUnits(tc.line + "\n")
		if (len(problems) > 0) != tc.bad {
			t.Errorf("%s: problems %q, want some: %v", tc.line, problems, tc.bad)
		}
	}
}
