package webkit

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

// TestFail: a request that failed because the database is briefly out of
// reach answers 503 with Retry-After and a message that names no cause;
// any other failure answers 500 without Retry-After. Through an installed
// ErrorPage and as plain text.
func TestFail(t *testing.T) {
	t.Parallel()
	const msg500 = "We could not do that just now."
	page := func(w http.ResponseWriter, r *http.Request, status int, message string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, "<p>page: %s</p>", message)
	}
	for _, tc := range []struct {
		name       string
		err        error
		wantStatus int
	}{
		{"store unavailable", fmt.Errorf("postgres: get guest: %w", storage.Unavailable(errors.New("closed pool"))), http.StatusServiceUnavailable},
		{"connection refused", fmt.Errorf("postgres: ping: %w", syscall.ECONNREFUSED), http.StatusServiceUnavailable},
		{"fault", errors.New("postgres: get guest: column missing"), http.StatusInternalServerError},
	} {
		for _, withPage := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/page=%v", tc.name, withPage), func(t *testing.T) {
				t.Parallel()
				var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if got := StatusFor(tc.err); got != tc.wantStatus {
						t.Errorf("StatusFor = %d, want %d", got, tc.wantStatus)
					}
					Fail(w, r, tc.err, msg500)
				})
				if withPage {
					h = WithErrorPage(page, h)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				body := rec.Body.String()
				if rec.Code != tc.wantStatus {
					t.Fatalf("status %d, want %d; body %q", rec.Code, tc.wantStatus, body)
				}
				ra := rec.Header().Get("Retry-After")
				switch tc.wantStatus {
				case http.StatusServiceUnavailable:
					if ra != "60" {
						t.Errorf("Retry-After %q, want 60", ra)
					}
					if !strings.Contains(body, UnavailableMessage) {
						t.Errorf("body %q lacks %q", body, UnavailableMessage)
					}
				default:
					if ra != "" {
						t.Errorf("Retry-After %q on a %d", ra, rec.Code)
					}
					if !strings.Contains(body, msg500) {
						t.Errorf("body %q lacks %q", body, msg500)
					}
				}
				if strings.Contains(body, tc.err.Error()) || strings.Contains(body, "postgres") {
					t.Errorf("body shows the cause: %q", body)
				}
				if withPage != strings.Contains(body, "page: ") {
					t.Errorf("page=%v, body %q", withPage, body)
				}
			})
		}
	}
}
