package sponsor

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/internal/passhash"
	"github.com/lobbyhq/lobby/storage"
)

// BenchmarkSignInTiming compares the time a wrong password for a known
// user takes with the time an unknown username takes (the dummy hash
// check), interleaved in one run, as p50 and p99 and their ratios: an
// attacker must not tell the two apart by timing.
func BenchmarkSignInTiming(b *testing.B) {
	bb := setup(b, "sqlite", nil)
	hash, err := passhash.Hash(pw) // the real cost, as user add writes it
	if err != nil {
		b.Fatal(err)
	}
	st := &storage.Staff{Username: "sally", Role: storage.RoleSponsor, PasswordHash: hash}
	if err := bb.store.CreateStaff(b.Context(), st); err != nil {
		b.Fatal(err)
	}
	c := bb.client(b)
	token := c.csrf("/login")
	try := func(user string) time.Duration {
		start := time.Now()
		r := c.post("/login", token, url.Values{"username": {user}, "password": {"not the password"}})
		d := time.Since(start)
		if r.status != http.StatusUnauthorized {
			b.Fatalf("sign in as %s: %d", user, r.status)
		}
		return d
	}
	var known, unknown []time.Duration
	for b.Loop() {
		known = append(known, try("sally"))
		unknown = append(unknown, try("nobody"))
		b.StopTimer()
		if err := bb.store.RecordStaffLogin(b.Context(), st.ID, bb.clock.Now()); err != nil { // no pause: measure the check
			b.Fatal(err)
		}
		b.StartTimer()
	}
	pct := func(ds []time.Duration, p float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)-1, int(float64(len(s))*p))]
	}
	k50, k99, u50, u99 := pct(known, .5), pct(known, .99), pct(unknown, .5), pct(unknown, .99)
	b.ReportMetric(float64(u50)/float64(k50), "unknown/known-p50")
	b.ReportMetric(float64(u99)/float64(k99), "unknown/known-p99")
	if b.N > 1 {
		fmt.Printf("sign-in timing (n=%d): known user, wrong password p50 %v p99 %v; unknown user p50 %v p99 %v\n",
			len(known), k50, k99, u50, u99)
	}
}
