package models

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one event on its way to one endpoint.
type WebhookDelivery struct {
	ID             int64 `gorm:"primaryKey"`
	EventID        int64 // webhook_events.id
	EndpointID     int64
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	DeadlineAt     time.Time
	ClaimedUntil   *time.Time
	ClaimToken     string
	LastStatusCode int
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeliveredAt    *time.Time
}

func (WebhookDelivery) TableName() string { return "webhook_deliveries" }

// WebhookAttempt is one HTTP request made for a delivery.
type WebhookAttempt struct {
	ID          int64 `gorm:"primaryKey"`
	DeliveryID  int64
	EndpointID  int64
	Attempt     int
	AttemptedAt time.Time
	StatusCode  int // 0: no response
	LatencyMS   int `gorm:"column:latency_ms"`
	Error       string
}

func (WebhookAttempt) TableName() string { return "webhook_attempts" }

// ClaimedDelivery is a delivery a worker holds until its lease ends, with
// what it needs to send it. Secret is the endpoint's signing secret and
// PreviousSecret the one a rotation replaced, which signs too before
// PreviousSecretUntil ("" once it no longer does): they stay in memory and
// are never logged.
type ClaimedDelivery struct {
	DeliveryID int64
	EndpointID int64
	ClaimToken string
	Attempt    int // the number of the attempt about to be made
	DeadlineAt time.Time
	EventID    string
	EventType  string
	Payload    []byte
	URL        string
	Secret     string

	PreviousSecret      string
	PreviousSecretUntil time.Time
}

// ClaimDeliveries takes up to limit pending deliveries that are due at now
// and not held by another worker, and holds them until now+lease. On
// PostgreSQL rows another worker is claiming are skipped (FOR UPDATE SKIP
// LOCKED), so workers in several processes never take the same row; a
// worker that dies lets its rows go when the lease ends.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ClaimedDelivery, error) {
	db.lockWrites()
	defer db.unlockWrites()
	token := RandomHex(12)
	lock := db.Dialect.skipLocked("d")
	var ids []int64
	// 'pending' is written out so the planner can use the partial index
	// of due rows, which a bound parameter would hide from a generic plan.
	err := db.gorm.WithContext(ctx).Raw(`UPDATE webhook_deliveries SET claimed_until = ?, claim_token = ?
		WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints p ON p.id = d.endpoint_id
			WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.claimed_until IS NULL OR d.claimed_until <= ?) AND p.enabled = ?
			ORDER BY d.next_attempt_at, d.id LIMIT ?`+lock+`)
		RETURNING id`, now.Add(lease), token, now, now, true, limit).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []struct {
		DeliveryID   int64
		EndpointID   int64
		Attempts     int
		DeadlineAt   time.Time
		EventID      string
		EventType    string
		Payload      string
		URL          string
		SecretCipher string
		SecretKeyID  string

		PreviousSecretCipher string
		PreviousSecretKeyID  string
		PreviousSecretUntil  *time.Time
	}
	err = db.gorm.WithContext(ctx).Raw(`SELECT d.id AS delivery_id, d.endpoint_id, d.attempts, d.deadline_at,
			e.event_id, e.event_type, e.payload, p.url, p.secret_cipher, p.secret_key_id,
			p.previous_secret_cipher, p.previous_secret_key_id, p.previous_secret_until
		FROM webhook_deliveries d
		JOIN webhook_events e ON e.id = d.event_id
		JOIN webhook_endpoints p ON p.id = d.endpoint_id
		WHERE d.id IN ? AND d.claim_token = ?
		ORDER BY d.next_attempt_at, d.id`, ids, token).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load claimed webhook deliveries: %w", err)
	}
	type signing struct {
		secret, previous string
		until            time.Time
	}
	secrets := map[int64]signing{}
	out := make([]ClaimedDelivery, 0, len(rows))
	for _, r := range rows {
		s, ok := secrets[r.EndpointID]
		if !ok {
			ep := WebhookEndpoint{ID: r.EndpointID, SecretCipher: r.SecretCipher, SecretKeyID: r.SecretKeyID,
				PreviousSecretCipher: r.PreviousSecretCipher, PreviousSecretKeyID: r.PreviousSecretKeyID,
				PreviousSecretUntil: r.PreviousSecretUntil}
			if s.secret, err = db.WebhookSecret(&ep); err != nil {
				return nil, err
			}
			if s.previous, err = db.WebhookPreviousSecret(&ep, now); err != nil {
				return nil, err
			}
			if s.previous != "" {
				s.until = *r.PreviousSecretUntil
			}
			secrets[r.EndpointID] = s
		}
		out = append(out, ClaimedDelivery{DeliveryID: r.DeliveryID, EndpointID: r.EndpointID, ClaimToken: token,
			Attempt: r.Attempts + 1, DeadlineAt: r.DeadlineAt, EventID: r.EventID, EventType: r.EventType,
			Payload: []byte(r.Payload), URL: r.URL, Secret: s.secret, PreviousSecret: s.previous, PreviousSecretUntil: s.until})
	}
	return out, nil
}

