package lobby

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// fullDisk is a store whose writes fail as SQLite's do on a full disk:
// every probe write while probeFull, the outbox's enqueue while mailFull.
// (A real full disk is not portable to set up in a test; the error text is
// the one modernc.org/sqlite returns for SQLITE_FULL.)
type fullDisk struct {
	storage.Store
	probeFull, mailFull atomic.Bool
}

func errFull(op string) error {
	return fmt.Errorf("sqlite: %s: database or disk is full (13)", op)
}

func (s *fullDisk) PutSetting(ctx context.Context, st *storage.Setting) error {
	if s.probeFull.Load() {
		return errFull("put setting " + st.Key)
	}
	return s.Store.PutSetting(ctx, st)
}

func (s *fullDisk) EnqueueMail(ctx context.Context, m *storage.OutboxMessage) error {
	if s.mailFull.Load() {
		return errFull("enqueue mail")
	}
	return s.Store.EnqueueMail(ctx, m)
}

func readyz(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// /readyz says the database cannot write when a write probe fails (at most
// one probe per writeProbeEvery), and for writeFailureHold after the
// dispatcher or the portal saw a write fail for lack of space, even while
// the probe's small write still goes through.
func TestReadyzReportsStoreUnableToWrite(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	raw, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "lobby.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	st := &fullDisk{Store: raw}
	clock := &testClock{}
	l, err := New(Config{Store: st, BaseURL: "https://wifi.example.com/guest", SecretKey: key, Logger: testLogger(t),
		Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h := l.Handler()

	if code, body := readyz(t, h); code != http.StatusOK {
		t.Fatalf("healthy store: readyz = %d %q", code, body)
	}
	if s, err := raw.GetSetting(t.Context(), writeProbeKey); err != nil || s.Version != 1 {
		t.Fatalf("the probe did not write: %+v, %v", s, err)
	}

	st.probeFull.Store(true)
	if code, _ := readyz(t, h); code != http.StatusOK {
		t.Errorf("readyz = %d right after a probe, want the cached 200 (a probe at most every %v)", code, writeProbeEvery)
	}
	clock.Advance(writeProbeEvery)
	if code, body := readyz(t, h); code != http.StatusServiceUnavailable || !strings.Contains(body, "cannot write") {
		t.Errorf("disk full: readyz = %d %q, want 503 saying the database cannot write", code, body)
	}
	st.probeFull.Store(false)
	clock.Advance(writeProbeEvery)
	if code, body := readyz(t, h); code != http.StatusOK {
		t.Errorf("disk freed: readyz = %d %q, want 200", code, body)
	}

	// The outbox cannot grow while the probe's one row still can be
	// rewritten in place: the failure the dispatcher saw keeps readyz red.
	st.mailFull.Store(true)
	f := l.Dispatcher().Submit(t.Context(), notify.Message{Kind: "admin.test", To: []string{"ada@example.net"}, Subject: "Hi", Text: "Hi."})
	if r := f.Wait(t.Context()); r.Status != notify.StatusFailed {
		t.Fatalf("Submit on a full disk: %+v, want failed", r)
	}
	clock.Advance(writeProbeEvery)
	if code, body := readyz(t, h); code != http.StatusServiceUnavailable || !strings.Contains(body, "cannot write") {
		t.Errorf("after a failed enqueue: readyz = %d %q, want 503", code, body)
	}
	st.mailFull.Store(false)
	clock.Advance(writeFailureHold)
	if code, body := readyz(t, h); code != http.StatusOK {
		t.Errorf("%v after the failure: readyz = %d %q, want 200", writeFailureHold, code, body)
	}
}

func TestIsWriteFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errFull("mark mail sent"), true},
		{errors.New("sqlite: lease mail: disk I/O error (10)"), true},
		{errors.New("sqlite: create guest: attempt to write a readonly database (8)"), true},
		{errors.New(`postgres: create guest: ERROR: could not extend file "base/16384/16385": No space left on device (SQLSTATE 53100)`), true},
		{errors.New("postgres: put setting: ERROR: cannot execute UPDATE in a read-only transaction (SQLSTATE 25006)"), true},
		{fmt.Errorf("sqlite: enqueue mail: %w", storage.ErrConflict), false},
		{errors.New("sqlite: lease mail: database is locked (5)"), false},
		{fmt.Errorf("sqlite: mark mail sent: %w", context.DeadlineExceeded), false},
		{fmt.Errorf("wrapped: %w: database or disk is full", context.Canceled), false},
		{nil, false},
	} {
		if got := isWriteFailure(tc.err); got != tc.want {
			t.Errorf("isWriteFailure(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// On a real full disk: LOBBY_TEST_SMALL_FS names an empty directory on a
// small file system the test may fill (for example, as root:
// mount -t tmpfs -o size=3m tmpfs /mnt/small). The database still answers a
// ping there, but /readyz says it cannot write.
func TestReadyzOnARealFullDisk(t *testing.T) {
	dir := os.Getenv("LOBBY_TEST_SMALL_FS")
	if dir == "" {
		t.Skipf("LOBBY_TEST_SMALL_FS is not set: no small file system to fill")
	}
	key := newKey(t)
	st, err := OpenStore(t.Context(), filepath.Join(dir, "lobby.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := New(Config{Store: st, BaseURL: "https://wifi.example.com/guest", SecretKey: key, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if code, body := readyz(t, l.Handler()); code != http.StatusOK {
		t.Fatalf("before the disk is full: readyz = %d %q", code, body)
	}

	filler := filepath.Join(dir, "filler")
	t.Cleanup(func() { os.Remove(filler) })
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			break // full
		}
	}
	f.Close()
	if err := st.Ping(t.Context()); err != nil {
		t.Logf("ping on the full disk: %v", err)
	}
	// A new Lobby: its first /readyz probes at once.
	l2, err := New(Config{Store: st, BaseURL: "https://wifi.example.com/guest", SecretKey: key, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if code, body := readyz(t, l2.Handler()); code != http.StatusServiceUnavailable || !strings.Contains(body, "cannot write") {
		t.Errorf("full disk: readyz = %d %q, want 503 saying the database cannot write", code, body)
	}
}
