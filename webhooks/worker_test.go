package webhooks_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/webhooks"
)

func TestWorker_SendsStandardWebhooksHeadersSignedOverIDTimestampAndBody(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		r := newReceiver(t)
		ep := endpointFor(t, db, r)
		created, err := db.CreateEndUser(ctx, system, models.EndUserInput{ClientUserID: "signed-1"})
		if err != nil {
			t.Fatal(err)
		}
		var body []byte
		var headers http.Header
		r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			headers = req.Header.Clone()
			body, _ = io.ReadAll(req.Body)
		})
		w := newWorker(db, nil)
		if n, err := w.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce: %d, %v", n, err)
		}
		var event models.WebhookEvent
		db.Gorm().Take(&event)
		if got := headers.Get("webhook-id"); got != event.EventID {
			t.Fatalf("webhook-id %q, want the event id %q", got, event.EventID)
		}
		if got := headers.Get("webhook-signature"); !strings.HasPrefix(got, "v1,") || strings.Contains(got, " ") {
			t.Fatalf("webhook-signature %q, want one v1 signature", got)
		}
		if got := headers.Get(webhooks.HeaderEventType); got != models.EventUserCreated {
			t.Fatalf("event type header %q", got)
		}
		if got := headers.Get(webhooks.HeaderAttempt); got != "1" {
			t.Fatalf("attempt header %q", got)
		}
		// Verify as a receiver would, over the raw body.
		if err := webhooks.Verify(r.secret, headers, body, 5*time.Minute, time.Now()); err != nil {
			t.Fatalf("signature: %v", err)
		}
		if err := webhooks.Verify(models.NewWebhookSecret(), headers, body, 5*time.Minute, time.Now()); err != webhooks.ErrBadSignature {
			t.Fatalf("the wrong secret: %v", err)
		}
		if err := webhooks.Verify(r.secret, headers, append(body, ' '), 5*time.Minute, time.Now()); err != webhooks.ErrBadSignature {
			t.Fatalf("a changed body: %v", err)
		}
		// The id is signed: the same body and signature replayed under
		// another id, to slip past de-duplication, fails.
		replayed := headers.Clone()
		replayed.Set("webhook-id", models.NewEventID())
		if err := webhooks.Verify(r.secret, replayed, body, 5*time.Minute, time.Now()); err != webhooks.ErrBadSignature {
			t.Fatalf("a replay under another id: %v", err)
		}
		moved := headers.Clone()
		ts, _ := strconv.ParseInt(headers.Get("webhook-timestamp"), 10, 64)
		moved.Set("webhook-timestamp", strconv.FormatInt(ts+1, 10))
		if err := webhooks.Verify(r.secret, moved, body, 5*time.Minute, time.Now()); err != webhooks.ErrBadSignature {
			t.Fatalf("another timestamp: %v", err)
		}
		if err := webhooks.Verify(r.secret, headers, body, 5*time.Minute, time.Now().Add(time.Hour)); err != webhooks.ErrStale {
			t.Fatalf("an hour-old request: %v, want ErrStale", err)
		}
		wantBody := `{"id":` + itoa(created.User.ID) + `,"signin":"` + created.User.CreatedAt.UTC().Format(models.PowensDateTime) + `"}`
		if string(body) != wantBody {
			t.Fatalf("body %s, want %s", body, wantBody)
		}
		if s := statuses(t, db); s[models.DeliveryDelivered] != 1 {
			t.Fatalf("statuses %v", s)
		}
		if as := attemptsOf(t, db, ep.ID); len(as) != 1 || as[0].StatusCode != 200 || as[0].Error != "" {
			t.Fatalf("attempts %+v", as)
		}
	})
}

func TestWorker_DeliveryVerifiesWithTheStandardWebhooksLibrary(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		r := newReceiver(t)
		endpointFor(t, db, r)
		wh, err := standardwebhooks.NewWebhook(r.secret) // the secret exactly as shown
		if err != nil {
			t.Fatalf("the library refuses the secret: %v", err)
		}
		var verified, replayed error
		r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, _ := io.ReadAll(req.Body)
			verified = wh.Verify(body, req.Header)
			again := req.Header.Clone()
			again.Set(standardwebhooks.HeaderWebhookID, models.NewEventID())
			replayed = wh.Verify(body, again)
		})
		emit(t, db, 1)
		if n, err := newWorker(db, nil).RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce: %d, %v", n, err)
		}
		if verified != nil {
			t.Fatalf("the Standard Webhooks library refuses a delivery: %v", verified)
		}
		if !errors.Is(replayed, standardwebhooks.ErrNoMatchingSignature) {
			t.Fatalf("the library accepts the delivery under another id: %v", replayed)
		}
	})
}

