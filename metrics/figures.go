package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ledgerdesk/models"
)

// Figures read from the database: the chain head, the last checkpoint, the
// last verification and the outbox. A scrape reads them at most every figuresTTL, whatever the
// scrape rate and however many processes are scraped, and waits at most
// figuresTimeout for them: when the database does not answer, the scrape
// still does, with ledgerdesk_db_up 0 and these figures left out (a stale
// value would hide the outage from the alerts built on them).
const (
	figuresTTL     = 15 * time.Second
	figuresTimeout = 2 * time.Second
)

var (
	dbUpDesc = prometheus.NewDesc("ledgerdesk_db_up",
		"1 when the database answered the last read of the figures below (at most 15 s old), 0 when it did not: they are then left out.", nil, nil)
	headSeqDesc = prometheus.NewDesc("ledgerdesk_audit_chain_head_seq",
		"The seq of the newest audit entry (the chain head).", nil, nil)
	checkpointAgeDesc = prometheus.NewDesc("ledgerdesk_audit_last_checkpoint_age_seconds",
		"Time since the newest signed audit checkpoint; absent before the first.", nil, nil)
	checkpointSeqDesc = prometheus.NewDesc("ledgerdesk_audit_last_checkpoint_seq",
		"The chain head seq the newest signed audit checkpoint covers; absent before the first.", nil, nil)
	backlogDesc = prometheus.NewDesc("ledgerdesk_webhook_outbox_backlog",
		"Webhook deliveries neither delivered nor given up (due now or waiting for a retry), counted up to 100,000.", nil, nil)
	oldestDueDesc = prometheus.NewDesc("ledgerdesk_webhook_outbox_oldest_due_age_seconds",
		"How long the longest-waiting due webhook delivery has been due; 0 when none is.", nil, nil)
	lastVerifyOKDesc = prometheus.NewDesc("ledgerdesk_audit_last_verification_ok",
		"1 when the newest verification of the whole audit chain that finished, in any process, found it intact, 0 when it found it broken; absent before the first.", nil, nil)
	lastVerifyTimeDesc = prometheus.NewDesc("ledgerdesk_audit_last_verification_timestamp_seconds",
		"When that verification finished (Unix time); absent before the first.", nil, nil)
)

// figuresCollector reads models.MonitoringFigures, keeping each read for
// ttl (a failed one too, so a database that is down is not asked at every
// scrape).
type figuresCollector struct {
	db           *models.DB
	ttl, timeout time.Duration
	now          func() time.Time

	mu      sync.Mutex // one read at a time; a scrape during it waits for its result
	readAt  time.Time
	figures models.MonitoringFigures
	err     error
}

func newFiguresCollector(db *models.DB) *figuresCollector {
	return &figuresCollector{db: db, ttl: figuresTTL, timeout: figuresTimeout, now: time.Now}
}

func (*figuresCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dbUpDesc, headSeqDesc, checkpointAgeDesc, checkpointSeqDesc, backlogDesc, oldestDueDesc,
		lastVerifyOKDesc, lastVerifyTimeDesc} {
		ch <- d
	}
}

func (c *figuresCollector) Collect(ch chan<- prometheus.Metric) {
	f, err := c.read()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(dbUpDesc, prometheus.GaugeValue, 0)
		return
	}
	now := c.now()
	ch <- prometheus.MustNewConstMetric(dbUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(headSeqDesc, prometheus.GaugeValue, float64(f.ChainHeadSeq))
	if f.LastCheckpoint != nil {
		ch <- prometheus.MustNewConstMetric(checkpointAgeDesc, prometheus.GaugeValue, ageAt(now, *f.LastCheckpoint))
		ch <- prometheus.MustNewConstMetric(checkpointSeqDesc, prometheus.GaugeValue, float64(f.LastCheckpointSeq))
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(f.OutboxBacklog))
	oldest := 0.0
	if f.OldestDue != nil {
		oldest = ageAt(now, *f.OldestDue)
	}
	ch <- prometheus.MustNewConstMetric(oldestDueDesc, prometheus.GaugeValue, oldest)
	// A 0 before any verification would read as a broken chain.
	if v := f.LastVerification; v != nil && v.FinishedAt != nil {
		ok := 0.0
		if v.Result().OK() {
			ok = 1
		}
		ch <- prometheus.MustNewConstMetric(lastVerifyOKDesc, prometheus.GaugeValue, ok)
		ch <- prometheus.MustNewConstMetric(lastVerifyTimeDesc, prometheus.GaugeValue, float64(v.FinishedAt.UnixNano())/1e9)
	}
}

// read returns the figures, reading them again once the last read is
// older than ttl. Ages are computed at each scrape from the times kept,
// so they stay exact between reads.
func (c *figuresCollector) read() (models.MonitoringFigures, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.readAt.IsZero() && now.Sub(c.readAt) < c.ttl {
		return c.figures, c.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	c.figures, c.err = c.db.ReadMonitoringFigures(ctx, now)
	c.readAt = c.now()
	return c.figures, c.err
}

// ageAt is the seconds from t to now, never below zero (clocks of several
// processes differ a little).
func ageAt(now, t time.Time) float64 { return max(0, now.Sub(t).Seconds()) }
