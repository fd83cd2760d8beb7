package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// UnmatchedRoute is the route label of a request no route matched: every
// unknown path counts under it, so no path a client makes up becomes a
// label.
const UnmatchedRoute = "unmatched"

// requestBuckets are the request latency histogram's bounds, in seconds:
// pages answer in about a millisecond, a password check in a tenth of a
// second, and requests end after 5 seconds of database work.
var requestBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func (m *Metrics) registerRequests() {
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ledgerdesk_http_requests_total",
		Help: "Requests answered by the portal, by route pattern, method and status.",
	}, []string{"route", "method", "status"})
	m.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ledgerdesk_http_request_duration_seconds",
		Help:    "Time from a request's arrival to its answer, by route pattern and method.",
		Buckets: requestBuckets,
	}, []string{"route", "method"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ledgerdesk_rate_limited_total",
		Help: "Requests refused with 429 by a per-address or per-caller limit, by limit: credentials (sign-in and the other credential forms, per address), api (per API key or user_token).",
	}, []string{"limit"})
	for _, l := range []string{LimitCredentials, LimitAPI} {
		m.rateLimited.WithLabelValues(l)
	}
	m.reg.MustRegister(m.requests, m.durations, m.rateLimited)
}

type requestKey struct {
	route, method string
	status        int
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// ObserveRequest counts one answered request. route is the Fiber route
// pattern that served it ("" for none: UnmatchedRoute), never its path.
func (m *Metrics) ObserveRequest(route, method string, status int, took time.Duration) {
	if route == "" {
		route = UnmatchedRoute
	}
	k := requestKey{route, methodLabel(method), status}
	m.seriesMu.RLock()
	s, ok := m.series[k]
	m.seriesMu.RUnlock()
	if !ok {
		s = m.newSeries(k)
	}
	s.count.Inc()
	s.duration.Observe(took.Seconds())
}

// newSeries makes and keeps the series of a label set seen for the first
// time. Routes come from the route table and methods and statuses from
// short fixed lists, so the map stays small.
func (m *Metrics) newSeries(k requestKey) requestSeries {
	s := requestSeries{
		count:    m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.status)),
		duration: m.durations.WithLabelValues(k.route, k.method),
	}
	m.seriesMu.Lock()
	m.series[k] = s
	m.seriesMu.Unlock()
	return s
}

// methodLabel is method as a label: one of a fixed set, and never the
// request's own bytes, which fasthttp reuses once the request is done.
func methodLabel(method string) string {
	switch method {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "PATCH":
		return "PATCH"
	case "DELETE":
		return "DELETE"
	case "OPTIONS":
		return "OPTIONS"
	}
	return "other"
}

// The limits RateLimited names.
const (
	LimitCredentials = "credentials"
	LimitAPI         = "api"
)

// RateLimited counts a request refused by limit.
func (m *Metrics) RateLimited(limit string) { m.rateLimited.WithLabelValues(limit).Inc() }
