package models_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// newEndpoint saves an enabled endpoint subscribed to events (both when
// none are given).
func newEndpoint(t testing.TB, db *models.DB, events ...string) *models.CreatedWebhook {
	t.Helper()
	if len(events) == 0 {
		events = models.WebhookEventTypes
	}
	c, err := db.CreateWebhookEndpoint(ctx, adminOrigin, models.WebhookEndpointInput{
		URL: "https://hooks.example.com/ledgerdesk", Events: events, Enabled: true})
	if err != nil {
		t.Fatalf("create webhook endpoint: %v", err)
	}
	return c
}

// outboxEvents reads the outbox, oldest first.
func outboxEvents(t testing.TB, db *models.DB) []models.WebhookEvent {
	t.Helper()
	var out []models.WebhookEvent
	if err := db.Gorm().Order("id").Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

func deliveries(t testing.TB, db *models.DB) []models.WebhookDelivery {
	t.Helper()
	var out []models.WebhookDelivery
	if err := db.Gorm().Order("id").Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCreateEndUser_WritesUserCreatedToTheOutboxWithTheUser(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ep := newEndpoint(t, db)
		created := createUser(t, db, "outbox-1", nil)
		events := outboxEvents(t, db)
		if len(events) != 1 || events[0].EventType != models.EventUserCreated {
			t.Fatalf("outbox after one create: %+v", events)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(events[0].Payload), &body); err != nil {
			t.Fatal(err)
		}
		// The Powens seed's User object: id and signin, nothing personal.
		wantSignin := created.User.CreatedAt.UTC().Format("2006-01-02 15:04:05")
		if body["id"] != float64(created.User.ID) || body["signin"] != wantSignin || len(body) != 2 {
			t.Fatalf("payload %s, want id %d and signin %s", events[0].Payload, created.User.ID, wantSignin)
		}
		if !strings.HasPrefix(events[0].EventID, "evt_") {
			t.Fatalf("event id %q", events[0].EventID)
		}
		ds := deliveries(t, db)
		if len(ds) != 1 || ds[0].EndpointID != ep.Endpoint.ID || ds[0].Status != models.DeliveryPending ||
			!ds[0].DeadlineAt.Equal(events[0].CreatedAt.Add(24*time.Hour)) {
			t.Fatalf("deliveries: %+v", ds)
		}
	})
}

func TestCreateEndUser_RefusedCreateWritesNoEvent(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		newEndpoint(t, db)
		createUser(t, db, "outbox-dup", nil)
		_, err := db.CreateEndUser(ctx, adminOrigin, models.EndUserInput{ClientUserID: "outbox-dup"})
		domainError(t, err, models.KindConflict)
		if n := countRows(t, db, "webhook_events"); n != 1 {
			t.Fatalf("%d outbox rows after a refused create, want 1", n)
		}
		if n := countRows(t, db, "webhook_deliveries"); n != 1 {
			t.Fatalf("%d deliveries after a refused create, want 1", n)
		}
	})
}

func TestApply_EventsRollBackWhenTheAuditEntryCannotBeWritten(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		newEndpoint(t, db)
		// The outbox is written inside Apply before the audit entry; a
		// change whose entry is refused must take its events with it.
		err := db.Apply(ctx, adminOrigin, func(tx *gorm.DB) (models.Change, error) {
			return models.Change{Events: []models.OutboxEvent{{Type: models.EventUserCreated, Payload: models.PowensUser{ID: 1}}}}, nil
		})
		if err == nil {
			t.Fatal("a change without an action was accepted")
		}
		if n := countRows(t, db, "webhook_events"); n != 0 {
			t.Fatalf("%d outbox rows survived a rolled back change", n)
		}
		if n := countRows(t, db, "webhook_deliveries"); n != 0 {
			t.Fatalf("%d deliveries survived a rolled back change", n)
		}
		// And a change that fails after emitting leaves nothing either.
		err = db.Apply(ctx, adminOrigin, func(tx *gorm.DB) (models.Change, error) {
			return models.Change{}, errors.New("refused")
		})
		if err == nil || countRows(t, db, "webhook_events") != 0 {
			t.Fatalf("failed change: err %v, %d events", err, countRows(t, db, "webhook_events"))
		}
	})
}

