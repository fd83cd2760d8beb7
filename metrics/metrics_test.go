package metrics_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"ledgerdesk/metrics"
	"ledgerdesk/metrics/metricstest"
	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/webhooks"
)

var (
	ctx    = context.Background()
	system = models.Origin{Actor: models.SystemActor}
)

// The metrics are served, with their labels, on both databases; the
// counters with known labels start at zero. (That the operations guide
// lists each is TestMetrics_OperationsGuideListsEveryMetricAsServed.)
func TestMetrics_ScrapeServesEveryMetricWithItsLabels(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := metrics.New(db)
		m.ObserveRequest("/users", "GET", 200, time.Millisecond)
		s := metricstest.Get(t, m.Handler())

		for _, name := range []string{
			"ledgerdesk_http_requests_total", "ledgerdesk_http_request_duration_seconds", "ledgerdesk_rate_limited_total",
			"ledgerdesk_db_up", "ledgerdesk_db_connections", "ledgerdesk_db_connections_max",
			"ledgerdesk_db_connection_waits_total", "ledgerdesk_db_connection_wait_seconds_total",
			"ledgerdesk_audit_commit_changes", "ledgerdesk_audit_commit_duration_seconds", "ledgerdesk_audit_commit_failures_total",
			"ledgerdesk_audit_chain_head_seq", "ledgerdesk_audit_verifications_total",
			"ledgerdesk_signin_attempts_total", "ledgerdesk_password_hash_slots", "ledgerdesk_password_hash_slots_in_use",
			"ledgerdesk_password_hash_queue", "ledgerdesk_password_hashes_total", "ledgerdesk_password_hash_queue_timeouts_total",
			"ledgerdesk_webhook_outbox_backlog", "ledgerdesk_webhook_outbox_oldest_due_age_seconds",
			"ledgerdesk_webhook_deliveries_total", "ledgerdesk_webhook_attempt_duration_seconds",
			"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_open_fds",
		} {
			if s[name] == nil {
				t.Errorf("%s is not served; served: %s", name, s.Names())
			} else if s[name].GetHelp() == "" {
				t.Errorf("%s has no help text", name)
			}
		}
		for _, want := range []struct {
			name   string
			labels []string
			value  float64
		}{
			{"ledgerdesk_http_requests_total", []string{"route", "/users", "method", "GET", "status", "200"}, 1},
			{"ledgerdesk_http_request_duration_seconds", []string{"route", "/users", "method", "GET"}, 1},
			{"ledgerdesk_db_up", nil, 1},
			{"ledgerdesk_audit_chain_head_seq", nil, float64(head(t, db))},
			{"ledgerdesk_webhook_outbox_backlog", nil, 0},
			{"ledgerdesk_webhook_outbox_oldest_due_age_seconds", nil, 0},
			{"ledgerdesk_signin_attempts_total", []string{"step", "password", "outcome", "wrong_password"}, 0},
			{"ledgerdesk_signin_attempts_total", []string{"step", "code", "outcome", "replayed_code"}, 0},
			{"ledgerdesk_webhook_deliveries_total", []string{"outcome", "given_up"}, 0},
			{"ledgerdesk_rate_limited_total", []string{"limit", "credentials"}, 0},
			{"ledgerdesk_audit_verifications_total", []string{"result", "broken"}, 0},
		} {
			if got, ok := s.Value(want.name, want.labels...); !ok || got != want.value {
				t.Errorf("%s%v = %v (found: %v), want %v", want.name, want.labels, got, ok, want.value)
			}
		}
		if got := s.LabelValues("ledgerdesk_db_connections", "state"); len(got) != 2 {
			t.Errorf("ledgerdesk_db_connections states %v, want in_use and idle", got)
		}
		if max, _ := s.Value("ledgerdesk_db_connections_max"); max < 1 {
			t.Errorf("ledgerdesk_db_connections_max %v", max)
		}
		if slots, _ := s.Value("ledgerdesk_password_hash_slots"); slots < 1 {
			t.Errorf("ledgerdesk_password_hash_slots %v", slots)
		}
		// Nothing was verified or signed yet: no value that would read
		// as a broken chain or an ancient checkpoint.
		for _, absent := range []string{"ledgerdesk_audit_last_verification_ok", "ledgerdesk_audit_last_checkpoint_age_seconds"} {
			if s[absent] != nil {
				t.Errorf("%s is served before there is one", absent)
			}
		}
	})
}

