package api

import (
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/internal/teststore"
	"github.com/lobbyhq/lobby/storage"
)

// BenchmarkTokenCheck measures what authenticating an API request costs
// (the token looked up by its hash with its staff user, then their sponsor
// group read: guest.APITokenActor) against what a signed-in sponsor page
// reads for the same (the staff user by primary key, then their group), in
// the same run: each iteration does both, and the figures are percentiles
// of each and their ratios, with the machine's load average (load-1m).
//
//	go test -run '^$' -bench TokenCheck ./api/
func BenchmarkTokenCheck(b *testing.B) {
	for _, backend := range teststore.Backends {
		b.Run(backend, func(b *testing.B) {
			bb := setup(b, backend, options{})
			st := &storage.Staff{Username: "ann", Email: "ann@corp.example", Role: storage.RoleSponsor, PasswordHash: "$2a$04$unused"}
			if err := bb.store.CreateStaff(b.Context(), st); err != nil {
				b.Fatal(err)
			}
			tok, _ := bb.token(b, st, time.Time{})
			ctx := b.Context()
			var token, page []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, _, err := bb.guests.APITokenActor(ctx, tok); err != nil {
					b.Fatal(err)
				}
				token = append(token, time.Since(start))
				start = time.Now()
				s, err := bb.store.GetStaff(ctx, st.ID)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bb.store.GetSponsorGroup(ctx, s.Group); err != nil {
					b.Fatal(err)
				}
				page = append(page, time.Since(start))
			}
			b.StopTimer()
			tp50, tp99 := percentile(token, 50), percentile(token, 99)
			pp50, pp99 := percentile(page, 50), percentile(page, 99)
			b.ReportMetric(micros(tp50), "token-p50-µs")
			b.ReportMetric(micros(tp99), "token-p99-µs")
			b.ReportMetric(micros(pp50), "staff-read-p50-µs")
			b.ReportMetric(micros(pp99), "staff-read-p99-µs")
			b.ReportMetric(float64(tp50)/float64(pp50), "p50-ratio")
			b.ReportMetric(float64(tp99)/float64(pp99), "p99-ratio")
			b.ReportMetric(loadAverage(), "load-1m")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// loadAverage is the machine's load average over the last minute (Linux;
// -1 elsewhere).
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, err := strconv.ParseFloat(strings.Fields(string(data))[0], 64)
	if err != nil {
		return -1
	}
	return f
}

// percentile returns the p-th percentile (nearest rank) of ds, sorting it.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