func TestRemoveEndUser_WritesUserDeleted(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		newEndpoint(t, db, models.EventUserDeleted)
		created := createUser(t, db, "outbox-rm", carmen())
		if err := db.RemoveEndUser(ctx, adminOrigin, created.User.ID, "wrong"); err == nil {
			t.Fatal("removal with a wrong confirmation was accepted")
		}
		if n := countRows(t, db, "webhook_deliveries"); n != 0 {
			t.Fatalf("%d deliveries: the endpoint takes only USER_DELETED and nothing was deleted yet", n)
		}
		if err := db.RemoveEndUser(ctx, adminOrigin, created.User.ID, "outbox-rm"); err != nil {
			t.Fatal(err)
		}
		events := outboxEvents(t, db)
		last := events[len(events)-1]
		if last.EventType != models.EventUserDeleted || !strings.Contains(last.Payload, `"id":`+strconv.FormatInt(created.User.ID, 10)) {
			t.Fatalf("last event %+v", last)
		}
		for _, v := range personalValues {
			if strings.Contains(last.Payload, v) {
				t.Fatalf("payload carries personal value %q", v)
			}
		}
		if ds := deliveries(t, db); len(ds) != 1 || ds[0].EventID != last.ID {
			t.Fatalf("deliveries %+v, want one for the USER_DELETED event", ds)
		}
	})
}

func TestWebhookEndpoint_SecretIsSealedAndOpens(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := newEndpoint(t, db)
		if !strings.HasPrefix(c.Secret, "whsec_") || len(c.Secret) < 40 {
			t.Fatalf("secret %q", c.Secret)
		}
		for _, row := range rawRows(t, db, "SELECT * FROM webhook_endpoints") {
			for col, v := range row {
				if strings.Contains(text(v), strings.TrimPrefix(c.Secret, "whsec_")) {
					t.Fatalf("column %s holds the secret in clear", col)
				}
			}
		}
		for _, e := range entries(t, db) {
			if strings.Contains(e.Diff, c.Secret) {
				t.Fatalf("audit entry %s holds the secret", e.Action)
			}
		}
		got, err := db.WebhookEndpointByID(ctx, c.Endpoint.ID)
		if err != nil {
			t.Fatal(err)
		}
		secret, err := db.WebhookSecret(got)
		if err != nil || secret != c.Secret {
			t.Fatalf("opened secret %q, %v", secret, err)
		}
		// Sealed to its endpoint: copied to another row it does not open.
		other := newEndpoint(t, db)
		moved := other.Endpoint
		moved.SecretCipher = got.SecretCipher
		if _, err := db.WebhookSecret(moved); err == nil {
			t.Fatal("a secret copied to another endpoint opened")
		}
	})
}

func TestWebhookEndpoint_ValidationNamesTheField(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		cases := []struct {
			in    models.WebhookEndpointInput
			field string
		}{
			{models.WebhookEndpointInput{URL: "", Events: []string{models.EventUserCreated}}, models.FieldWebhookURL},
			{models.WebhookEndpointInput{URL: "ftp://x.example/", Events: []string{models.EventUserCreated}}, models.FieldWebhookURL},
			{models.WebhookEndpointInput{URL: "hooks.example.com/x", Events: []string{models.EventUserCreated}}, models.FieldWebhookURL},
			{models.WebhookEndpointInput{URL: "https://u:p@x.example/", Events: []string{models.EventUserCreated}}, models.FieldWebhookURL},
			{models.WebhookEndpointInput{URL: "https://x.example:99999/", Events: []string{models.EventUserCreated}}, models.FieldWebhookURL},
			{models.WebhookEndpointInput{URL: "https://x.example/"}, models.FieldWebhookEvents},
			{models.WebhookEndpointInput{URL: "https://x.example/", Events: []string{"USER_SYNCED"}}, models.FieldWebhookEvents},
		}
		for _, tc := range cases {
			_, err := db.CreateWebhookEndpoint(ctx, adminOrigin, tc.in)
			e := domainError(t, err, models.KindInvalid)
			if e.Fields[tc.field] == "" {
				t.Errorf("%+v: no message for %s (got %v)", tc.in, tc.field, e.Fields)
			}
		}
		if n := countRows(t, db, "webhook_endpoints"); n != 0 {
			t.Fatalf("%d endpoints saved from invalid input", n)
		}
	})
}

