package webkit

import (
	"net/http/httptest"
	"testing"
)

func TestClientIPForwardedEntries(t *testing.T) {
	t.Parallel()
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
		// X-Real-IP is only the fallback when there is no X-Forwarded-For.
		{"X-Real-IP alone", nil, "203.0.113.5", "203.0.113.5"},
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
		if got := ClientIP(r, true); got != tc.want {
			t.Errorf("%s: ClientIP = %q, want %q", tc.name, got, tc.want)
		}
		if got := ClientIP(r, false); got != "10.0.0.1" {
			t.Errorf("%s: untrusted ClientIP = %q, want the connection's", tc.name, got)
		}
	}
}
