package notify

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// BenchmarkSend compares the pooled transport (one token, reused
// connections) with the naive path of the product Lobby follows (a token
// and a connection per message), over loopback TCP+TLS to the emulator.
//
//	go test -run '^$' -bench BenchmarkSend ./notify/
func BenchmarkSend(b *testing.B) {
	bb := deliverySetup(b, exchangetest.Options{})
	ctx := context.Background()
	e := testEmail("benchmark")

	b.Run("pooled", func(b *testing.B) {
		tr := bb.transport(b, TransportOptions{PoolSize: 1})
		for b.Loop() {
			if err := tr.Send(ctx, bb.settings, e); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		bb.srv.ResetMailbox()
	})
	b.Run("pooled-8-senders", func(b *testing.B) {
		tr := bb.transport(b, TransportOptions{PoolSize: 8})
		b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0))) // about 8 senders
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := tr.Send(ctx, bb.settings, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		bb.srv.ResetMailbox()
	})
	b.Run("naive", func(b *testing.B) {
		for b.Loop() {
			if err := SendNaive(ctx, bb.settings, e); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		bb.srv.ResetMailbox()
	})
	// Both in one loop, so that they share conditions; x-faster is the ratio.
	b.Run("speedup", func(b *testing.B) {
		tr := bb.transport(b, TransportOptions{PoolSize: 1})
		if err := tr.Send(ctx, bb.settings, e); err != nil { // warm: token and connection
			b.Fatal(err)
		}
		var naive, pooled time.Duration
		for b.Loop() {
			t0 := time.Now()
			if err := SendNaive(ctx, bb.settings, e); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := tr.Send(ctx, bb.settings, e); err != nil {
				b.Fatal(err)
			}
			naive += t1.Sub(t0)
			pooled += time.Since(t1)
		}
		b.ReportMetric(float64(naive)/float64(pooled), "x-faster")
		b.ReportMetric(float64(b.N)/naive.Seconds(), "naive-msgs/s")
		b.ReportMetric(float64(b.N)/pooled.Seconds(), "pooled-msgs/s")
		bb.srv.ResetMailbox()
	})
}

// What the benchmark's ratio comes from, counted rather than timed: the
// naive path pays a token request and a TLS connection for every message,
// the pool one of each for all of them. (Speed itself is measured by
// BenchmarkSend, never asserted in a test.)
func TestPooledReusesWhatNaivePaysPerMessage(t *testing.T) {
	t.Parallel()
	const n = 10
	ctx := ctxT(t)
	e := testEmail("counted")

	naive := deliverySetup(t, exchangetest.Options{})
	for range n {
		if err := SendNaive(ctx, naive.settings, e); err != nil {
			t.Fatal(err)
		}
	}
	if tok, conns := naive.srv.TokenRequests(), naive.srv.SMTPConnections(); tok != n || conns != n {
		t.Errorf("naive: %d token requests and %d connections for %d messages, want %d of each", tok, conns, n, n)
	}

	pooled := deliverySetup(t, exchangetest.Options{})
	tr := pooled.transport(t, TransportOptions{PoolSize: 1})
	for range n {
		if err := tr.Send(ctx, pooled.settings, e); err != nil {
			t.Fatal(err)
		}
	}
	if tok, conns := pooled.srv.TokenRequests(), pooled.srv.SMTPConnections(); tok != 1 || conns != 1 {
		t.Errorf("pooled: %d token requests and %d connections for %d messages, want 1 of each", tok, conns, n)
	}
}
