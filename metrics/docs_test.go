package metrics_test

import (
	"crypto/ed25519"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"ledgerdesk/metrics"
	"ledgerdesk/metrics/metricstest"
	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// operationsGuide is where operators read what each metric means.
const operationsGuide = "../docs/operations.md"

// docRow is one line of the guide's metrics table: | `name` | type | labels | meaning |.
var docRow = regexp.MustCompile("^\\| `((?:ledgerdesk|go|process)_[a-z0-9_*]+)` \\|\\s*([a-z]*)\\s*\\|([^|]*)\\|")

// The operations guide lists every metric the portal serves, with its
// type and labels, and nothing it does not serve.
func TestMetrics_OperationsGuideListsEveryMetricAsServed(t *testing.T) {
	guide, err := os.ReadFile(operationsGuide)
	if err != nil {
		t.Fatal(err)
	}
	type listed struct{ kind, labels string }
	documented := map[string]listed{}
	for _, line := range strings.Split(string(guide), "\n") {
		if m := docRow.FindStringSubmatch(line); m != nil {
			labels := strings.Fields(strings.NewReplacer("`", "", ",", " ").Replace(m[3]))
			slices.Sort(labels)
			documented[m[1]] = listed{m[2], strings.Join(labels, ",")}
		}
	}
	if len(documented) < 10 {
		t.Fatalf("%s lists %d metrics: is the metrics table still there?", operationsGuide, len(documented))
	}

	// Every series exists once each event has happened: a request, a
	// refusal, a commit, a sign-in step, a failed webhook attempt, a
	// verification and a checkpoint.
	db := testdb.SQLite(t)
	m := metrics.New(db)
	m.ObserveRequest("/users", "GET", 200, time.Millisecond)
	m.RateLimited("credentials")
	m.AuditCommitted(1, time.Millisecond, nil)
	m.SignIn(models.SignInPassword, models.SignInWrongPassword)
	m.WebhookAttempted(1, models.AttemptRetrying, time.Millisecond)
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCheckpoint(ctx, system, key); err != nil {
		t.Fatal(err)
	}
	recordVerification(t, db)
	served := metricstest.Get(t, m.Handler())

	for name, family := range served {
		if !strings.HasPrefix(name, "ledgerdesk_") {
			continue
		}
		doc, ok := documented[name]
		if !ok {
			t.Errorf("%s is served but %s does not list it", name, operationsGuide)
			continue
		}
		if want := strings.ToLower(family.GetType().String()); doc.kind != want {
			t.Errorf("%s: the guide says %q, it is a %s", name, doc.kind, want)
		}
		if got := labelNames(family); doc.labels != got {
			t.Errorf("%s: the guide lists labels %q, it has %q", name, doc.labels, got)
		}
	}
	for name := range documented {
		if prefix, ok := strings.CutSuffix(name, "*"); ok {
			if !slices.ContainsFunc(strings.Fields(served.Names()), func(n string) bool { return strings.HasPrefix(n, prefix) }) {
				t.Errorf("the guide lists %s, but no such metric is served", name)
			}
		} else if served[name] == nil && !withReplicasOnly[name] {
			t.Errorf("the guide lists %s, which is not served", name)
		}
	}
}

// withReplicasOnly are the metrics served only when read replicas are
// configured: TestMetrics_ReplicaSeriesAsTheGuideLists serves them.
var withReplicasOnly = map[string]bool{
	"ledgerdesk_db_replica_serving":     true,
	"ledgerdesk_db_replica_lag_seconds": true,
	"ledgerdesk_db_replica_lag_bytes":   true,
}

// labelNames are a family's label names, sorted and comma-separated.
func labelNames(f *dto.MetricFamily) string {
	var names []string
	for _, series := range f.GetMetric() {
		for _, l := range series.GetLabel() {
			if !slices.Contains(names, l.GetName()) {
				names = append(names, l.GetName())
			}
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}
