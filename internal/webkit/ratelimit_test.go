package webkit

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

func TestClientIPForwardedEntries(t *testing.T) {
	t.Parallel()
	xff := ProxyTrust{Header: XForwardedFor}
	for _, tc := range []struct {
		name   string
		xff    []string // X-Forwarded-For header lines
		realIP string
		want   string
	}{
		{"plain v4", []string{"203.0.113.9"}, "", "203.0.113.9"},
		{"last of a list", []string{"203.0.113.9, 198.51.100.7"}, "", "198.51.100.7"},
		{"last header line", []string{"203.0.113.9", "198.51.100.7"}, "", "198.51.100.7"},
		{"v4 with port", []string{"198.51.100.7:4711"}, "", "198.51.100.7"},
		{"v6 bracketed with port", []string{"[2001:db8::7]:4711"}, "", "2001:db8::7"},
		{"v6 bracketed without port", []string{"[2001:db8::7]"}, "", "2001:db8::7"},
		{"v6 bare", []string{"2001:db8::7"}, "", "2001:db8::7"},
		{"v4-mapped v6", []string{"::ffff:198.51.100.7"}, "", "198.51.100.7"},
		{"spaces", []string{" 203.0.113.9 ,  198.51.100.7:80 "}, "", "198.51.100.7"},
		// X-Real-IP is not read when X-Forwarded-For is the trusted header.
		{"X-Real-IP alone: the connection", nil, "203.0.113.5", "10.0.0.1"},
		{"X-Real-IP ignored beside X-Forwarded-For", []string{"198.51.100.7"}, "203.0.113.5", "198.51.100.7"},
		{"unreadable X-Forwarded-For: the connection, not X-Real-IP", []string{"unknown"}, "203.0.113.5", "10.0.0.1"},
		{"empty X-Forwarded-For entry", []string{"198.51.100.7, "}, "203.0.113.5", "10.0.0.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.1:5555"
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if tc.realIP != "" {
			r.Header.Set("X-Real-IP", tc.realIP)
		}
		if got := xff.ClientIP(r); got != tc.want {
			t.Errorf("%s: ClientIP = %q, want %q", tc.name, got, tc.want)
		}
		if got := (ProxyTrust{}).ClientIP(r); got != "10.0.0.1" {
			t.Errorf("%s: untrusted ClientIP = %q, want the connection's", tc.name, got)
		}
	}
}

// TestClientIPFromTheConfiguredHeaderOnly: the client's address comes from
// the header the proxy sets, and from the entry the trusted proxies added,
// never from a header or an entry the client sent. (With the old
// --trust-proxy-headers, the first case gave the client's own
// X-Forwarded-For entry, 192.0.2.66, as the key.)
func TestClientIPFromTheConfiguredHeaderOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		trust ProxyTrust
		hdr   [][2]string // header lines in order
		want  string
	}{
		{"nginx X-Real-IP: a client-sent X-Forwarded-For does not count", ProxyTrust{Header: "X-Real-IP"},
			[][2]string{{"X-Forwarded-For", "192.0.2.66"}, {"X-Real-IP", "203.0.113.5"}}, "203.0.113.5"},
		{"header name in any case", ProxyTrust{Header: "x-real-ip"},
			[][2]string{{"X-Real-IP", "203.0.113.5"}}, "203.0.113.5"},
		{"X-Real-IP missing: the connection", ProxyTrust{Header: "X-Real-IP"},
			[][2]string{{"X-Forwarded-For", "192.0.2.66"}}, "10.0.0.1"},
		{"X-Real-IP twice: the connection", ProxyTrust{Header: "X-Real-IP"},
			[][2]string{{"X-Real-IP", "192.0.2.66"}, {"X-Real-IP", "203.0.113.5"}}, "10.0.0.1"},
		{"X-Real-IP as a list: the connection", ProxyTrust{Header: "X-Real-IP"},
			[][2]string{{"X-Real-IP", "192.0.2.66, 203.0.113.5"}}, "10.0.0.1"},
		{"CF-Connecting-IP", ProxyTrust{Header: "CF-Connecting-IP"},
			[][2]string{{"X-Forwarded-For", "192.0.2.66"}, {"Cf-Connecting-Ip", "2001:db8::9"}}, "2001:db8::9"},
		{"X-Forwarded-For, one proxy: the client's own entries are left of it", ProxyTrust{Header: XForwardedFor, Hops: 1},
			[][2]string{{"X-Forwarded-For", "192.0.2.66, 192.0.2.67, 203.0.113.5"}}, "203.0.113.5"},
		{"X-Forwarded-For, two proxies (CDN, then nginx)", ProxyTrust{Header: XForwardedFor, Hops: 2},
			[][2]string{{"X-Forwarded-For", "192.0.2.66, 203.0.113.5, 198.51.100.1"}}, "203.0.113.5"},
		{"X-Forwarded-For, two proxies over two header lines", ProxyTrust{Header: XForwardedFor, Hops: 2},
			[][2]string{{"X-Forwarded-For", "192.0.2.66"}, {"X-Forwarded-For", "203.0.113.5"}, {"X-Forwarded-For", "198.51.100.1"}}, "203.0.113.5"},
		{"X-Forwarded-For, three proxies, fewer entries: the leftmost", ProxyTrust{Header: XForwardedFor, Hops: 3},
			[][2]string{{"X-Forwarded-For", "203.0.113.5, 198.51.100.1"}}, "203.0.113.5"},
		{"X-Forwarded-For, Hops 0 is 1", ProxyTrust{Header: XForwardedFor},
			[][2]string{{"X-Forwarded-For", "192.0.2.66, 203.0.113.5"}}, "203.0.113.5"},
		{"X-Forwarded-For, garbage at the trusted position", ProxyTrust{Header: XForwardedFor, Hops: 2},
			[][2]string{{"X-Forwarded-For", "192.0.2.66, unknown, 198.51.100.1"}}, "10.0.0.1"},
		{"nothing trusted", ProxyTrust{},
			[][2]string{{"X-Forwarded-For", "192.0.2.66"}, {"X-Real-IP", "192.0.2.67"}}, "10.0.0.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.1:5555"
		for _, h := range tc.hdr {
			r.Header.Add(h[0], h[1])
		}
		if got := tc.trust.ClientIP(r); got != tc.want {
			t.Errorf("%s: ClientIP = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A limiter keeps at most MaxKeys buckets: full (refilled) ones go first,
// then the least recently used, and the busy client keeps its bucket.
func TestRateLimiterCapsItsBuckets(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := NewRateLimiter(1, 2, clk.Now, MaxKeys(100))
	busy := "busy"
	l.Allow(busy)
	l.Allow(busy) // empty now
	for i := range 1000 {
		key := fmt.Sprintf("k%d", i)
		l.Allow(key)
		if i%10 == 0 {
			l.Allow(busy) // stays recently used, and empty
		}
		if n := l.Len(); n > 100 {
			t.Fatalf("after %d keys the limiter holds %d buckets, want at most 100", i+1, n)
		}
	}
	if ok, _ := l.Allow(busy); ok {
		t.Fatal("the busy client's empty bucket was evicted: it got a fresh burst")
	}
	// A second later every bucket but the busy one has refilled: a sweep
	// at the cap drops those first.
	clk.Advance(2 * time.Second)
	for i := range 5 {
		l.Allow(fmt.Sprintf("new%d", i))
	}
	if n := l.Len(); n > 100 {
		t.Fatalf("%d buckets", n)
	}
}

// Evicting at the cap is amortised: the limiter does not scan its whole map
// on every request once it is full.
func TestRateLimiterSweepIsAmortised(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := NewRateLimiter(0.001, 1, clk.Now, MaxKeys(1000))
	for i := range 20_000 {
		l.Allow(fmt.Sprintf("k%d", i)) // every bucket stays empty: nothing refills
	}
	// 19,000 keys past the cap; a full scan per request would visit about
	// 19,000,000 buckets.
	if v := l.visited; v > 400_000 {
		t.Fatalf("evicting visited %d buckets for 20,000 requests: not amortised", v)
	}
	if n := l.Len(); n > 1000 {
		t.Fatalf("%d buckets, want at most 1000", n)
	}
}
