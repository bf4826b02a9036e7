package portal

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

// typeCountingStore counts the reads of guest types.
type typeCountingStore struct {
	storage.Store
	reads atomic.Int64
}

func (s *typeCountingStore) GetGuestType(ctx context.Context, name string) (*storage.GuestType, error) {
	s.reads.Add(1)
	return s.Store.GetGuestType(ctx, name)
}

// TestGuestTypeReadOnceForARegistration: the form and its POST read the
// default guest type from the store once between them (it is kept for
// guestTypeTTL), and the page still shows its validity and the terms.
func TestGuestTypeReadOnceForARegistration(t *testing.T) {
	t.Parallel()
	counter := &typeCountingStore{}
	b := setup(t, func(cfg *Config) {
		counter.Store = cfg.Store
		cfg.Store = counter
		cfg.Policy.Terms = "First paragraph.\n\nSecond paragraph."
	})
	before := counter.reads.Load() // New makes sure the type exists
	c := b.client(t)
	form := c.registerForm()
	if r := c.post(mount+"/register", form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST register: %d\n%s", r.StatusCode, r.body)
	}
	if n := counter.reads.Load() - before; n != 1 {
		t.Fatalf("a registration read the guest type %d times, want 1", n)
	}
	page := c.get(mount + "/register").body
	for _, want := range []string{"1 day", "First paragraph.", "Second paragraph."} {
		if !strings.Contains(page, want) {
			t.Errorf("the register page lacks %q", want)
		}
	}
}
