package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Webhook event types (the Powens seed's names).
const (
	EventUserCreated = "USER_CREATED"
	EventUserDeleted = "USER_DELETED"
	// EventWebhookTest is what "Send test event" sends to one endpoint,
	// whatever it subscribes to; it cannot be subscribed to.
	EventWebhookTest = "WEBHOOK_TEST"
)

// WebhookEventTypes are the events an endpoint can subscribe to.
var WebhookEventTypes = []string{EventUserCreated, EventUserDeleted}

// DeliveryWindow is how long an event is retried before its delivery fails.
const DeliveryWindow = 24 * time.Hour

// OutboxEvent is an event a change emits. Apply writes it to the outbox in
// the change's own transaction, so an event exists if and only if the
// change committed.
type OutboxEvent struct {
	Type    string
	Payload any // encoded as the request body
	// ID is the event id receivers see; "" draws a new one.
	ID string
	// Endpoint, when set, sends the event to that endpoint alone (if it
	// is enabled) instead of to every endpoint subscribed to its type.
	Endpoint int64
}

// WebhookEvent is one outbox row.
type WebhookEvent struct {
	ID        int64 `gorm:"primaryKey"`
	EventID   string
	EventType string
	Payload   string
	CreatedAt time.Time
	// EndpointID is OutboxEvent.Endpoint, carried until the deliveries
	// are written; it is not stored.
	EndpointID int64 `gorm:"-"`
}

func (WebhookEvent) TableName() string { return "webhook_events" }

// PowensUser is the Powens seed's User object, the body of USER_CREATED
// and USER_DELETED.
type PowensUser struct {
	ID     int64  `json:"id"`
	Signin string `json:"signin"`
}

// PowensDateTime is how Powens writes a DateTime.
const PowensDateTime = "2006-01-02 15:04:05"

// AsPowensUser is the user as the Powens seed shapes it.
func (u *EndUser) AsPowensUser() PowensUser {
	return PowensUser{ID: u.ID, Signin: u.CreatedAt.UTC().Format(PowensDateTime)}
}

// userEvent is a USER_CREATED or USER_DELETED event about u.
func userEvent(eventType string, u *EndUser) OutboxEvent {
	return OutboxEvent{Type: eventType, Payload: u.AsPowensUser()}
}

// WebhookTestPayload is the body of a WEBHOOK_TEST event: the endpoint it
// was sent to and when it was asked for, written as Powens writes times.
type WebhookTestPayload struct {
	EndpointID int64  `json:"endpoint_id"`
	Created    string `json:"created"`
}

// SendWebhookTestEvent queues a WEBHOOK_TEST event for one endpoint,
// audited as webhook.test. It goes through the outbox like any event, so
// the worker signs, sends and retries it and it is listed among the
// endpoint's deliveries. It returns the event's id.
func (db *DB) SendWebhookTestEvent(ctx context.Context, o Origin, endpointID int64) (string, error) {
	eventID := NewEventID()
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		var e WebhookEndpoint
		if err := lockForUpdate(tx).Where("id = ?", endpointID).Take(&e).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Change{}, notFound("No webhook endpoint %d.", endpointID)
			}
			return Change{}, fmt.Errorf("load webhook endpoint %d: %w", endpointID, err)
		}
		if !e.Enabled {
			return Change{}, &Error{Kind: KindConflict, Message: "This endpoint is disabled, so nothing is sent to it: enable it to send a test event."}
		}
		body := WebhookTestPayload{EndpointID: e.ID, Created: Now().UTC().Format(PowensDateTime)}
		return Change{Action: "webhook.test", Target: e.AuditTarget(),
			After:  map[string]any{"event": eventID, "event_type": EventWebhookTest},
			Events: []OutboxEvent{{Type: EventWebhookTest, Payload: body, ID: eventID, Endpoint: e.ID}}}, nil
	})
	if err != nil {
		return "", err
	}
	return eventID, nil
}

// NewEventID returns the id receivers de-duplicate on.
func NewEventID() string { return "evt_" + RandomHex(16) }

// writeOutbox stores events and, for each, a pending delivery to every
// enabled endpoint subscribed to its type, all in tx.
func writeOutbox(tx *gorm.DB, events []OutboxEvent) error {
	rows, err := encodeOutbox(events)
	if err != nil {
		return err
	}
	return storeOutbox(tx, rows)
}

// encodeOutbox turns events into outbox rows, not yet stored.
func encodeOutbox(events []OutboxEvent) ([]WebhookEvent, error) {
	now := Now()
	rows := make([]WebhookEvent, len(events))
	for i, ev := range events {
		body, err := json.Marshal(ev.Payload)
		if err != nil {
			return nil, fmt.Errorf("outbox: encode %s: %w", ev.Type, err)
		}
		id := ev.ID
		if id == "" {
			id = NewEventID()
		}
		rows[i] = WebhookEvent{EventID: id, EventType: ev.Type, Payload: string(body), CreatedAt: now, EndpointID: ev.Endpoint}
	}
	return rows, nil
}

// storeOutbox writes encoded events and their pending deliveries to every
// enabled endpoint subscribed to their type, or to the one enabled
// endpoint an event names.
func storeOutbox(tx *gorm.DB, rows []WebhookEvent) error {
	if len(rows) == 0 {
		return nil
	}
	var endpoints []WebhookEndpoint
	if err := tx.Select("id", "events").Where("enabled = ?", true).Find(&endpoints).Error; err != nil {
		return fmt.Errorf("outbox: read endpoints: %w", err)
	}
	if err := tx.CreateInBatches(rows, 500).Error; err != nil {
		return fmt.Errorf("outbox: write events: %w", err)
	}
	var deliveries []WebhookDelivery
	for _, ev := range rows {
		// A delivery's window opens when its event was made.
		at := ev.CreatedAt
		for _, ep := range endpoints {
			if ev.EndpointID == ep.ID || ev.EndpointID == 0 && ep.Subscribes(ev.EventType) {
				deliveries = append(deliveries, WebhookDelivery{EventID: ev.ID, EndpointID: ep.ID, Status: DeliveryPending,
					NextAttemptAt: at, DeadlineAt: at.Add(DeliveryWindow), CreatedAt: at, UpdatedAt: at})
			}
		}
	}
	if len(deliveries) == 0 {
		return nil
	}
	if err := tx.CreateInBatches(deliveries, 500).Error; err != nil {
		return fmt.Errorf("outbox: write deliveries: %w", err)
	}
	return nil
}