func TestWorker_ReceiverReturning500SeesRetriesWithBackoffThenFailure(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		r := newReceiver(t)
		r.status = func(int) int { return http.StatusInternalServerError }
		ep := endpointFor(t, db, r)
		ids := emit(t, db, 1)
		c := newClock()
		r.now = c.Now
		w := newWorker(db, c)
		// Jitter pinned at half the bound: waits of 5s, 10s, 20s …
		w.Backoff = webhooks.Backoff{Base: 10 * time.Second, Max: time.Hour, Rand: func() float64 { return 0.5 }}
		c.Advance(time.Second)

		var waits []time.Duration
		for i := 0; i < 500 && statuses(t, db)[models.DeliveryPending] == 1; i++ {
			if n, err := w.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("round %d: RunOnce %d, %v", i, n, err)
			}
			// Not due again until the backoff has passed.
			if n, _ := w.RunOnce(ctx); n != 0 {
				t.Fatalf("round %d: retried before the backoff", i)
			}
			var d models.WebhookDelivery
			db.Gorm().Take(&d)
			if d.Status != models.DeliveryPending {
				break
			}
			wait := d.NextAttemptAt.Sub(c.Now())
			waits = append(waits, wait)
			c.Advance(wait)
		}
		if len(waits) < 5 {
			t.Fatalf("only %d retries before giving up: %v", len(waits), waits)
		}
		for i, want := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second} {
			if waits[i].Round(time.Second) != want {
				t.Fatalf("wait %d is %v, want %v (all: %v)", i+1, waits[i], want, waits)
			}
		}
		for _, wait := range waits {
			if wait > 30*time.Minute+time.Second {
				t.Fatalf("a wait of %v exceeds half the one-hour cap", wait)
			}
		}
		if s := statuses(t, db); s[models.DeliveryFailed] != 1 {
			t.Fatalf("after 24 hours of 500s: %v", s)
		}
		var d models.WebhookDelivery
		db.Gorm().Take(&d)
		if c.Now().Before(d.DeadlineAt) {
			t.Fatalf("failed at %v, before its deadline %v", c.Now(), d.DeadlineAt)
		}
		if r.requests() != d.Attempts || d.Attempts != len(waits)+1 {
			t.Fatalf("receiver saw %d requests, delivery counts %d attempts, %d waits", r.requests(), d.Attempts, len(waits))
		}
		r.mu.Lock()
		if r.attempts[0] != "1" || r.attempts[2] != "3" {
			t.Fatalf("attempt headers %v", r.attempts[:3])
		}
		r.mu.Unlock()
		r.noBadRequests()
		as := attemptsOf(t, db, ep.ID)
		if len(as) != d.Attempts || as[0].StatusCode != 500 || as[0].Error != "HTTP 500" {
			t.Fatalf("recorded attempts: %d, newest %+v", len(as), as[0])
		}
		if counts := r.counts(); counts[ids[0]] != 0 {
			t.Fatalf("a 500 counted as delivered")
		}
	})
}

func TestWorker_StoppedMidDeliveryAndRestartedLosesNoEvent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		r := newReceiver(t)
		endpointFor(t, db, r)
		ids := emit(t, db, 30)
		r.hold = make(chan struct{})
		r.arrived = make(chan string, 100)

		runCtx, stop := context.WithCancel(ctx)
		w := newWorker(db, nil)
		w.Concurrency = 4
		done := make(chan struct{})
		go func() { w.Run(runCtx); close(done) }()
		<-r.arrived // a request is in flight, its receiver blocked
		stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the worker did not stop")
		}
		r.mu.Lock()
		r.hold, r.arrived = nil, nil
		r.mu.Unlock()
		if s := statuses(t, db); s[models.DeliveryDelivered] == 30 {
			t.Fatal("everything was delivered before the stop; the test proves nothing")
		}

		restarted := newWorker(db, nil)
		for i := 0; i < 10; i++ {
			if _, err := restarted.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		counts := r.counts()
		for _, id := range ids {
			if counts[id] < 1 {
				t.Fatalf("event %s was lost", id)
			}
		}
		if s := statuses(t, db); s[models.DeliveryDelivered] != 30 {
			t.Fatalf("statuses %v", s)
		}
		r.noBadRequests()
	})
}