// AttemptResult is what one attempt found out and what happens next.
type AttemptResult struct {
	Delivery    ClaimedDelivery
	AttemptedAt time.Time
	StatusCode  int
	Latency     time.Duration
	Error       string
	Delivered   bool
	// NextAttemptAt is when to try again; nil for an undelivered attempt
	// means the delivery has failed for good.
	NextAttemptAt *time.Time
}

// RecordAttempts stores the attempts and moves their deliveries on
// (delivered, due again, or failed), releasing the claims, in one
// transaction. A delivery whose claim has passed to another worker (the
// lease ran out) keeps that worker's state; the attempt is still recorded.
// Successes, the bulk of the work, are written a batch per statement.
func (db *DB) RecordAttempts(ctx context.Context, results []AttemptResult) error {
	if len(results) == 0 {
		return nil
	}
	if err := db.recordAttempts(ctx, results); err != nil {
		return err
	}
	o := db.observe()
	for _, r := range results {
		o.WebhookAttempted(r.Delivery.EndpointID, r.Outcome(), r.Latency)
	}
	return nil
}

// Outcome is what the attempt led to.
func (r AttemptResult) Outcome() AttemptOutcome {
	switch {
	case r.Delivered:
		return AttemptDelivered
	case r.NextAttemptAt != nil:
		return AttemptRetrying
	}
	return AttemptGivenUp
}

func (db *DB) recordAttempts(ctx context.Context, results []AttemptResult) error {
	db.lockWrites()
	defer db.unlockWrites()
	return db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		type group struct {
			token  string
			status int
		}
		delivered := map[group][]int64{}
		deliveredAt := map[group]time.Time{}
		ids := make([]int64, 0, len(results))
		for _, r := range results {
			d := r.Delivery
			ids = append(ids, d.DeliveryID)
			if r.Delivered {
				g := group{d.ClaimToken, r.StatusCode}
				delivered[g] = append(delivered[g], d.DeliveryID)
				if r.AttemptedAt.After(deliveredAt[g]) {
					deliveredAt[g] = r.AttemptedAt
				}
				continue
			}
			cols := map[string]any{"attempts": d.Attempt, "claimed_until": nil, "claim_token": "",
				"last_status_code": r.StatusCode, "last_error": truncate(r.Error, 500), "updated_at": r.AttemptedAt}
			if r.NextAttemptAt != nil {
				cols["status"], cols["next_attempt_at"] = DeliveryPending, *r.NextAttemptAt
			} else {
				cols["status"] = DeliveryFailed
			}
			err := tx.Model(&WebhookDelivery{}).Where("id = ? AND claim_token = ?", d.DeliveryID, d.ClaimToken).Updates(cols).Error
			if err != nil {
				return fmt.Errorf("record webhook delivery %d: %w", d.DeliveryID, err)
			}
		}
		for g, batch := range delivered {
			// Within a batch the attempts' times differ by milliseconds;
			// each attempt row keeps its own.
			at := deliveredAt[g]
			err := tx.Model(&WebhookDelivery{}).Where("id IN ? AND claim_token = ?", batch, g.token).Updates(map[string]any{
				"status": DeliveryDelivered, "attempts": gorm.Expr("attempts + 1"), "delivered_at": at, "updated_at": at,
				"claimed_until": nil, "claim_token": "", "last_status_code": g.status, "last_error": ""}).Error
			if err != nil {
				return fmt.Errorf("record %d webhook deliveries: %w", len(batch), err)
			}
		}
		// The endpoint may have been deleted meanwhile: then there is
		// nothing left to record its attempts against.
		var existing []int64
		if err := tx.Model(&WebhookDelivery{}).Where("id IN ?", ids).Pluck("id", &existing).Error; err != nil {
			return fmt.Errorf("record webhook attempts: %w", err)
		}
		alive := make(map[int64]bool, len(existing))
		for _, id := range existing {
			alive[id] = true
		}
		attempts := make([]WebhookAttempt, 0, len(results))
		for _, r := range results {
			d := r.Delivery
			if alive[d.DeliveryID] {
				attempts = append(attempts, WebhookAttempt{DeliveryID: d.DeliveryID, EndpointID: d.EndpointID, Attempt: d.Attempt,
					AttemptedAt: r.AttemptedAt, StatusCode: r.StatusCode, LatencyMS: int(r.Latency.Milliseconds()), Error: truncate(r.Error, 500)})
			}
		}
		if len(attempts) == 0 {
			return nil
		}
		if err := tx.CreateInBatches(attempts, 500).Error; err != nil {
			return fmt.Errorf("record webhook attempts: %w", err)
		}
		return nil
	})
}

