package models_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// BenchmarkCreateEndUser_Postgres measures user creation, the busiest
// audited write of the API (a row, its entry and a USER_CREATED event),
// from one client and from sixteen at once.
func BenchmarkCreateEndUser_Postgres(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			db := testdb.Postgres(b)
			run := models.RandomHex(4)
			benchClients(b, clients, func(n int64) error {
				_, err := db.CreateEndUser(ctx, systemOrigin, models.EndUserInput{ClientUserID: fmt.Sprintf("bench-%s-%d", run, n)})
				return err
			})
		})
	}
}

// BenchmarkApply_Postgres measures audited writes that change nothing but
// the log, from one client and from sixteen at once; it reports writes per
// second and each write's mean latency.
func BenchmarkApply_Postgres(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			db := testdb.Postgres(b)
			benchClients(b, clients, func(int64) error {
				return db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
					return models.Change{Action: "bench.apply", Target: models.Target{Type: "bench"}}, nil
				})
			})
		})
	}
}

// benchClients runs b.N calls of write from that many concurrent clients
// and reports writes per second and each write's mean latency.
func benchClients(b *testing.B, clients int, write func(n int64) error) {
	var next, spent atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				t0 := time.Now()
				err := write(n)
				spent.Add(int64(time.Since(t0)))
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
	b.ReportMetric(float64(spent.Load())/float64(b.N)/1e6, "ms/write")
}
