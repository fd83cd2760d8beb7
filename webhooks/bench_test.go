package webhooks_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// BenchmarkDeliver10000 delivers 10,000 outbox events to a local receiver
// on PostgreSQL with the worker's default batch and concurrency, as one
// `serve` process would. Run it with
//
//	go test ./webhooks -run '^$' -bench Deliver10000 -benchtime 1x
func BenchmarkDeliver10000(b *testing.B) {
	const events = 10000
	db := testdb.Postgres(b)
	r := newReceiver(b)
	endpointFor(b, db, r)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ids := emit(b, db, events)
		w := newWorker(db, nil)
		b.StartTimer()
		start := time.Now()
		for {
			n, err := w.RunOnce(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		counts := r.counts()
		for _, id := range ids {
			if counts[id] != 1 {
				b.Fatalf("event %s delivered %d times", id, counts[id])
			}
		}
		b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		b.ReportMetric(elapsed.Seconds(), "s/10k")
	}
}

// BenchmarkDeliver10000TwoProcesses is the same with two workers on their
// own connection pools, as two portal processes side by side.
func BenchmarkDeliver10000TwoProcesses(b *testing.B) {
	const events = 10000
	db, dsn := testdb.PostgresWithDSN(b)
	other, err := models.OpenPostgres(dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer other.Close()
	testdb.Configure(b, other)
	r := newReceiver(b)
	endpointFor(b, db, r)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ids := emit(b, db, events)
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for _, d := range []*models.DB{db, other} {
			w := newWorker(d, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := w.RunOnce(context.Background())
					if err != nil {
						b.Error(err)
						return
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		counts := r.counts()
		for _, id := range ids {
			if counts[id] != 1 {
				b.Fatalf("event %s delivered %d times", id, counts[id])
			}
		}
		b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		b.ReportMetric(elapsed.Seconds(), "s/10k")
	}
}
