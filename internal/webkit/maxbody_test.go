package webkit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// postRaw sends a form POST of size bytes over a real TCP connection the
// way simple clients do: the whole body first, then the answer is read. A
// small send buffer makes the client wait for the server to read. chunked
// sends it without Content-Length. It returns the answer's status and
// body, or the error that ended the exchange (a reset while sending).
func postRaw(t *testing.T, addr string, size int, chunked bool) (int, string, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetWriteBuffer(16 << 10)
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	head := "POST /form HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/x-www-form-urlencoded\r\n"
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", size)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		return 0, "", err
	}
	chunk := bytes.Repeat([]byte("a"), 8<<10)
	for sent := 0; sent < size; sent += len(chunk) {
		p := chunk[:min(len(chunk), size-sent)]
		if chunked {
			if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(p), p); err != nil {
				return 0, "", fmt.Errorf("after %d bytes: %w", sent, err)
			}
		} else if _, err := conn.Write(p); err != nil {
			return 0, "", fmt.Errorf("after %d bytes: %w", sent, err)
		}
	}
	if chunked {
		if _, err := io.WriteString(conn, "0\r\n\r\n"); err != nil {
			return 0, "", err
		}
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", fmt.Errorf("reading the answer: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", fmt.Errorf("reading the answer's body: %w", err)
	}
	return res.StatusCode, string(body), nil
}

// TestMaxBodyAnswers413OverTCP: a client that sends a body well over the
// limit, declared or chunked, and reads the answer only once it has sent
// it all, gets the 413 answer rather than a reset connection.
func TestMaxBodyAnswers413OverTCP(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	h := MaxBody(limit, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			if IsTooLarge(err) {
				Error(w, r, http.StatusRequestEntityTooLarge, TooLargeMessage)
				return
			}
			Error(w, r, http.StatusBadRequest, "bad form")
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		want    int
	}{
		{"within the limit", limit - 100, false, http.StatusOK},
		{"declared, 14 times the limit", 900 << 10, false, http.StatusRequestEntityTooLarge},
		{"chunked, 14 times the limit", 900 << 10, true, http.StatusRequestEntityTooLarge},
		{"declared, just over", limit + 1, false, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, body, err := postRaw(t, addr, tc.size, tc.chunked)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			if code == http.StatusRequestEntityTooLarge && !strings.Contains(body, TooLargeMessage) {
				t.Fatalf("413 without its message: %q", body)
			}
		})
	}
}
