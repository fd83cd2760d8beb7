package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"ledgerdesk/models"
)

// Worker delivers due outbox events. Several workers, in one process or
// many, may run against one PostgreSQL database: each claims its rows
// (FOR UPDATE SKIP LOCKED, with a lease), so no attempt is sent twice at
// once, and a worker that dies mid-delivery lets its rows go when the
// lease ends. Delivery is at least once: receivers de-duplicate on the
// event id header.
type Worker struct {
	DB     *models.DB
	Guard  *Guard
	Logger *slog.Logger
	// Now is the clock; nil uses models.Now. Tests move it to skip the
	// waits between retries.
	Now     func() time.Time
	Backoff Backoff
	// Timeout bounds one request, connection to last byte read.
	Timeout time.Duration
	// Batch is how many deliveries one claim takes; Concurrency how many
	// requests are in flight at once.
	Batch       int
	Concurrency int
	// Lease is how long a claim holds; it is raised to cover a whole
	// batch of requests that all time out.
	Lease time.Duration
	// Poll is the pause after finding nothing due.
	Poll time.Duration
	// Client sends the requests; nil builds one whose dialer the Guard
	// checks.
	Client *http.Client

	once sync.Once
}

// forgetEvery is how often a running worker erases the replaced signing
// secrets whose overlap is over (they stop signing at once regardless).
const forgetEvery = 10 * time.Minute

// maxResponseBody is how much of a response is read (then discarded):
// enough to reuse the connection, too little for a receiver to hold the
// worker up.
const maxResponseBody = 64 << 10

func (w *Worker) init() {
	w.once.Do(func() {
		if w.Now == nil {
			w.Now = models.Now
		}
		if w.Backoff.Base == 0 {
			w.Backoff = DefaultBackoff
		}
		if w.Timeout == 0 {
			w.Timeout = 10 * time.Second
		}
		if w.Batch == 0 {
			w.Batch = 100
		}
		if w.Concurrency == 0 {
			w.Concurrency = 16
		}
		rounds := (w.Batch + w.Concurrency - 1) / w.Concurrency
		if need := time.Duration(rounds)*w.Timeout + 30*time.Second; w.Lease < need {
			w.Lease = need
		}
		if w.Poll == 0 {
			w.Poll = time.Second
		}
		if w.Logger == nil {
			w.Logger = slog.Default()
		}
		if w.Guard == nil {
			w.Guard = &Guard{}
		}
		if w.Client == nil {
			w.Client = NewClient(w.Guard, w.Timeout, w.Concurrency)
		}
	})
}

// NewClient is an HTTP client for webhooks: every connection's address is
// checked by guard after resolution, no proxy, no redirects followed, and
// timeout bounds each request.
func NewClient(guard *Guard, timeout time.Duration, conns int) *http.Client {
	dialer := guard.Dialer()
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			// An environment proxy would be dialed instead of the
			// destination, and the guard would check the proxy.
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: timeout,
			MaxIdleConns:          conns * 2,
			MaxIdleConnsPerHost:   conns,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		// A redirect is the receiver's misconfiguration: report it
		// rather than follow it somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run delivers until ctx ends, then returns once its requests in flight
// have finished or been abandoned and their rows released.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	w.Logger.Info("webhook worker started", "concurrency", w.Concurrency)
	var swept time.Time
	for {
		if now := w.Now(); now.Sub(swept) >= forgetEvery {
			swept = now
			if _, err := w.DB.ForgetRetiredWebhookSecrets(ctx, now); err != nil && ctx.Err() == nil {
				w.Logger.Warn("erasing replaced webhook secrets failed", "error", err.Error())
			}
		}
		n, err := w.RunOnce(ctx)
		if ctx.Err() != nil {
			w.Logger.Info("webhook worker stopped")
			return
		}
		if err != nil {
			w.Logger.Warn("webhook delivery round failed", "error", err.Error())
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			w.Logger.Info("webhook worker stopped")
			return
		case <-time.After(w.Poll):
		}
	}
}

