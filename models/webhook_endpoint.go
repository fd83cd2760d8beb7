package models

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

// WebhookEndpoint is a URL that receives signed webhook events.
type WebhookEndpoint struct {
	ID           int64 `gorm:"primaryKey"`
	URL          string
	Events       StringList
	SecretCipher string
	SecretKeyID  string
	// The secret a rotation replaced, sealed like the current one; it
	// signs beside it until PreviousSecretUntil.
	PreviousSecretCipher string
	PreviousSecretKeyID  string
	PreviousSecretUntil  *time.Time
	Enabled              bool
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

func (WebhookEndpoint) TableName() string { return "webhook_endpoints" }

// Subscribes reports whether the endpoint wants events of this type.
func (e *WebhookEndpoint) Subscribes(eventType string) bool {
	return slices.Contains(e.Events, eventType)
}

// AuditTarget names the endpoint in audit entries.
func (e *WebhookEndpoint) AuditTarget() Target {
	return Target{Type: "webhook_endpoint", ID: strconv.FormatInt(e.ID, 10)}
}

// Webhook form fields.
const (
	FieldWebhookURL    = "url"
	FieldWebhookEvents = "events"
)

// maxWebhookURL is the longest endpoint URL accepted.
const maxWebhookURL = 2048

// WebhookEndpointInput is what creating or updating an endpoint takes.
type WebhookEndpointInput struct {
	URL     string
	Events  []string
	Enabled bool
}

// Normalize trims the URL and puts the events in a fixed order.
func (in *WebhookEndpointInput) Normalize() {
	in.URL = strings.TrimSpace(in.URL)
	var events []string
	for _, t := range WebhookEventTypes {
		if slices.Contains(in.Events, t) {
			events = append(events, t)
		}
	}
	for _, t := range in.Events {
		if !slices.Contains(WebhookEventTypes, t) && !slices.Contains(events, t) {
			events = append(events, t)
		}
	}
	in.Events = events
}

// Validate checks the URL's form and the events. Whether the URL's host is
// an address Ledgerdesk may call is a network question, checked by the
// caller (webhooks.Guard) before saving and again at every connection.
func (in *WebhookEndpointInput) Validate(fields FieldErrors) {
	if problem := webhookURLProblem(in.URL); problem != "" {
		fields.Add(FieldWebhookURL, problem)
	}
	if len(in.Events) == 0 {
		fields.Add(FieldWebhookEvents, "Choose at least one event.")
	}
	for _, t := range in.Events {
		if !slices.Contains(WebhookEventTypes, t) {
			fields.Add(FieldWebhookEvents, fmt.Sprintf("Unknown event %q: choose from %s.", t, strings.Join(WebhookEventTypes, ", ")))
		}
	}
}

// webhookURLProblem explains what is wrong with an endpoint URL, or "".
func webhookURLProblem(raw string) string {
	if raw == "" {
		return "Enter the URL that receives the events."
	}
	if problem := text.Line(maxWebhookURL).Problem(raw); problem != "" {
		return problem
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return "Enter a full URL, such as https://hooks.example.com/ledgerdesk."
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "The URL must start with https:// (or http://)."
	}
	if u.Host == "" || u.Hostname() == "" {
		return "The URL needs a host name."
	}
	if u.User != nil {
		return "Put no user name or password in the URL; receivers verify the signature instead."
	}
	if u.Fragment != "" {
		return "The URL must not have a #fragment."
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "The port must be between 1 and 65535."
		}
	}
	if strings.ContainsAny(u.Hostname(), " %") || (strings.Contains(u.Hostname(), ":") && net.ParseIP(u.Hostname()) == nil) {
		return "The host name is not valid."
	}
	return ""
}

