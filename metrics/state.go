package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"ledgerdesk/models"
)

// State kept in memory, read at each scrape: no query, no wait.

var (
	dbConnectionsDesc = prometheus.NewDesc("ledgerdesk_db_connections",
		"Database connections of this process, by state: in_use (lent to a query or transaction), idle (open and free).",
		[]string{"state"}, nil)
	dbConnectionsMaxDesc = prometheus.NewDesc("ledgerdesk_db_connections_max",
		"The most connections the pool opens (0: no limit).", nil, nil)
	dbWaitsDesc = prometheus.NewDesc("ledgerdesk_db_connection_waits_total",
		"Times a query found no free connection and waited for one to be freed or opened.", nil, nil)
	dbWaitSecondsDesc = prometheus.NewDesc("ledgerdesk_db_connection_wait_seconds_total",
		"Time queries spent waiting for a connection, in all.", nil, nil)
)

// poolCollector reads the connection pool: pgx's on PostgreSQL,
// database/sql's on SQLite.
type poolCollector struct{ db *models.DB }

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dbConnectionsDesc, dbConnectionsMaxDesc, dbWaitsDesc, dbWaitSecondsDesc} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.db.PoolStats()
	ch <- prometheus.MustNewConstMetric(dbConnectionsDesc, prometheus.GaugeValue, float64(s.InUse), "in_use")
	ch <- prometheus.MustNewConstMetric(dbConnectionsDesc, prometheus.GaugeValue, float64(s.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(dbConnectionsMaxDesc, prometheus.GaugeValue, float64(s.Max))
	ch <- prometheus.MustNewConstMetric(dbWaitsDesc, prometheus.CounterValue, float64(s.Waits))
	ch <- prometheus.MustNewConstMetric(dbWaitSecondsDesc, prometheus.CounterValue, s.WaitTime.Seconds())
}

var (
	hashSlotsDesc = prometheus.NewDesc("ledgerdesk_password_hash_slots",
		"Password hashes (argon2id, 64 MiB each) that may run at once.", nil, nil)
	hashSlotsInUseDesc = prometheus.NewDesc("ledgerdesk_password_hash_slots_in_use",
		"Password hashes running.", nil, nil)
	hashQueueDesc = prometheus.NewDesc("ledgerdesk_password_hash_queue",
		"Password checks waiting for a hashing slot.", nil, nil)
	hashesDesc = prometheus.NewDesc("ledgerdesk_password_hashes_total",
		"Password hashes computed, to set or to check a password.", nil, nil)
	hashTimeoutsDesc = prometheus.NewDesc("ledgerdesk_password_hash_queue_timeouts_total",
		"Password checks that waited for a slot in vain and were answered busy (429).", nil, nil)
)

// passwordHashingCollector reads the password-hashing gate, which the
// whole process shares.
type passwordHashingCollector struct{}

func (passwordHashingCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{hashSlotsDesc, hashSlotsInUseDesc, hashQueueDesc, hashesDesc, hashTimeoutsDesc} {
		ch <- d
	}
}

func (passwordHashingCollector) Collect(ch chan<- prometheus.Metric) {
	s := models.PasswordHashing()
	ch <- prometheus.MustNewConstMetric(hashSlotsDesc, prometheus.GaugeValue, float64(s.Slots))
	ch <- prometheus.MustNewConstMetric(hashSlotsInUseDesc, prometheus.GaugeValue, float64(s.InUse))
	ch <- prometheus.MustNewConstMetric(hashQueueDesc, prometheus.GaugeValue, float64(s.Waiting))
	ch <- prometheus.MustNewConstMetric(hashesDesc, prometheus.CounterValue, float64(s.Computed))
	ch <- prometheus.MustNewConstMetric(hashTimeoutsDesc, prometheus.CounterValue, float64(s.TimedOut))
}
