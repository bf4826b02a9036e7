package webkit

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCookieValueAgreesWithRequestCookie checks that Get's cookie lookup
// finds what r.Cookie finds, on well- and ill-formed Cookie headers.
func TestCookieValueAgreesWithRequestCookie(t *testing.T) {
	for _, lines := range [][]string{
		nil,
		{"s=abc.def"},
		{"a=1; s=abc.def; b=2"},
		{"  s = abc.def  "},
		{"s=\"abc.def\""},
		{"s=\""},
		{"s=bad\\value; s=good"},
		{"s=bad value\x01", "s=second"},
		{"ss=no; s=yes"},
		{"s"},
		{"s="},
		{";;s=x;;"},
		{"a=1", "b=2; s=third-line"},
		{strings.Repeat("a=1;", maxCookies) + "s=over-the-limit"},
		{strings.Repeat("a=1;", maxCookies-2) + "s=at-the-limit"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		for _, l := range lines {
			r.Header.Add("Cookie", l)
		}
		want, err := r.Cookie("s")
		got, ok := cookieValue(r, "s")
		if ok != (err == nil) || (ok && got != want.Value) {
			t.Errorf("Cookie %.60q: cookieValue = %q, %v; r.Cookie = %v, %v", lines, got, ok, want, err)
		}
	}
}

// TestDecodeBase64AgreesWithDecodeString checks the piecewise decoding
// against the standard one, at lengths around the pieces' and in error.
func TestDecodeBase64AgreesWithDecodeString(t *testing.T) {
	for n := range 100 {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		s := base64.RawURLEncoding.EncodeToString(data)
		for _, in := range []string{s, s + "A", s + "!", "=" + s} {
			want, err := base64.RawURLEncoding.DecodeString(in)
			var buf [16]byte
			got, ok := decodeBase64(buf[:0], in)
			if ok != (err == nil) || (ok && string(got) != string(want)) {
				t.Errorf("decode %q: %x, %v; want %x, %v", in, got, ok, want, err)
			}
		}
	}
}

// TestSessionsGetAllocations checks that reading a session allocates only
// the strings it returns (one for all of them) and the cookie name's.
func TestSessionsGetAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops states at random")
	}
	s := NewSessions([]byte("0123456789abcdef0123456789abcdef"), "sess", 3600e9, false)
	rec := httptest.NewRecorder()
	s.Set(rec, httptest.NewRequest("GET", "/", nil), "guest-1")
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	if _, ok := s.Get(r); !ok {
		t.Fatal("Get: no session")
	}
	if n := testing.AllocsPerRun(100, func() { s.Get(r) }); n > 1 {
		t.Errorf("Get allocates %v times, want 1 (the session's strings)", n)
	}
}
