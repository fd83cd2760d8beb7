package metrics

import (
	"strconv"
	"testing"
	"time"

	"ledgerdesk/models/testdb"
)

// BenchmarkObserveRequest is what counting one request costs, against
// looking its series up by label values at every request.
//
//	go test ./metrics -run '^$' -bench ObserveRequest -benchmem
func BenchmarkObserveRequest(b *testing.B) {
	m := New(testdb.SQLite(b))
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.ObserveRequest("/users/:id<int>", "GET", 200, time.Millisecond)
		}
	})
	b.Run("WithLabelValues", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.requests.WithLabelValues("/users/:id<int>", "GET", strconv.Itoa(200)).Inc()
			m.durations.WithLabelValues("/users/:id<int>", "GET").Observe(time.Millisecond.Seconds())
		}
	})
}
