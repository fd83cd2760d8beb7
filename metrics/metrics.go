// Package metrics keeps the portal's Prometheus metrics on a registry of
// its own and serves them on a listener apart from the portal's: HTTP
// requests, the database pool, audited commits and the audit chain,
// sign-ins and password hashing, webhooks, and the Go runtime. Models know
// nothing of Prometheus: they report events to an Observer (events.go) and
// keep state that is read at scrape time (state.go, figures.go).
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ledgerdesk/models"
)

// Path is where the metrics listener serves them.
const Path = "/metrics"

// scrapeTimeout bounds a scrape, should a collector hang all the same;
// the database figures have their own, shorter bound (figures.go).
const scrapeTimeout = 5 * time.Second

// Metrics is the portal's metrics over one database.
type Metrics struct {
	reg *prometheus.Registry

	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	// series caches each request label set's counter and histogram, so a
	// request costs a map read rather than building and hashing labels.
	seriesMu sync.RWMutex
	series   map[requestKey]requestSeries

	rateLimited *prometheus.CounterVec

	auditChanges  prometheus.Histogram
	auditCommits  prometheus.Histogram
	auditFailures prometheus.Counter
	verifications *prometheus.CounterVec

	signIns *prometheus.CounterVec

	attempts         *prometheus.CounterVec
	endpointFailures *prometheus.CounterVec
	attemptDurations prometheus.Histogram
}

// New registers the portal's metrics, reading db's state at each scrape,
// and has db report its events to them.
func New(db *models.DB) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), series: map[requestKey]requestSeries{}}
	m.registerRequests()
	m.registerEvents()
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		poolCollector{db},
		replicaCollector{db},
		passwordHashingCollector{},
		newFiguresCollector(db),
	)
	db.Observe(m)
	return m
}

// Registry is where the metrics are registered, for tests that gather
// them directly.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler answers a scrape in Prometheus' text (or protobuf) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A collector that fails leaves its metrics out; the others are
		// still served.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             scrapeTimeout,
	})
}

// Server serves Handler at Path, and nothing else, for the metrics
// listener.
func (m *Metrics) Server() *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, m.Handler())
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      2 * scrapeTimeout,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}