func head(t *testing.T, db *models.DB) int64 {
	t.Helper()
	h, err := db.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return h.Seq
}

// A request's labels are its route pattern, a method from a fixed list
// and its status: made-up paths and methods collapse into one label each.
func TestMetrics_RequestLabelsAreBounded(t *testing.T) {
	m := metrics.New(testdb.SQLite(t))
	m.ObserveRequest("", "GET", 404, time.Millisecond)
	m.ObserveRequest("", "GET", 404, time.Millisecond)
	m.ObserveRequest("/users/:id", "BREW", 405, time.Millisecond)
	s := metricstest.Get(t, m.Handler())
	if n, _ := s.Value("ledgerdesk_http_requests_total", "route", metrics.UnmatchedRoute, "status", "404"); n != 2 {
		t.Errorf("unmatched 404s counted %v, want 2", n)
	}
	if n, _ := s.Value("ledgerdesk_http_requests_total", "route", "/users/:id", "method", "other"); n != 1 {
		t.Errorf("an unknown method counted %v under other, want 1", n)
	}
	if got := len(s.Series("ledgerdesk_http_requests_total")); got != 2 {
		t.Errorf("%d series, want 2", got)
	}
}

// A delivered attempt and a failed one move the deliveries by outcome,
// and the failure is counted against its endpoint by id.
func TestMetrics_WebhookAttemptsCountByOutcomeAndEndpoint(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := metrics.New(db)
		var status atomic.Int32
		status.Store(http.StatusNoContent)
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(int(status.Load()))
		}))
		defer receiver.Close()
		created, err := db.CreateWebhookEndpoint(ctx, system, models.WebhookEndpointInput{
			URL: receiver.URL + "/hooks", Events: models.WebhookEventTypes, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		endpoint := strconv.FormatInt(created.Endpoint.ID, 10)
		worker := &webhooks.Worker{DB: db, Guard: &webhooks.Guard{AllowPrivate: true}, Timeout: 5 * time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

		sendOne := func() {
			t.Helper()
			if _, err := db.SendWebhookTestEvent(ctx, system, created.Endpoint.ID); err != nil {
				t.Fatal(err)
			}
			if n, err := worker.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("worker round: %d claimed, %v", n, err)
			}
		}
		sendOne()
		s := metricstest.Get(t, m.Handler())
		if n, _ := s.Value("ledgerdesk_webhook_deliveries_total", "outcome", "delivered"); n != 1 {
			t.Errorf("delivered %v, want 1", n)
		}
		if n, _ := s.Value("ledgerdesk_webhook_attempt_duration_seconds"); n != 1 {
			t.Errorf("attempt durations observed %v, want 1", n)
		}
		if s.Series("ledgerdesk_webhook_endpoint_failures_total") != nil {
			t.Errorf("an endpoint failure counted after a delivery")
		}

		status.Store(http.StatusInternalServerError)
		sendOne()
		s = metricstest.Get(t, m.Handler())
		if n, _ := s.Value("ledgerdesk_webhook_deliveries_total", "outcome", "retrying"); n != 1 {
			t.Errorf("retrying %v, want 1", n)
		}
		if n, _ := s.Value("ledgerdesk_webhook_endpoint_failures_total", "endpoint_id", endpoint); n != 1 {
			t.Errorf("failures of endpoint %s: %v, want 1", endpoint, n)
		}
		for _, v := range s.LabelValues("ledgerdesk_webhook_endpoint_failures_total", "endpoint_id") {
			if v != endpoint {
				t.Errorf("endpoint label %q, want only the id %s", v, endpoint)
			}
		}
	})
}

