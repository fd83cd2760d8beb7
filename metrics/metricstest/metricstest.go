// Package metricstest scrapes metrics the way Prometheus does, from a
// handler or over the network, and reads the answer, for tests.
package metricstest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one scrape's metric families, by name.
type Scrape map[string]*dto.MetricFamily

// Get scrapes h, as the metrics listener serves it.
func Get(t testing.TB, h http.Handler) Scrape {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	return parse(t, rec.Body)
}

// Fetch scrapes url over the network.
func Fetch(t testing.TB, url string) Scrape {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: status %d: %s", url, resp.StatusCode, body)
	}
	return parse(t, resp.Body)
}

func parse(t testing.TB, r io.Reader) Scrape {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("scrape: not Prometheus' text format: %v", err)
	}
	return families
}

// Series is the series of name whose labels include every name, value pair
// in labels, in the order scraped.
func (s Scrape) Series(name string, labels ...string) []*dto.Metric {
	f := s[name]
	if f == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range f.GetMetric() {
		if hasLabels(m, labels) {
			out = append(out, m)
		}
	}
	return out
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Value is the value of name's one series with labels (a counter's or a
// gauge's, a histogram's count of observations), and whether there is
// exactly one such series.
func (s Scrape) Value(name string, labels ...string) (float64, bool) {
	series := s.Series(name, labels...)
	if len(series) != 1 {
		return 0, false
	}
	m := series[0]
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount()), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// LabelValues is every value label takes among name's series.
func (s Scrape) LabelValues(name, label string) []string {
	var out []string
	for _, m := range s.Series(name) {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

// Names is every metric family's name, for messages.
func (s Scrape) Names() string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	return strings.Join(names, " ")
}