// NewWebhookSecret returns a signing secret in the Standard Webhooks form:
// "whsec_" and a 32-byte key in standard base64.
func NewWebhookSecret() string {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// SecretOverlap is how long the secret a rotation replaced keeps signing
// beside the new one.
const SecretOverlap = 24 * time.Hour

// webhookSecretContext binds a sealed secret to its endpoint, and
// previousSecretContext a replaced one, so neither opens in the other's
// place or another endpoint's.
func webhookSecretContext(id int64) string {
	return "webhook_endpoint:" + strconv.FormatInt(id, 10) + ":secret"
}

func previousSecretContext(id int64) string {
	return "webhook_endpoint:" + strconv.FormatInt(id, 10) + ":previous_secret"
}

// WebhookSecret opens the endpoint's signing secret.
func (db *DB) WebhookSecret(e *WebhookEndpoint) (string, error) {
	s, err := db.cipher().Open(e.SecretCipher, e.SecretKeyID, webhookSecretContext(e.ID))
	if err != nil {
		return "", fmt.Errorf("open secret of webhook endpoint %d: %w", e.ID, err)
	}
	return s, nil
}

// PreviousSecretSignsUntil is when the secret the last rotation replaced
// stops signing, if it still signs at now.
func (e *WebhookEndpoint) PreviousSecretSignsUntil(now time.Time) (time.Time, bool) {
	if e.PreviousSecretCipher == "" || e.PreviousSecretUntil == nil || !now.Before(*e.PreviousSecretUntil) {
		return time.Time{}, false
	}
	return *e.PreviousSecretUntil, true
}

// WebhookPreviousSecret opens the secret the last rotation replaced, ""
// if it no longer signs at now.
func (db *DB) WebhookPreviousSecret(e *WebhookEndpoint, now time.Time) (string, error) {
	if _, ok := e.PreviousSecretSignsUntil(now); !ok {
		return "", nil
	}
	s, err := db.cipher().Open(e.PreviousSecretCipher, e.PreviousSecretKeyID, previousSecretContext(e.ID))
	if err != nil {
		return "", fmt.Errorf("open previous secret of webhook endpoint %d: %w", e.ID, err)
	}
	return s, nil
}

// RotatedWebhook is an endpoint after a rotation and its new signing
// secret, shown once.
type RotatedWebhook struct {
	Endpoint *WebhookEndpoint
	Secret   string
}

// RotateWebhookSecret gives an endpoint a new signing secret, audited as
// webhook.rotate_secret (without either secret). The secret it replaces
// keeps signing beside the new one for SecretOverlap; one that an earlier
// rotation replaced stops at once.
func (db *DB) RotateWebhookSecret(ctx context.Context, o Origin, id int64) (*RotatedWebhook, error) {
	secret := NewWebhookSecret()
	var out WebhookEndpoint
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		var e WebhookEndpoint
		if err := lockForUpdate(tx).Where("id = ?", id).Take(&e).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Change{}, notFound("No webhook endpoint %d.", id)
			}
			return Change{}, fmt.Errorf("load webhook endpoint %d: %w", id, err)
		}
		replaced, err := db.WebhookSecret(&e)
		if err != nil {
			return Change{}, err
		}
		now := db.now()
		before := map[string]any{"previous_secret_until": nil}
		if until, ok := e.PreviousSecretSignsUntil(now); ok {
			before["previous_secret_until"] = until.UTC().Format(time.RFC3339)
		}
		until := now.Add(SecretOverlap)
		e.PreviousSecretCipher = db.cipher().Seal(replaced, previousSecretContext(e.ID))
		e.PreviousSecretKeyID = db.cipher().CurrentKeyID()
		e.PreviousSecretUntil = &until
		e.SecretCipher = db.cipher().Seal(secret, webhookSecretContext(e.ID))
		e.SecretKeyID = db.cipher().CurrentKeyID()
		e.UpdatedAt = now
		if err := tx.Model(&WebhookEndpoint{}).Where("id = ?", id).Updates(map[string]any{
			"secret_cipher": e.SecretCipher, "secret_key_id": e.SecretKeyID,
			"previous_secret_cipher": e.PreviousSecretCipher, "previous_secret_key_id": e.PreviousSecretKeyID,
			"previous_secret_until": until, "updated_at": now}).Error; err != nil {
			return Change{}, fmt.Errorf("rotate secret of webhook endpoint %d: %w", id, err)
		}
		out = e
		return Change{Action: "webhook.rotate_secret", Target: e.AuditTarget(), Before: before,
			After: map[string]any{"secret": "new", "previous_secret_until": until.UTC().Format(time.RFC3339)}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &RotatedWebhook{Endpoint: &out, Secret: secret}, nil
}

// ForgetRetiredWebhookSecrets erases the replaced secrets whose overlap
// was over at now; they no longer sign, so they need not be kept.
func (db *DB) ForgetRetiredWebhookSecrets(ctx context.Context, now time.Time) (int64, error) {
	db.lockWrites()
	defer db.unlockWrites()
	r := db.gorm.WithContext(ctx).Model(&WebhookEndpoint{}).Where("previous_secret_until <= ?", now).
		Updates(map[string]any{"previous_secret_cipher": "", "previous_secret_key_id": "", "previous_secret_until": nil})
	if r.Error != nil {
		return 0, fmt.Errorf("forget retired webhook secrets: %w", r.Error)
	}
	return r.RowsAffected, nil
}