// ReleaseDeliveries lets go of claimed deliveries that were not attempted
// (the worker is stopping), so another worker need not wait for the lease.
func (db *DB) ReleaseDeliveries(ctx context.Context, claimed []ClaimedDelivery) error {
	if len(claimed) == 0 {
		return nil
	}
	db.lockWrites()
	defer db.unlockWrites()
	ids := make([]int64, len(claimed))
	for i, c := range claimed {
		ids[i] = c.DeliveryID
	}
	err := db.gorm.WithContext(ctx).Model(&WebhookDelivery{}).Where("id IN ? AND claim_token = ?", ids, claimed[0].ClaimToken).
		Updates(map[string]any{"claimed_until": nil, "claim_token": ""}).Error
	if err != nil {
		return fmt.Errorf("release webhook deliveries: %w", err)
	}
	return nil
}

// RetryDelivery makes a failing or given-up delivery due now ("Retry"),
// audited as webhook.retry. A given-up delivery gets one more attempt; if
// that fails too it is given up again, as its 24 hours are over.
func (db *DB) RetryDelivery(ctx context.Context, o Origin, endpointID, deliveryID int64) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		var d WebhookDelivery
		err := lockForUpdate(tx).Where("id = ? AND endpoint_id = ?", deliveryID, endpointID).Take(&d).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return Change{}, notFound("No delivery %d for webhook endpoint %d.", deliveryID, endpointID)
		}
		if err != nil {
			return Change{}, err
		}
		switch d.State() {
		case DeliveryStateDelivered:
			return Change{}, &Error{Kind: KindConflict, Message: "This event was already delivered; receivers de-duplicate on its id, so there is nothing to retry."}
		case DeliveryStatePending:
			return Change{}, &Error{Kind: KindConflict, Message: "This event has not been attempted yet: it is sent as soon as it is due, so there is nothing to retry."}
		}
		var event WebhookEvent
		if err := tx.Select("event_id").Where("id = ?", d.EventID).Take(&event).Error; err != nil {
			return Change{}, fmt.Errorf("load event of webhook delivery %d: %w", d.ID, err)
		}
		now := Now()
		if err := tx.Model(&WebhookDelivery{}).Where("id = ?", d.ID).
			Updates(map[string]any{"status": DeliveryPending, "next_attempt_at": now, "updated_at": now}).Error; err != nil {
			return Change{}, fmt.Errorf("retry webhook delivery %d: %w", d.ID, err)
		}
		// Which delivery is named in After alone: the diff keeps only
		// what changed, and the delivery and its event do not.
		return Change{Action: "webhook.retry", Target: Target{Type: "webhook_endpoint", ID: strconv.FormatInt(endpointID, 10)},
			Before: map[string]any{"status": d.Status, "state": string(d.State()), "next_attempt_at": d.NextAttemptAt.UTC().Format(time.RFC3339)},
			After: map[string]any{"delivery": d.ID, "event": event.EventID, "status": DeliveryPending,
				"state": string(DeliveryStateFailing), "next_attempt_at": now.UTC().Format(time.RFC3339)}}, nil
	})
}

// DeliveryState is where a delivery stands, as the portal shows it. It
// is read from the delivery's status and attempts: the worker keeps a
// failing delivery pending, with attempts, until its 24 hours are over.
type DeliveryState string

const (
	// DeliveryStatePending: not attempted yet.
	DeliveryStatePending   DeliveryState = "pending"
	DeliveryStateDelivered DeliveryState = "delivered"
	// DeliveryStateFailing: attempted, failed, and due to be tried again.
	DeliveryStateFailing DeliveryState = "failing"
	// DeliveryStateGivenUp: its last attempt failed after its 24 hours
	// were over; only a retry sends it again.
	DeliveryStateGivenUp DeliveryState = "given_up"
)

// DeliveryStates are the states in the order the portal lists them.
var DeliveryStates = []DeliveryState{DeliveryStatePending, DeliveryStateFailing, DeliveryStateDelivered, DeliveryStateGivenUp}

// deliveryStateSQL selects the deliveries of d in each state. The values
// are written out, as in ClaimDeliveries, so that a plan can use them.
var deliveryStateSQL = map[DeliveryState]string{
	DeliveryStatePending:   "d.status = 'pending' AND d.attempts = 0",
	DeliveryStateFailing:   "d.status = 'pending' AND d.attempts > 0",
	DeliveryStateDelivered: "d.status = 'delivered'",
	DeliveryStateGivenUp:   "d.status = 'failed'",
}

