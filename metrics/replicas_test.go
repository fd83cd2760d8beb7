package metrics_test

import (
	"strings"
	"testing"

	"ledgerdesk/metrics"
	"ledgerdesk/metrics/metricstest"
	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// With a replica configured, each replica has its series, named by
// host:port and never by its URL, and the served ones are the guide's.
func TestMetrics_ReplicaSeriesAsTheGuideLists(t *testing.T) {
	db := testdb.Postgres(t)
	// Nothing listens on port 1: the replica is down, and says so.
	if err := db.AddReplicas([]string{"postgres://reader:metrics-secret-pw@127.0.0.1:1/ledgerdesk?connect_timeout=1"}, models.ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(db)
	served := metricstest.Get(t, m.Handler())
	for name := range withReplicasOnly {
		f := served[name]
		if f == nil || len(f.GetMetric()) != 1 {
			t.Errorf("%s: not served once per replica: %v", name, f)
			continue
		}
		if l := f.GetMetric()[0].GetLabel(); len(l) != 1 || l[0].GetName() != "replica" || l[0].GetValue() != "127.0.0.1:1" {
			t.Errorf("%s: labels %v, want replica=127.0.0.1:1", name, l)
		}
	}
	if g := served["ledgerdesk_db_replica_serving"]; g != nil && g.GetMetric()[0].GetGauge().GetValue() != 0 {
		t.Error("a replica that does not answer is reported serving")
	}
	reads := served["ledgerdesk_db_replica_reads_total"]
	if reads == nil || len(reads.GetMetric()) != 2 {
		t.Fatalf("reads by target: %v", reads)
	}
	var text strings.Builder
	for _, f := range served {
		text.WriteString(f.String())
	}
	if strings.Contains(text.String(), "metrics-secret-pw") {
		t.Error("a replica's password reached the metrics")
	}
}
