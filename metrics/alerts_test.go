package metrics_test

import (
	"crypto/ed25519"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"ledgerdesk/metrics"
	"ledgerdesk/metrics/metricstest"
	"ledgerdesk/models/testdb"
)

const alertsFile = "../deploy/prometheus-alerts.yml"

// alertRules is the part of Prometheus' rule file format the file uses.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var metricName = regexp.MustCompile(`\bledgerdesk_[a-z0-9_]+`)

// The committed alert rules parse as a Prometheus rule file and name only
// metrics the portal serves; the operations guide shows the same rules.
func TestAlertRules_ParseAndNameMetricsThatExist(t *testing.T) {
	raw, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var file alertRules
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}

	// A portal with a checkpoint signed and a verification done serves
	// every metric, including those absent before either.
	db := testdb.SQLite(t)
	m := metrics.New(db)
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCheckpoint(ctx, system, key); err != nil {
		t.Fatal(err)
	}
	recordVerification(t, db)
	served := metricstest.Get(t, m.Handler())

	var alerts []string
	for _, g := range file.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q has no name or no rules", g.Name)
		}
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" {
				t.Errorf("rule %q: an alert needs a name and an expression", r.Alert)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("rule %s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("rule %s: want a severity label, a summary and a description", r.Alert)
			}
			names := metricName.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("rule %s names no ledgerdesk metric: %s", r.Alert, r.Expr)
			}
			for _, name := range names {
				if served[name] == nil {
					t.Errorf("rule %s uses %s, which the portal does not serve", r.Alert, name)
				}
			}
		}
	}
	want := []string{"LedgerdeskAuditChainVerificationFailed", "LedgerdeskAuditCheckpointStale", "LedgerdeskWebhookBacklogGrowing"}
	if strings.Join(alerts, " ") != strings.Join(want, " ") {
		t.Errorf("alerts %v, want %v", alerts, want)
	}

	guide, err := os.ReadFile(operationsGuide)
	if err != nil {
		t.Fatal(err)
	}
	rules := string(raw[strings.Index(string(raw), "groups:"):])
	if !strings.Contains(string(guide), rules) {
		t.Errorf("%s does not show the rules of %s as they are", operationsGuide, alertsFile)
	}
}
