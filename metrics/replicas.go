package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"ledgerdesk/models"
)

// The read replicas, as the models' poller last saw them: read at each
// scrape, no query.

var (
	replicaReadsDesc = prometheus.NewDesc("ledgerdesk_db_replica_reads_total",
		"Reads of the pages replicas may serve (users list and search, user pages, audit list, chart and history, exports), by the target that served them: primary, or a replica's host:port. Counted while replicas are configured.",
		[]string{"target"}, nil)
	replicaFallbacksDesc = prometheus.NewDesc("ledgerdesk_db_replica_fallbacks_total",
		"Reads a replica failed that ran again on the primary.", nil, nil)
	replicaServingDesc = prometheus.NewDesc("ledgerdesk_db_replica_serving",
		"1 while a replica serves reads (answers, is a standby, lags within --replica-max-lag), else 0.",
		[]string{"replica"}, nil)
	replicaLagDesc = prometheus.NewDesc("ledgerdesk_db_replica_lag_seconds",
		"How far a replica is behind the primary: the time since the primary first had WAL the replica has not replayed (0 when caught up).",
		[]string{"replica"}, nil)
	replicaLagBytesDesc = prometheus.NewDesc("ledgerdesk_db_replica_lag_bytes",
		"The WAL a replica has still to replay, at the last poll.",
		[]string{"replica"}, nil)
)

// replicaCollector reads the replicas' state; without replicas the reads
// counter's primary series alone is served, at 0.
type replicaCollector struct{ db *models.DB }

func (replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{replicaReadsDesc, replicaFallbacksDesc, replicaServingDesc, replicaLagDesc, replicaLagBytesDesc} {
		ch <- d
	}
}

func (c replicaCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.db.ReplicaStats()
	ch <- prometheus.MustNewConstMetric(replicaReadsDesc, prometheus.CounterValue, float64(s.PrimaryReads), "primary")
	ch <- prometheus.MustNewConstMetric(replicaFallbacksDesc, prometheus.CounterValue, float64(s.FellBack))
	for _, r := range s.Replicas {
		serving := 0.0
		if r.Serving {
			serving = 1
		}
		ch <- prometheus.MustNewConstMetric(replicaReadsDesc, prometheus.CounterValue, float64(r.Reads), r.Name)
		ch <- prometheus.MustNewConstMetric(replicaServingDesc, prometheus.GaugeValue, serving, r.Name)
		ch <- prometheus.MustNewConstMetric(replicaLagDesc, prometheus.GaugeValue, r.Lag.Seconds(), r.Name)
		ch <- prometheus.MustNewConstMetric(replicaLagBytesDesc, prometheus.GaugeValue, float64(r.LagBytes), r.Name)
	}
}
