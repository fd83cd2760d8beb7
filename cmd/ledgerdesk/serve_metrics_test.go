package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"ledgerdesk/metrics/metricstest"
)

var metricsAt = regexp.MustCompile(`Metrics at (http://\S+)`)

// With --metrics-listen, serve answers scrapes on that listener, counting
// the portal's requests by route; the portal's own port serves no metrics.
func TestServe_MetricsListenerServesTheMetricsApartFromThePortal(t *testing.T) {
	s := startServe(t, env("LEDGERDESK_NO_DEMO_DATA", "on", "LEDGERDESK_METRICS_LISTEN", "127.0.0.1:0"), "--data", t.TempDir())
	m := metricsAt.FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("serve did not say where its metrics are:\n%s", s.stdout)
	}
	if !strings.HasSuffix(m[1], "/metrics") || strings.TrimSuffix(strings.TrimPrefix(m[1], "http://"), "/metrics") == s.Addr {
		t.Fatalf("metrics at %s, the portal at %s: want a listener of their own", m[1], s.URL)
	}

	c := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/login", "/metrics"} {
		resp, err := c.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if path == "/metrics" && resp.StatusCode == http.StatusOK {
			t.Errorf("the portal's port answers GET /metrics with 200")
		}
	}
	scrape := metricstest.Fetch(t, m[1])
	if n, _ := scrape.Value("ledgerdesk_http_requests_total", "route", "/login", "method", "GET", "status", "200"); n != 1 {
		t.Errorf("GET /login counted %v times, want 1", n)
	}
	if up, _ := scrape.Value("ledgerdesk_db_up"); up != 1 {
		t.Errorf("ledgerdesk_db_up = %v, want 1", up)
	}
	if scrape["process_resident_memory_bytes"] == nil || scrape["go_goroutines"] == nil {
		t.Errorf("the runtime's metrics are missing: %s", scrape.Names())
	}
}
