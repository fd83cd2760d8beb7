package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ledgerdesk/models"
)

// The events models report (models.Observer), counted as they happen.

var _ models.Observer = (*Metrics)(nil)

// signInOutcomes are the outcomes each sign-in step can have: their
// counters start at zero, so a rate over them exists from the start.
var signInOutcomes = map[models.SignInStep][]models.SignInOutcome{
	models.SignInPassword: {models.SignInSucceeded, models.SignInCodeRequired, models.SignInEnrolRequired,
		models.SignInWrongPassword, models.SignInUnknownAccount, models.SignInInactive,
		models.SignInThrottled, models.SignInBusy, models.SignInSSORequired, models.SignInFailed},
	models.SignInOIDC: {models.SignInSucceeded, models.SignInRefusedByRules, models.SignInFailed},
	models.SignInCode: {models.SignInSucceeded, models.SignInWrongCode, models.SignInReplayedCode,
		models.SignInThrottled, models.SignInFailed},
}

func (m *Metrics) registerEvents() {
	m.auditChanges = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "ledgerdesk_audit_commit_changes",
		Help: "Audited changes committed together in one transaction (group commit on PostgreSQL; always 1 on SQLite).",
		// maxBatch in models/audit_batch.go is 32.
		Buckets: []float64{1, 2, 4, 8, 16, 32},
	})
	m.auditCommits = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ledgerdesk_audit_commit_duration_seconds",
		Help:    "Time of one audited transaction, from its start to its commit: its changes, the outbox rows, the audit entries and the commit.",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
	})
	m.auditFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ledgerdesk_audit_commit_failures_total",
		Help: "Audited transactions that failed to store their entries or to commit (changes refused by their own rules are not counted).",
	})
	m.verifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ledgerdesk_audit_verifications_total",
		Help: "Walks of the whole audit chain in this process, by result: intact, broken, error (could not finish).",
	}, []string{"result"})
	for _, r := range []models.VerifyOutcome{models.VerifyIntact, models.VerifyBroken, models.VerifyFailed} {
		m.verifications.WithLabelValues(string(r))
	}
	m.signIns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ledgerdesk_signin_attempts_total",
		Help: "Sign-in steps submitted, by step (password, code, oidc) and outcome.",
	}, []string{"step", "outcome"})
	for step, outcomes := range signInOutcomes {
		for _, o := range outcomes {
			m.signIns.WithLabelValues(string(step), string(o))
		}
	}
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ledgerdesk_webhook_deliveries_total",
		Help: "Webhook delivery attempts, by what they led to: delivered, retrying (failed, tried again later), given_up (failed after the delivery's 24 hours).",
	}, []string{"outcome"})
	for _, o := range []models.AttemptOutcome{models.AttemptDelivered, models.AttemptRetrying, models.AttemptGivenUp} {
		m.attempts.WithLabelValues(string(o))
	}
	m.endpointFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ledgerdesk_webhook_endpoint_failures_total",
		Help: "Failed webhook attempts, by endpoint id (never its URL).",
	}, []string{"endpoint_id"})
	m.attemptDurations = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ledgerdesk_webhook_attempt_duration_seconds",
		Help:    "Time of one webhook request, from sending to the end of the answer (failures before sending excluded).",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	})
	m.reg.MustRegister(m.auditChanges, m.auditCommits, m.auditFailures, m.verifications, m.signIns,
		m.attempts, m.endpointFailures, m.attemptDurations)
}

// AuditCommitted counts an audited transaction.
func (m *Metrics) AuditCommitted(changes int, took time.Duration, err error) {
	if err != nil {
		m.auditFailures.Inc()
		return
	}
	m.auditChanges.Observe(float64(changes))
	m.auditCommits.Observe(took.Seconds())
}

// SignIn counts a sign-in step.
func (m *Metrics) SignIn(step models.SignInStep, outcome models.SignInOutcome) {
	m.signIns.WithLabelValues(string(step), string(outcome)).Inc()
}

// WebhookAttempted counts a recorded webhook attempt.
func (m *Metrics) WebhookAttempted(endpointID int64, outcome models.AttemptOutcome, latency time.Duration) {
	m.attempts.WithLabelValues(string(outcome)).Inc()
	if outcome != models.AttemptDelivered {
		m.endpointFailures.WithLabelValues(strconv.FormatInt(endpointID, 10)).Inc()
	}
	if latency > 0 {
		m.attemptDurations.Observe(latency.Seconds())
	}
}

// AuditVerified counts a walk of the chain. The last result is read from
// the database (figures.go), where every process's verifications are.
func (m *Metrics) AuditVerified(outcome models.VerifyOutcome) {
	m.verifications.WithLabelValues(string(outcome)).Inc()
}
