package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// BenchBackend is what the benchmarks need from a backend.
type BenchBackend struct {
	Name string
	// New makes a fresh, empty database and returns an opener for it, as
	// Backend.New does.
	New func(b *testing.B) (open func(opts storage.Options) (storage.Store, error))
}

// Bench runs the storage benchmarks: guest inserts and outbox throughput,
// each reported per second.
func Bench(b *testing.B, be BenchBackend) {
	b.Run("CreateGuest", func(b *testing.B) {
		s := benchStore(b, be)
		g := benchGuest()
		i := 0
		for b.Loop() {
			i++
			g.ID, g.CreatedAt, g.UpdatedAt = [16]byte{}, time.Time{}, time.Time{}
			g.Username, g.Email = fmt.Sprintf("bench%d", i), fmt.Sprintf("bench%d@example.com", i)
			if err := s.CreateGuest(b.Context(), g); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
	})
	b.Run("CreateGuestParallel", func(b *testing.B) {
		s := benchStore(b, be)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			g := benchGuest()
			for pb.Next() {
				i := n.Add(1)
				g.ID, g.CreatedAt, g.UpdatedAt = [16]byte{}, time.Time{}, time.Time{}
				g.Username, g.Email = fmt.Sprintf("bench%d", i), fmt.Sprintf("bench%d@example.com", i)
				if err := s.CreateGuest(b.Context(), g); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
	})
	// One message through the outbox as Submit and a worker take it:
	// enqueue, lease by ID, mark sent.
	b.Run("EnqueueLeaseSent", func(b *testing.B) {
		s := benchStore(b, be)
		payload := make([]byte, 2048)
		for b.Loop() {
			m := &storage.OutboxMessage{Kind: "guest.credentials", Recipient: "guest@example.com", Subject: "Your credentials", Payload: payload}
			if err := s.EnqueueMail(b.Context(), m); err != nil {
				b.Fatal(err)
			}
			l, err := s.LeaseMailByID(b.Context(), m.ID, "bench", time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.MarkMailSent(b.Context(), m.ID, l.LeaseToken); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	// The poller's path: enqueue, then lease in batches of 50 and mark sent.
	b.Run("EnqueueThenLeaseBatches", func(b *testing.B) {
		s := benchStore(b, be)
		payload := make([]byte, 2048)
		const batch = 50
		pending := 0
		drain := func() {
			for {
				ms, err := s.LeaseMail(b.Context(), "bench", batch, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				if len(ms) == 0 {
					return
				}
				for _, m := range ms {
					if err := s.MarkMailSent(b.Context(), m.ID, m.LeaseToken); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		for b.Loop() {
			m := &storage.OutboxMessage{Kind: "guest.credentials", Recipient: "guest@example.com", Subject: "Your credentials", Payload: payload}
			if err := s.EnqueueMail(b.Context(), m); err != nil {
				b.Fatal(err)
			}
			if pending++; pending == batch {
				drain()
				pending = 0
			}
		}
		drain()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

func benchStore(b *testing.B, be BenchBackend) storage.Store {
	b.Helper()
	s, err := be.New(b)(storage.Options{Sealer: NewSealer(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchGuest() *storage.Guest {
	now := time.Now()
	return &storage.Guest{Password: "bench-password", FirstName: "Bench", LastName: "Guest", Company: "Acme",
		Status: storage.GuestActive, GuestType: "daily", ValidFrom: now, ValidUntil: now.Add(24 * time.Hour)}
}