// CreatedWebhook is a new endpoint and its signing secret, which is shown
// once: afterwards only the worker opens it, to sign.
type CreatedWebhook struct {
	Endpoint *WebhookEndpoint
	Secret   string
}

// webhookAudit is an endpoint as its audit entries describe it. Receivers
// often put a secret in the URL's path or query (a Slack-style hook), and
// every member reads the audit log, so the entry keeps the destination's
// origin and a digest that shows when the full URL changed.
func webhookAudit(e *WebhookEndpoint) map[string]any {
	origin := ""
	if u, err := url.Parse(e.URL); err == nil {
		origin = u.Scheme + "://" + u.Host
	}
	return map[string]any{"destination": origin, "url_sha256": HashToken(e.URL)[:16],
		"events": strings.Join(e.Events, ","), "enabled": e.Enabled}
}

// CreateWebhookEndpoint validates the input and saves the endpoint with a
// new signing secret, audited as webhook.create.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, o Origin, in WebhookEndpointInput) (*CreatedWebhook, error) {
	in.Normalize()
	fields := FieldErrors{}
	in.Validate(fields)
	if err := fields.Err(); err != nil {
		return nil, err
	}
	now := Now()
	secret := NewWebhookSecret()
	e := &WebhookEndpoint{URL: in.URL, Events: StringList(in.Events), Enabled: in.Enabled, CreatedAt: now, UpdatedAt: now}
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		if err := tx.Create(e).Error; err != nil {
			return Change{}, fmt.Errorf("insert webhook endpoint: %w", err)
		}
		e.SecretCipher = db.cipher().Seal(secret, webhookSecretContext(e.ID))
		e.SecretKeyID = db.cipher().CurrentKeyID()
		if err := tx.Model(e).Updates(map[string]any{"secret_cipher": e.SecretCipher, "secret_key_id": e.SecretKeyID}).Error; err != nil {
			return Change{}, fmt.Errorf("store webhook secret: %w", err)
		}
		after := webhookAudit(e)
		after["secret"] = "new"
		return Change{Action: "webhook.create", Target: e.AuditTarget(), After: after}, nil
	})
	if err != nil {
		return nil, err
	}
	return &CreatedWebhook{Endpoint: e, Secret: secret}, nil
}

// UpdateWebhookEndpoint changes an endpoint's URL, events and whether it is
// enabled, audited as webhook.update.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, o Origin, id int64, in WebhookEndpointInput) (*WebhookEndpoint, error) {
	in.Normalize()
	fields := FieldErrors{}
	in.Validate(fields)
	if err := fields.Err(); err != nil {
		return nil, err
	}
	var after WebhookEndpoint
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		var e WebhookEndpoint
		if err := lockForUpdate(tx).Where("id = ?", id).Take(&e).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Change{}, notFound("No webhook endpoint %d.", id)
			}
			return Change{}, err
		}
		before := webhookAudit(&e)
		e.URL, e.Events, e.Enabled, e.UpdatedAt = in.URL, StringList(in.Events), in.Enabled, Now()
		if err := tx.Model(&WebhookEndpoint{}).Where("id = ?", id).Updates(map[string]any{
			"url": e.URL, "events": e.Events, "enabled": e.Enabled, "updated_at": e.UpdatedAt}).Error; err != nil {
			return Change{}, fmt.Errorf("update webhook endpoint %d: %w", id, err)
		}
		after = e
		return Change{Action: "webhook.update", Target: e.AuditTarget(), Before: before, After: webhookAudit(&e)}, nil
	})
	if err != nil {
		return nil, err
	}
	return &after, nil
}

// DeleteWebhookEndpoint deletes an endpoint with its pending deliveries and
// their attempts, audited as webhook.delete.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, o Origin, id int64) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		return deleteWebhookEndpoint(tx, id)
	})
}

// deleteWebhookEndpoint is DeleteWebhookEndpoint's change inside tx.
func deleteWebhookEndpoint(tx *gorm.DB, id int64) (Change, error) {
	var e WebhookEndpoint
	if err := lockForUpdate(tx).Where("id = ?", id).Take(&e).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return Change{}, notFound("No webhook endpoint %d.", id)
		}
		return Change{}, err
	}
	// Children first: SQLite enforces the cascade only with foreign
	// keys on, and this must not depend on a pragma.
	if err := tx.Where("endpoint_id = ?", id).Delete(&WebhookAttempt{}).Error; err != nil {
		return Change{}, fmt.Errorf("delete attempts of webhook endpoint %d: %w", id, err)
	}
	if err := tx.Where("endpoint_id = ?", id).Delete(&WebhookDelivery{}).Error; err != nil {
		return Change{}, fmt.Errorf("delete deliveries of webhook endpoint %d: %w", id, err)
	}
	if err := tx.Delete(&WebhookEndpoint{}, id).Error; err != nil {
		return Change{}, fmt.Errorf("delete webhook endpoint %d: %w", id, err)
	}
	return Change{Action: "webhook.delete", Target: e.AuditTarget(), Before: webhookAudit(&e)}, nil
}