// The last verification is served once there is one, by every process:
// its result and when it finished, read from the database. A walk that
// could not finish does not replace it.
func TestMetrics_LastVerificationAndCheckpointAge(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		_, key, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateCheckpoint(ctx, system, key); err != nil {
			t.Fatal(err)
		}
		if _, found := metricstest.Get(t, metrics.New(db).Handler()).Value("ledgerdesk_audit_last_verification_ok"); found {
			t.Error("a last verification is reported before any ran")
		}
		// One process runs the verification, as the integrity page does.
		verify := func(failure error, result func(models.VerifyResult) models.VerifyResult) {
			t.Helper()
			v, started, err := db.StartVerification(ctx, "member", 0)
			if err != nil || !started {
				t.Fatalf("start verification: %v, %v", started, err)
			}
			res, err := db.VerifyAuditChain(ctx, nil)
			if err != nil || !res.OK() {
				t.Fatalf("verify: %+v, %v", res, err)
			}
			if err := db.FinishVerification(ctx, v.ID, result(res), failure); err != nil {
				t.Fatal(err)
			}
		}
		same := func(r models.VerifyResult) models.VerifyResult { return r }
		ran := metrics.New(db)
		before := time.Now()
		verify(nil, same)

		// Another process, which ran nothing, reports it all the same.
		for name, m := range map[string]*metrics.Metrics{"the process that ran it": ran, "another process": metrics.New(db)} {
			s := metricstest.Get(t, m.Handler())
			if ok, found := s.Value("ledgerdesk_audit_last_verification_ok"); !found || ok != 1 {
				t.Errorf("%s: last verification ok = %v (found: %v), want 1", name, ok, found)
			}
			at, _ := s.Value("ledgerdesk_audit_last_verification_timestamp_seconds")
			if at < float64(before.Unix()) || at > float64(time.Now().Unix()+1) {
				t.Errorf("%s: last verification at %v, want about %v", name, at, before.Unix())
			}
			if age, found := s.Value("ledgerdesk_audit_last_checkpoint_age_seconds"); !found || age < 0 || age > 60 {
				t.Errorf("%s: checkpoint age %v (found: %v), want a few seconds", name, age, found)
			}
		}
		if n, _ := metricstest.Get(t, ran.Handler()).Value("ledgerdesk_audit_verifications_total", "result", "intact"); n != 1 {
			t.Errorf("intact verifications %v in the process that ran it, want 1", n)
		}

		verify(nil, func(r models.VerifyResult) models.VerifyResult {
			r.FirstBadSeq, r.Problem = 1, "entry 1 does not match its hash"
			return r
		})
		if ok, _ := metricstest.Get(t, metrics.New(db).Handler()).Value("ledgerdesk_audit_last_verification_ok"); ok != 0 {
			t.Errorf("after a broken chain: %v, want 0", ok)
		}
		verify(errors.New("connection lost"), same)
		if ok, _ := metricstest.Get(t, metrics.New(db).Handler()).Value("ledgerdesk_audit_last_verification_ok"); ok != 0 {
			t.Errorf("a walk that could not finish replaced the last result: %v", ok)
		}
	})
}

// recordVerification verifies the chain as the integrity page does,
// recording the run where every process reads it.
func recordVerification(t *testing.T, db *models.DB) {
	t.Helper()
	v, _, err := db.StartVerification(ctx, "member", 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.VerifyAuditChain(ctx, nil)
	if err := db.FinishVerification(ctx, v.ID, res, err); err != nil {
		t.Fatal(err)
	}
}

// A scrape after the database closed still answers, saying so with
// ledgerdesk_db_up 0 and without the figures it could not read; the
// process's own metrics are all there. (web's TestMetrics_ScrapeWhile-
// TheDatabaseHangs takes PostgreSQL away behind a silent proxy.)
func TestMetrics_ScrapeWithoutTheDatabaseSaysDBUp0(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := metrics.New(db)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		s := metricstest.Get(t, m.Handler())
		if up, found := s.Value("ledgerdesk_db_up"); !found || up != 0 {
			t.Errorf("ledgerdesk_db_up = %v (found: %v), want 0", up, found)
		}
		for _, absent := range []string{"ledgerdesk_audit_chain_head_seq", "ledgerdesk_webhook_outbox_backlog",
			"ledgerdesk_webhook_outbox_oldest_due_age_seconds"} {
			if s[absent] != nil {
				t.Errorf("%s served without the database", absent)
			}
		}
		for _, present := range []string{"go_goroutines", "ledgerdesk_db_connections", "ledgerdesk_password_hash_slots"} {
			if s[present] == nil {
				t.Errorf("%s missing", present)
			}
		}
	})
}

// The metrics listener serves the metrics at /metrics and nothing else.
func TestMetrics_ServerServesOnlyTheMetricsPath(t *testing.T) {
	m := metrics.New(testdb.SQLite(t))
	srv := httptest.NewServer(m.Server().Handler)
	defer srv.Close()
	s := metricstest.Fetch(t, srv.URL+metrics.Path)
	if s["ledgerdesk_db_up"] == nil {
		t.Fatalf("no ledgerdesk_db_up at %s", metrics.Path)
	}
	for _, path := range []string{"/", "/users", "/metrics/x", "/debug/pprof/"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	resp, err := http.Post(srv.URL+metrics.Path, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %d, want 405", metrics.Path, resp.StatusCode)
	}
}