func TestWorker_RowsOfAWorkerThatDiedAreDeliveredAfterTheLease(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		r := newReceiver(t)
		endpointFor(t, db, r)
		ids := emit(t, db, 5)
		c := newClock()
		c.Advance(time.Second)
		// A worker claims the rows and is killed before it sends anything.
		if claimed, err := db.ClaimDeliveries(ctx, c.Now(), 2*time.Minute, 10); err != nil || len(claimed) != 5 {
			t.Fatalf("dead worker's claim: %d, %v", len(claimed), err)
		}
		w := newWorker(db, c)
		w.Lease = 2 * time.Minute
		if n, _ := w.RunOnce(ctx); n != 0 {
			t.Fatalf("%d rows taken while the dead worker's lease holds", n)
		}
		c.Advance(2*time.Minute + time.Second)
		if n, err := w.RunOnce(ctx); err != nil || n != 5 {
			t.Fatalf("after the lease: %d, %v", n, err)
		}
		counts := r.counts()
		for _, id := range ids {
			if counts[id] != 1 {
				t.Fatalf("event %s delivered %d times", id, counts[id])
			}
		}
	})
}

func TestWorker_TwoWorkersNeverSendTheSameEventTwice(t *testing.T) {
	db, dsn := testdb.PostgresWithDSN(t)
	// A second process: its own connection pool on the same database.
	other, err := models.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	testdb.Configure(t, other)

	r := newReceiver(t)
	endpointFor(t, db, r)
	ids := emit(t, db, 600)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	sent := make([]*countingTransport, 2)
	for i, d := range []*models.DB{db, other} {
		w := newWorker(d, nil)
		w.Batch, w.Concurrency = 20, 8
		sent[i] = &countingTransport{next: webhooks.NewClient(w.Guard, w.Timeout, w.Concurrency).Transport}
		w.Client = &http.Client{Transport: sent[i], Timeout: w.Timeout}
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(runCtx) }()
	}
	deadline := time.Now().Add(60 * time.Second)
	for statuses(t, db)[models.DeliveryDelivered] < len(ids) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	wg.Wait()
	counts := r.counts()
	for _, id := range ids {
		if counts[id] != 1 {
			t.Fatalf("event %s was sent %d times", id, counts[id])
		}
	}
	if r.requests() != len(ids) {
		t.Fatalf("receiver saw %d requests for %d events", r.requests(), len(ids))
	}
	if sent[0].n.Load() == 0 || sent[1].n.Load() == 0 {
		t.Fatalf("one worker did all the work (%d and %d requests): the test proves nothing", sent[0].n.Load(), sent[1].n.Load())
	}
	t.Logf("requests per worker: %d and %d", sent[0].n.Load(), sent[1].n.Load())
	r.noBadRequests()
}

func TestWorker_DialerRefusesPrivateAddressesEvenIfSaved(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		r := newReceiver(t)
		endpointFor(t, db, r) // saved while allowed; the name could as well have been rebound since
		emit(t, db, 1)
		w := newWorker(db, nil)
		w.Guard = &webhooks.Guard{}
		if n, err := w.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce %d, %v", n, err)
		}
		if r.requests() != 0 {
			t.Fatal("the request reached a loopback receiver")
		}
		var d models.WebhookDelivery
		db.Gorm().Take(&d)
		if d.Status != models.DeliveryPending || !strings.Contains(d.LastError, "private") || d.LastStatusCode != 0 {
			t.Fatalf("delivery after a refused dial: %+v", d)
		}
	})
}

// countingTransport counts the requests a worker sends.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(req)
}

func TestWorker_TestEventReachesOnlyItsEndpointSigned(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		target, other := newReceiver(t), newReceiver(t)
		ep := endpointFor(t, db, target)
		endpointFor(t, db, other)
		var eventType atomic.Value
		target.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			eventType.Store(req.Header.Get(webhooks.HeaderEventType))
			target.serve(w, req)
		})
		eventID, err := db.SendWebhookTestEvent(ctx, system, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := newWorker(db, nil).RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce: %d, %v", n, err)
		}
		target.noBadRequests()
		if got := target.counts(); got[eventID] != 1 || len(got) != 1 || eventType.Load() != models.EventWebhookTest {
			t.Fatalf("the endpoint received %v (%v), want the test event %s once", got, eventType.Load(), eventID)
		}
		if n := other.requests(); n != 0 {
			t.Fatalf("another endpoint received %d requests", n)
		}
		if s := statuses(t, db); s[models.DeliveryDelivered] != 1 || len(s) != 1 {
			t.Fatalf("statuses %v", s)
		}
	})
}
