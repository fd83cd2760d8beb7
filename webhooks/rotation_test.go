package webhooks_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/webhooks"
)

// capture records each request's headers and body.
type capture struct {
	mu      sync.Mutex
	headers []http.Header
	bodies  [][]byte
}

func (c *capture) handler(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	c.mu.Lock()
	c.headers = append(c.headers, req.Header.Clone())
	c.bodies = append(c.bodies, body)
	c.mu.Unlock()
}

func (c *capture) last(t *testing.T) (http.Header, []byte) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.headers) == 0 {
		t.Fatal("no request received")
	}
	return c.headers[len(c.headers)-1], c.bodies[len(c.bodies)-1]
}

func TestWorker_SignsWithBothSecretsDuringTheOverlapThenOnlyTheNew(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		r := newReceiver(t)
		ep := endpointFor(t, db, r)
		old := r.secret
		rotated, err := db.RotateWebhookSecret(ctx, system, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := &capture{}
		r.srv.Config.Handler = http.HandlerFunc(got.handler)
		c := newClock()
		w := newWorker(db, c)

		emit(t, db, 1)
		c.Advance(time.Second)
		if n, err := w.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce: %d, %v", n, err)
		}
		h, body := got.last(t)
		if sigs := strings.Fields(h.Get("webhook-signature")); len(sigs) != 2 {
			t.Fatalf("during the overlap: webhook-signature %q, want two signatures", h.Get("webhook-signature"))
		}
		for name, secret := range map[string]string{"new": rotated.Secret, "old": old} {
			wh, err := standardWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Errorf("during the overlap the %s secret does not verify: %v", name, err)
			}
		}

		c.Advance(models.SecretOverlap + time.Second)
		emit(t, db, 1)
		if n, err := w.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce after the overlap: %d, %v", n, err)
		}
		h, body = got.last(t)
		if sigs := strings.Fields(h.Get("webhook-signature")); len(sigs) != 1 {
			t.Fatalf("after the overlap: webhook-signature %q, want one signature", h.Get("webhook-signature"))
		}
		if err := webhooks.Verify(rotated.Secret, h, body, 5*time.Minute, c.Now()); err != nil {
			t.Fatalf("after the overlap the new secret does not verify: %v", err)
		}
		if err := webhooks.Verify(old, h, body, 5*time.Minute, c.Now()); err != webhooks.ErrBadSignature {
			t.Fatalf("after the overlap the old secret: %v, want ErrBadSignature", err)
		}
	})
}

// legacySecret is a secret in the form endpoints were given before
// requests were signed the Standard Webhooks way.
func legacySecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

func TestWorker_AnEndpointsLegacySecretKeepsVerifying(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		r := newReceiver(t)
		ep := endpointFor(t, db, r)
		// The endpoint was created before: its sealed secret is in the
		// old form.
		legacy := legacySecret(t)
		fc, err := models.NewFieldCipher(testdb.FieldKey)
		if err != nil {
			t.Fatal(err)
		}
		sealed := fc.Seal(legacy, "webhook_endpoint:"+strconv.FormatInt(ep.ID, 10)+":secret")
		if err := db.Gorm().Model(&models.WebhookEndpoint{}).Where("id = ?", ep.ID).
			Updates(map[string]any{"secret_cipher": sealed, "secret_key_id": fc.CurrentKeyID()}).Error; err != nil {
			t.Fatal(err)
		}
		r.secret = legacy
		got := &capture{}
		r.srv.Config.Handler = http.HandlerFunc(got.handler)
		emit(t, db, 1)
		if n, err := newWorker(db, nil).RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce: %d, %v", n, err)
		}
		h, body := got.last(t)
		if err := webhooks.Verify(legacy, h, body, 5*time.Minute, time.Now()); err != nil {
			t.Fatalf("webhooks.Verify with the legacy secret: %v", err)
		}
		// The library, given the secret's text as the key.
		wh, err := standardWebhook(legacy)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Fatalf("the Standard Webhooks library with the legacy secret's text as key: %v", err)
		}
		// By hand, as the README describes: HMAC-SHA256 keyed with the
		// secret's text over id.timestamp.body, in base64.
		mac := hmac.New(sha256.New, []byte(legacy))
		mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
		mac.Write(body)
		if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); h.Get("webhook-signature") != want {
			t.Fatalf("signature %q, computed by hand %q", h.Get("webhook-signature"), want)
		}
	})
}

func TestSecretKey_StandardAndLegacyForms(t *testing.T) {
	std := models.NewWebhookSecret()
	key, err := webhooks.SecretKey(std)
	if want, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(std, "whsec_")); err != nil || !hmac.Equal(key, want) {
		t.Fatalf("standard secret: key %x, %v", key, err)
	}
	if webhooks.IsLegacySecret(std) {
		t.Fatal("a new secret is taken for a legacy one")
	}
	legacy := legacySecret(t)
	if key, err := webhooks.SecretKey(legacy); err != nil || string(key) != legacy || !webhooks.IsLegacySecret(legacy) {
		t.Fatalf("legacy secret: key %q, %v", key, err)
	}
	// The specification's example secret, given without the prefix.
	if key, err := webhooks.SecretKey("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil || len(key) != 24 {
		t.Fatalf("unprefixed secret: %d bytes, %v", len(key), err)
	}
	for _, bad := range []string{"", "whsec_", "whsec_not base64!", strings.TrimPrefix(legacy, "whsec_"), "whsec_\x00"} {
		if _, err := webhooks.SecretKey(bad); err != webhooks.ErrBadSecret {
			t.Errorf("SecretKey(%q): %v", bad, err)
		}
	}
}
