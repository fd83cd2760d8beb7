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

// BenchmarkApply_Postgres measures audited writes that change nothing but
// the log, from one client and from sixteen at once; it reports writes per
// second and each write's mean latency.
func BenchmarkApply_Postgres(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			db := testdb.Postgres(b)
			var next atomic.Int64
			var spent atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						err := db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
							return models.Change{Action: "bench.apply", Target: models.Target{Type: "bench"}}, nil
						})
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
		})
	}
}