// ParseDeliveryState reads a state as the deliveries page's filter writes
// it; false for anything else.
func ParseDeliveryState(s string) (DeliveryState, bool) {
	for _, st := range DeliveryStates {
		if s == string(st) {
			return st, true
		}
	}
	return "", false
}

// Label is the state in words.
func (s DeliveryState) Label() string {
	switch s {
	case DeliveryStateFailing:
		return "Failing"
	case DeliveryStateDelivered:
		return "Delivered"
	case DeliveryStateGivenUp:
		return "Given up"
	}
	return "Pending"
}

// Retryable reports whether "Retry" applies: a delivery that was tried
// and not delivered.
func (s DeliveryState) Retryable() bool {
	return s == DeliveryStateFailing || s == DeliveryStateGivenUp
}

// State is where the delivery stands.
func (d *WebhookDelivery) State() DeliveryState {
	switch {
	case d.Status == DeliveryDelivered:
		return DeliveryStateDelivered
	case d.Status == DeliveryFailed:
		return DeliveryStateGivenUp
	case d.Attempts > 0:
		return DeliveryStateFailing
	}
	return DeliveryStatePending
}

// DeliveryRow is a delivery as the deliveries page lists it: its event,
// and its latest attempts beneath it, newest first.
type DeliveryRow struct {
	WebhookDelivery
	PublicEventID string // the event id receivers see
	EventType     string
	// Recent are the latest DeliveryAttemptsShown attempts; Attempts
	// counts them all.
	Recent []WebhookAttempt `gorm:"-"`
}

// DeliveryPage is one page of an endpoint's deliveries, newest first.
type DeliveryPage struct {
	Deliveries []DeliveryRow
	PageCursors
}

// DeliveryPageSize is how many deliveries a page lists.
const DeliveryPageSize = 50

// DeliveryAttemptsShown is how many attempts a listed delivery shows: a
// delivery retried for 24 hours makes dozens.
const DeliveryAttemptsShown = 20

// DeliveryPageRequest is which deliveries of which endpoint to list.
type DeliveryPageRequest struct {
	EndpointID int64
	State      DeliveryState // "": every state
	Cursor     string        // "" or a page's Next or Prev
	Limit      int
}

// WebhookDeliveries lists an endpoint's deliveries, newest first, by
// keyset, each with its latest attempts: two queries for the page.
func (db *DB) WebhookDeliveries(ctx context.Context, r DeliveryPageRequest) (*DeliveryPage, error) {
	if r.Limit <= 0 || r.Limit > 200 {
		r.Limit = DeliveryPageSize
	}
	from, err := deliveryCursors.decode(r.Cursor)
	if err != nil {
		return nil, err
	}
	q := db.gorm.WithContext(ctx).Table("webhook_deliveries d").
		Select("d.*, e.event_id AS public_event_id, e.event_type").
		Joins("JOIN webhook_events e ON e.id = d.event_id").
		Where("d.endpoint_id = ?", r.EndpointID)
	if r.State != "" {
		cond, ok := deliveryStateSQL[r.State]
		if !ok {
			return nil, &Error{Kind: KindInvalid, Message: "There is no such delivery state."}
		}
		q = q.Where(cond)
	}
	q = deliveryCursors.seek(q, from)
	var rows []DeliveryRow
	if err := q.Limit(r.Limit + 1).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list webhook deliveries of endpoint %d: %w", r.EndpointID, err)
	}
	page := &DeliveryPage{}
	page.Deliveries, page.PageCursors = keysetPage(deliveryCursors, rows, r.Limit, from,
		func(d *DeliveryRow) cursor { return cursor{id: d.ID} })
	if err := db.attachAttempts(ctx, page.Deliveries); err != nil {
		return nil, err
	}
	return page, nil
}

// attachAttempts loads the latest attempts of every row in one query.
func (db *DB) attachAttempts(ctx context.Context, rows []DeliveryRow) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, len(rows))
	at := make(map[int64]int, len(rows))
	for i, d := range rows {
		ids[i], at[d.ID] = d.ID, i
	}
	var attempts []WebhookAttempt
	err := db.gorm.WithContext(ctx).Raw(`SELECT id, delivery_id, endpoint_id, attempt, attempted_at, status_code, latency_ms, error
		FROM (SELECT a.*, ROW_NUMBER() OVER (PARTITION BY a.delivery_id ORDER BY a.id DESC) AS n
			FROM webhook_attempts a WHERE a.delivery_id IN ?) recent
		WHERE n <= ? ORDER BY delivery_id, id DESC`, ids, DeliveryAttemptsShown).Scan(&attempts).Error
	if err != nil {
		return fmt.Errorf("load attempts of %d webhook deliveries: %w", len(rows), err)
	}
	for _, a := range attempts {
		i := at[a.DeliveryID]
		rows[i].Recent = append(rows[i].Recent, a)
	}
	return nil
}