// WebhookEndpointByID returns one endpoint.
func (db *DB) WebhookEndpointByID(ctx context.Context, id int64) (*WebhookEndpoint, error) {
	var e WebhookEndpoint
	err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFound("No webhook endpoint %d.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load webhook endpoint %d: %w", id, err)
	}
	return &e, nil
}

// DeliveryCounts counts an endpoint's deliveries by state, with when it
// last accepted one.
type DeliveryCounts struct {
	Pending   int64
	Failing   int64
	Delivered int64
	GivenUp   int64
	// LastDeliveredAt is nil until a delivery succeeds.
	LastDeliveredAt *time.Time
}

// Failures counts the deliveries failing or given up.
func (c DeliveryCounts) Failures() int64 { return c.Failing + c.GivenUp }

// Of is the count of one state.
func (c DeliveryCounts) Of(s DeliveryState) int64 {
	switch s {
	case DeliveryStateFailing:
		return c.Failing
	case DeliveryStateDelivered:
		return c.Delivered
	case DeliveryStateGivenUp:
		return c.GivenUp
	}
	return c.Pending
}

// WebhookEndpointSummary is an endpoint with its deliveries counted by state.
type WebhookEndpointSummary struct {
	WebhookEndpoint
	DeliveryCounts
}

// WebhookEndpoints lists every endpoint, oldest first, with delivery counts.
// Admins configure a handful of endpoints, so the list is not paged.
func (db *DB) WebhookEndpoints(ctx context.Context) ([]WebhookEndpointSummary, error) {
	var eps []WebhookEndpoint
	g := db.gorm.WithContext(ctx)
	if err := g.Order("id").Find(&eps).Error; err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	counts, err := db.deliveryCounts(ctx, 0)
	if err != nil {
		return nil, err
	}
	out := make([]WebhookEndpointSummary, len(eps))
	for i, e := range eps {
		out[i] = WebhookEndpointSummary{WebhookEndpoint: e, DeliveryCounts: counts[e.ID]}
	}
	return out, nil
}

// WebhookEndpointSummaryByID is one endpoint with its delivery counts.
func (db *DB) WebhookEndpointSummaryByID(ctx context.Context, id int64) (*WebhookEndpointSummary, error) {
	e, err := db.WebhookEndpointByID(ctx, id)
	if err != nil {
		return nil, err
	}
	counts, err := db.deliveryCounts(ctx, id)
	if err != nil {
		return nil, err
	}
	return &WebhookEndpointSummary{WebhookEndpoint: *e, DeliveryCounts: counts[id]}, nil
}

// deliveryCounts counts deliveries by endpoint and state, in one query
// for every endpoint (or the one whose id is set).
func (db *DB) deliveryCounts(ctx context.Context, id int64) (map[int64]DeliveryCounts, error) {
	count := func(s DeliveryState) string {
		return "COUNT(CASE WHEN " + deliveryStateSQL[s] + " THEN 1 END) AS " + string(s)
	}
	var rows []struct {
		EndpointID int64
		Pending    int64
		Failing    int64
		Delivered  int64
		GivenUp    int64
		// In Unix seconds; NULL before any delivery succeeded.
		LastDelivered *int64
	}
	q := db.gorm.WithContext(ctx).Table("webhook_deliveries d").Select("d.endpoint_id, " +
		count(DeliveryStatePending) + ", " + count(DeliveryStateFailing) + ", " +
		count(DeliveryStateDelivered) + ", " + count(DeliveryStateGivenUp) + ", " +
		db.Dialect.unixSeconds("MAX(d.delivered_at)") + " AS last_delivered").Group("d.endpoint_id")
	if id != 0 {
		q = q.Where("d.endpoint_id = ?", id)
	}
	if err := q.Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count webhook deliveries: %w", err)
	}
	out := make(map[int64]DeliveryCounts, len(rows))
	for _, r := range rows {
		c := DeliveryCounts{Pending: r.Pending, Failing: r.Failing, Delivered: r.Delivered, GivenUp: r.GivenUp}
		if r.LastDelivered != nil {
			at := time.Unix(*r.LastDelivered, 0).UTC()
			c.LastDeliveredAt = &at
		}
		out[r.EndpointID] = c
	}
	return out, nil
}