func TestWebhookEndpoint_UpdateDisableDeleteAreAudited(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := newEndpoint(t, db)
		id := c.Endpoint.ID
		updated, err := db.UpdateWebhookEndpoint(ctx, adminOrigin, id, models.WebhookEndpointInput{
			URL: "https://hooks.example.com/v2", Events: []string{models.EventUserDeleted}, Enabled: false})
		if err != nil {
			t.Fatal(err)
		}
		if updated.URL != "https://hooks.example.com/v2" || updated.Enabled || len(updated.Events) != 1 {
			t.Fatalf("updated %+v", updated)
		}
		// A disabled endpoint gets no deliveries.
		createUser(t, db, "while-disabled", nil)
		if n := countRows(t, db, "webhook_deliveries"); n != 0 {
			t.Fatalf("%d deliveries to a disabled endpoint", n)
		}
		if err := db.DeleteWebhookEndpoint(ctx, adminOrigin, id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.WebhookEndpointByID(ctx, id); models.ErrorKind(err) != models.KindNotFound {
			t.Fatalf("deleted endpoint still loads: %v", err)
		}
		for _, action := range []string{"webhook.create", "webhook.update", "webhook.delete"} {
			es := entriesWithAction(t, db, action)
			if len(es) != 1 || es[0].TargetID != strconv.FormatInt(id, 10) {
				t.Fatalf("%s entries: %+v", action, es)
			}
		}
		es := entriesWithAction(t, db, "webhook.update")
		if !strings.Contains(es[0].Diff, "url_sha256") || !strings.Contains(es[0].Diff, `"enabled":false`) {
			t.Fatalf("update diff %s", es[0].Diff)
		}
		// The path may hold a receiver's token: only the origin is kept.
		created := entriesWithAction(t, db, "webhook.create")[0]
		if strings.Contains(es[0].Diff, "/v2") || strings.Contains(created.Diff, "/ledgerdesk") ||
			!strings.Contains(created.Diff, `"destination":"https://hooks.example.com"`) {
			t.Fatalf("audit keeps the URL's path: %s, %s", created.Diff, es[0].Diff)
		}
	})
}

func TestClaimDeliveries_ClaimsDoNotOverlapAndLeasesExpire(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		newEndpoint(t, db)
		for i := 0; i < 5; i++ {
			createUser(t, db, "claim-"+strconv.Itoa(i), nil)
		}
		now := models.Now().Add(time.Second)
		first, err := db.ClaimDeliveries(ctx, now, time.Minute, 3)
		if err != nil || len(first) != 3 {
			t.Fatalf("first claim: %d, %v", len(first), err)
		}
		if first[0].Secret == "" || first[0].Attempt != 1 || first[0].URL == "" || len(first[0].Payload) == 0 {
			t.Fatalf("claimed delivery lacks what sending needs: %+v", first[0])
		}
		second, err := db.ClaimDeliveries(ctx, now, time.Minute, 10)
		if err != nil || len(second) != 2 {
			t.Fatalf("second claim: %d, %v", len(second), err)
		}
		seen := map[int64]bool{}
		for _, d := range append(first, second...) {
			if seen[d.DeliveryID] {
				t.Fatalf("delivery %d claimed twice", d.DeliveryID)
			}
			seen[d.DeliveryID] = true
		}
		if again, _ := db.ClaimDeliveries(ctx, now.Add(59*time.Second), time.Minute, 10); len(again) != 0 {
			t.Fatalf("%d deliveries claimed while leased", len(again))
		}
		// The holder died: after the lease the rows are free again.
		after, err := db.ClaimDeliveries(ctx, now.Add(61*time.Second), time.Minute, 10)
		if err != nil || len(after) != 5 {
			t.Fatalf("claim after the lease: %d, %v", len(after), err)
		}
		// The dead worker's late report does not overwrite the new claim's
		// state, but its attempt is kept.
		late := models.AttemptResult{Delivery: first[0], AttemptedAt: now, StatusCode: 200, Delivered: true}
		if err := db.RecordAttempts(ctx, []models.AttemptResult{late}); err != nil {
			t.Fatal(err)
		}
		var d models.WebhookDelivery
		db.Gorm().First(&d, first[0].DeliveryID)
		if d.Status != models.DeliveryPending || d.ClaimedUntil == nil {
			t.Fatalf("a stale claim changed the delivery: %+v", d)
		}
		if n := countRows(t, db, "webhook_attempts"); n != 1 {
			t.Fatalf("%d attempts recorded, want 1", n)
		}
	})
}