// RunOnce claims one batch of due deliveries, sends them and records the
// attempts. It returns how many it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.init()
	claimed, err := w.DB.ClaimDeliveries(ctx, w.Now(), w.Lease, w.Batch)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	results := make([]*models.AttemptResult, len(claimed))
	sem := make(chan struct{}, w.Concurrency)
	var wg sync.WaitGroup
	for i := range claimed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			results[i] = w.deliver(ctx, claimed[i])
		}()
	}
	wg.Wait()

	var done []models.AttemptResult
	var abandoned []models.ClaimedDelivery
	for i, r := range results {
		if r == nil {
			abandoned = append(abandoned, claimed[i])
			continue
		}
		done = append(done, *r)
		if !r.Delivered && r.NextAttemptAt == nil {
			w.Logger.Warn("webhook delivery failed for good", "delivery_id", r.Delivery.DeliveryID,
				"endpoint_id", r.Delivery.EndpointID, "event_id", r.Delivery.EventID, "attempts", r.Delivery.Attempt)
		}
	}
	// Record even while stopping: these requests were sent.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.DB.RecordAttempts(bg, done); err != nil {
		return len(claimed), err
	}
	if err := w.DB.ReleaseDeliveries(bg, abandoned); err != nil {
		return len(claimed), err
	}
	return len(claimed), nil
}

// deliver makes one attempt. It returns nil when the worker is stopping
// and the attempt was abandoned: the row is released, not counted.
func (w *Worker) deliver(ctx context.Context, d models.ClaimedDelivery) *models.AttemptResult {
	now := w.Now()
	res := &models.AttemptResult{Delivery: d, AttemptedAt: now}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		res.Error = "invalid URL"
		return w.settle(res, now)
	}
	keys, err := signingKeys(d, now)
	if err != nil {
		res.Error = "the endpoint's signing secret cannot be used: rotate it"
		return w.settle(res, now)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Ledgerdesk-Webhooks/1")
	req.Header.Set(HeaderID, d.EventID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, SignatureHeader(keys, d.EventID, ts, d.Payload))
	req.Header.Set(HeaderEventType, d.EventType)
	req.Header.Set(HeaderAttempt, strconv.Itoa(d.Attempt))

	start := time.Now()
	resp, err := w.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		res.Latency = time.Since(start)
		res.Error = describe(err)
		return w.settle(res, now)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	resp.Body.Close()
	res.Latency = time.Since(start)
	res.StatusCode = resp.StatusCode
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		res.Delivered = true
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.Error = fmt.Sprintf("HTTP %d: redirects are not followed; point the endpoint at the final URL", resp.StatusCode)
	default:
		res.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return w.settle(res, now)
}

// signingKeys are the keys that sign d at now: the endpoint's secret's,
// and while a rotation's overlap lasts the replaced secret's too.
func signingKeys(d models.ClaimedDelivery, now time.Time) ([][]byte, error) {
	key, err := SecretKey(d.Secret)
	if err != nil {
		return nil, err
	}
	keys := [][]byte{key}
	if d.PreviousSecret != "" && now.Before(d.PreviousSecretUntil) {
		previous, err := SecretKey(d.PreviousSecret)
		if err != nil {
			return nil, err
		}
		keys = append(keys, previous)
	}
	return keys, nil
}

// settle decides what follows an undelivered attempt: another one after a
// backoff, or failure once the delivery's 24 hours are over.
func (w *Worker) settle(res *models.AttemptResult, now time.Time) *models.AttemptResult {
	if res.Delivered {
		return res
	}
	if next, ok := w.Backoff.Next(res.Delivery.Attempt, now, res.Delivery.DeadlineAt); ok {
		res.NextAttemptAt = &next
	}
	return res
}

// describe is an attempt's error as the deliveries page shows it: what
// went wrong, without the URL (its query may hold a receiver's token).
func describe(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	switch {
	case errors.Is(err, ErrBlockedAddress):
		return "refused: the host resolves to an address webhooks may not reach (private or special-purpose)"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "timed out"
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
