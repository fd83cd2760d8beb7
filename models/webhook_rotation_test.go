package models_test

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// claimOne claims the only due delivery at now and lets it go again.
func claimOne(t testing.TB, db *models.DB, now time.Time) models.ClaimedDelivery {
	t.Helper()
	claimed, err := db.ClaimDeliveries(ctx, now, time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim at %v: %d deliveries, %v", now, len(claimed), err)
	}
	if err := db.ReleaseDeliveries(ctx, claimed); err != nil {
		t.Fatal(err)
	}
	return claimed[0]
}

func TestNewWebhookSecret_IsAStandardWebhooksSecret(t *testing.T) {
	s := models.NewWebhookSecret()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if !strings.HasPrefix(s, "whsec_") || err != nil || len(key) != 32 {
		t.Fatalf("secret %q: %d key bytes, %v", s, len(key), err)
	}
}

func TestRotateWebhookSecret_ThePreviousSignsFor24HoursThenOnlyTheNew(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := newEndpoint(t, db)
		id := c.Endpoint.ID
		createUser(t, db, "rotation-1", nil)
		before := models.Now()
		rotated, err := db.RotateWebhookSecret(ctx, adminOrigin, id)
		if err != nil {
			t.Fatal(err)
		}
		if rotated.Secret == c.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") {
			t.Fatalf("new secret %q (old %q)", rotated.Secret, c.Secret)
		}
		e, err := db.WebhookEndpointByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		until, ok := e.PreviousSecretSignsUntil(before)
		if !ok || until.Sub(before) < models.SecretOverlap || until.Sub(before) > models.SecretOverlap+time.Minute {
			t.Fatalf("previous secret signs until %v (rotated at about %v), %v", until, before, ok)
		}
		if got, err := db.WebhookSecret(e); err != nil || got != rotated.Secret {
			t.Fatalf("current secret opens to %q, %v", got, err)
		}

		// During the overlap the worker gets both secrets.
		during := claimOne(t, db, until.Add(-time.Second))
		if during.Secret != rotated.Secret || during.PreviousSecret != c.Secret || !during.PreviousSecretUntil.Equal(until) {
			t.Fatalf("claimed during the overlap: secret %q previous %q until %v", during.Secret, during.PreviousSecret, during.PreviousSecretUntil)
		}
		// From its end, the new one only.
		after := claimOne(t, db, until)
		if after.Secret != rotated.Secret || after.PreviousSecret != "" {
			t.Fatalf("claimed after the overlap: secret %q previous %q", after.Secret, after.PreviousSecret)
		}

		// Sealed: neither secret is in any column in clear, and the
		// previous one opens only as this endpoint's previous secret.
		for _, row := range rawRows(t, db, "SELECT * FROM webhook_endpoints") {
			for col, v := range row {
				for _, s := range []string{c.Secret, rotated.Secret} {
					if strings.Contains(text(v), strings.TrimPrefix(s, "whsec_")) {
						t.Fatalf("column %s holds a secret in clear", col)
					}
				}
			}
		}
		if e.PreviousSecretCipher == "" || e.PreviousSecretKeyID == "" {
			t.Fatalf("previous secret not stored: %+v", e)
		}
		swapped := *e
		swapped.SecretCipher, swapped.SecretKeyID = e.PreviousSecretCipher, e.PreviousSecretKeyID
		if _, err := db.WebhookSecret(&swapped); err == nil {
			t.Fatal("the previous secret opened as the current one")
		}

		// Audited without either secret.
		es := entriesWithAction(t, db, "webhook.rotate_secret")
		if len(es) != 1 || es[0].TargetID != strconv.FormatInt(id, 10) || es[0].ActorID != adminOrigin.Actor.ID {
			t.Fatalf("webhook.rotate_secret entries: %+v", es)
		}
		for _, s := range []string{c.Secret, rotated.Secret} {
			if strings.Contains(es[0].Diff, strings.TrimPrefix(s, "whsec_")) {
				t.Fatalf("the audit entry holds a secret: %s", es[0].Diff)
			}
		}
		if !strings.Contains(es[0].Diff, "previous_secret_until") {
			t.Fatalf("the audit entry does not say when the overlap ends: %s", es[0].Diff)
		}

		// Once over, the replaced secret is erased.
		if n, err := db.ForgetRetiredWebhookSecrets(ctx, until.Add(-time.Second)); err != nil || n != 0 {
			t.Fatalf("forgot %d secrets during the overlap, %v", n, err)
		}
		if n, err := db.ForgetRetiredWebhookSecrets(ctx, until); err != nil || n != 1 {
			t.Fatalf("forgot %d secrets after the overlap, %v", n, err)
		}
		if e, _ := db.WebhookEndpointByID(ctx, id); e.PreviousSecretCipher != "" || e.PreviousSecretUntil != nil {
			t.Fatalf("retired secret kept: %+v", e)
		}
	})
}

func TestRotateWebhookSecret_TwiceEndsTheFirstOverlap(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := newEndpoint(t, db)
		createUser(t, db, "rotation-2", nil)
		first, err := db.RotateWebhookSecret(ctx, adminOrigin, c.Endpoint.ID)
		if err != nil {
			t.Fatal(err)
		}
		second, err := db.RotateWebhookSecret(ctx, adminOrigin, c.Endpoint.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := claimOne(t, db, models.Now().Add(time.Second))
		if got.Secret != second.Secret || got.PreviousSecret != first.Secret {
			t.Fatalf("after two rotations: secret %q previous %q, want %q and %q", got.Secret, got.PreviousSecret, second.Secret, first.Secret)
		}
		if es := entriesWithAction(t, db, "webhook.rotate_secret"); len(es) != 2 {
			t.Fatalf("entries %+v", es)
		}
	})
}

func TestRotateWebhookSecret_UndoneWhenItsAuditEntryIsRefused(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := newEndpoint(t, db)
		bad := adminOrigin
		bad.RequestID = "req\x00nul" // refused by the audit log, after the change was made
		if _, err := db.RotateWebhookSecret(ctx, bad, c.Endpoint.ID); err == nil {
			t.Fatal("a rotation whose audit entry was refused succeeded")
		}
		e, err := db.WebhookEndpointByID(ctx, c.Endpoint.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := db.WebhookSecret(e); err != nil || got != c.Secret || e.PreviousSecretCipher != "" {
			t.Fatalf("after a refused rotation: secret %q (%v), previous %q", got, err, e.PreviousSecretCipher)
		}
		if es := entriesWithAction(t, db, "webhook.rotate_secret"); len(es) != 0 {
			t.Fatalf("entries %+v", es)
		}
		_, err = db.RotateWebhookSecret(ctx, adminOrigin, c.Endpoint.ID+1000)
		domainError(t, err, models.KindNotFound)
	})
}
