package webhooks_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/webhooks"
)

var (
	ctx    = context.Background()
	system = models.Origin{Actor: models.SystemActor}
)

// receiver is a local webhook endpoint that checks every request the way
// the README tells receivers to, and counts deliveries per event id.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string
	// now is the receiver's clock; nil is the real one.
	now func() time.Time

	mu       sync.Mutex
	byID     map[string]int
	attempts []string // Attempt header of each request, in order
	bad      []string // what was wrong with requests that failed the check
	// status answers a request (n is how many came before it); nil: 200.
	status func(n int) int
	// hold, when set, keeps each request waiting until it closes.
	hold chan struct{}
	// arrived receives a value as each request arrives (if set).
	arrived chan string
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t, byID: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get(webhooks.HeaderID)
	r.mu.Lock()
	n := len(r.attempts)
	r.attempts = append(r.attempts, req.Header.Get(webhooks.HeaderAttempt))
	if problem := r.check(req, body); problem != "" {
		r.bad = append(r.bad, problem)
	}
	status := http.StatusOK
	if r.status != nil {
		status = r.status(n)
	}
	if status < 300 {
		r.byID[id]++
	}
	hold, arrived := r.hold, r.arrived
	r.mu.Unlock()
	if arrived != nil {
		arrived <- id
	}
	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte("ok"))
}

// check verifies a request with the Standard Webhooks specification's own
// Go library, as a receiver would: the signature over id, timestamp and
// raw body with the endpoint's secret; and the timestamp's age against the
// receiver's clock (the library reads the real one, and tests move the
// worker's).
func (r *receiver) check(req *http.Request, body []byte) string {
	wh, err := standardWebhook(r.secret)
	if err == nil {
		err = wh.VerifyIgnoringTimestamp(body, req.Header)
	}
	if err != nil {
		return "standard webhooks verification: " + err.Error()
	}
	now := time.Now()
	if r.now != nil {
		now = r.now()
	}
	ts, err := strconv.ParseInt(req.Header.Get(webhooks.HeaderTimestamp), 10, 64)
	if d := now.Sub(time.Unix(ts, 0)); err != nil || d > 5*time.Minute || d < -5*time.Minute {
		return "timestamp " + req.Header.Get(webhooks.HeaderTimestamp)
	}
	if req.Header.Get(webhooks.HeaderEventType) == "" || req.Header.Get(webhooks.HeaderAttempt) == "" {
		return "event headers missing"
	}
	if req.Header.Get("Content-Type") != "application/json" || req.Method != http.MethodPost {
		return "method or content type"
	}
	return ""
}

// standardWebhook is the Standard Webhooks library's verifier for a
// secret as it was shown: a legacy secret is given as raw key bytes, as
// the README tells receivers.
func standardWebhook(secret string) (*standardwebhooks.Webhook, error) {
	if webhooks.IsLegacySecret(secret) {
		return standardwebhooks.NewWebhookRaw([]byte(secret))
	}
	return standardwebhooks.NewWebhook(secret)
}

func (r *receiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.byID))
	for k, v := range r.byID {
		out[k] = v
	}
	return out
}

func (r *receiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.attempts)
}

func (r *receiver) noBadRequests() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		r.t.Fatalf("%d request(s) failed the receiver's check, first: %s", len(r.bad), r.bad[0])
	}
}

// endpointFor saves an endpoint pointing at the receiver and gives the
// receiver its secret.
func endpointFor(t testing.TB, db *models.DB, r *receiver) *models.WebhookEndpoint {
	t.Helper()
	c, err := db.CreateWebhookEndpoint(ctx, system, models.WebhookEndpointInput{
		URL: r.srv.URL + "/hooks", Events: models.WebhookEventTypes, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	r.secret = c.Secret
	return c.Endpoint
}

// emit writes n USER_CREATED events in one audited change and returns
// their event ids.
func emit(t testing.TB, db *models.DB, n int) []string {
	t.Helper()
	events := make([]models.OutboxEvent, n)
	for i := range events {
		events[i] = models.OutboxEvent{Type: models.EventUserCreated, Payload: models.PowensUser{ID: int64(i + 1), Signin: "2026-12-01 13:00:00"}}
	}
	var before int64
	db.Gorm().Model(&models.WebhookEvent{}).Select("COALESCE(MAX(id), 0)").Scan(&before)
	err := db.Apply(ctx, system, func(tx *gorm.DB) (models.Change, error) {
		return models.Change{Action: "test.emit", Events: events}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := db.Gorm().Model(&models.WebhookEvent{}).Where("id > ?", before).Order("id").Pluck("event_id", &ids).Error; err != nil {
		t.Fatal(err)
	}
	return ids
}

// statuses counts deliveries by status.
func statuses(t testing.TB, db *models.DB) map[string]int {
	t.Helper()
	var rows []struct {
		Status string
		N      int
	}
	db.Gorm().Model(&models.WebhookDelivery{}).Select("status, COUNT(*) AS n").Group("status").Scan(&rows)
	out := map[string]int{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out
}

// attemptsOf reads an endpoint's recorded attempts, newest first.
func attemptsOf(t testing.TB, db *models.DB, endpointID int64) []models.WebhookAttempt {
	t.Helper()
	var out []models.WebhookAttempt
	if err := db.Gorm().Where("endpoint_id = ?", endpointID).Order("id DESC").Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

// clock is a settable clock for workers.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: models.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newWorker is a worker allowed to reach the local receiver.
func newWorker(db *models.DB, c *clock) *webhooks.Worker {
	w := &webhooks.Worker{DB: db, Guard: &webhooks.Guard{AllowPrivate: true}, Poll: 20 * time.Millisecond,
		Timeout: 5 * time.Second, Logger: discardLogger()}
	if c != nil {
		w.Now = c.Now
	}
	return w
}
