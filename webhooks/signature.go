package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers every webhook request carries. The first three are the
// Standard Webhooks specification's (https://www.standardwebhooks.com), so
// receivers can verify with its libraries; the last two are Ledgerdesk's.
const (
	HeaderID        = "webhook-id"                 // the event id, the same on every retry: de-duplicate on it
	HeaderTimestamp = "webhook-timestamp"          // Unix seconds when this attempt was signed
	HeaderSignature = "webhook-signature"          // "v1,<base64 signature>", one per signing secret, space-separated
	HeaderEventType = "Ledgerdesk-Webhook-Event"   // USER_CREATED, USER_DELETED
	HeaderAttempt   = "Ledgerdesk-Webhook-Attempt" // 1 for the first attempt
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// legacySecretLen is the length, after the prefix, of the secrets issued
// before requests were signed the Standard Webhooks way: 32 random bytes in
// unpadded URL-safe base64.
const legacySecretLen = 43

// ErrBadSecret is returned for text that is not a signing secret.
var ErrBadSecret = errors.New("not a webhook signing secret")

// SecretKey is the HMAC key of a signing secret. A Standard Webhooks
// secret is "whsec_" and the key in standard base64. A secret issued
// before then is "whsec_" and 43 URL-safe base64 characters, which are not
// standard base64 (43 is not a multiple of 4): its key is its whole text,
// as it was then, so the receivers that hold it keep verifying with it.
func SecretKey(secret string) ([]byte, error) {
	encoded, prefixed := strings.CutPrefix(secret, SecretPrefix)
	if key, err := base64.StdEncoding.DecodeString(encoded); err == nil && len(key) > 0 {
		return key, nil
	}
	if prefixed && IsLegacySecret(secret) {
		return []byte(secret), nil
	}
	return nil, ErrBadSecret
}

// IsLegacySecret reports whether secret was issued before requests were
// signed the Standard Webhooks way; its key is then its whole text.
func IsLegacySecret(secret string) bool {
	encoded, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok || len(encoded) != legacySecretLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(encoded)
	return err == nil
}

// Sign returns one signature, "v1," and the base64 HMAC-SHA256 with key
// over the event id, the timestamp and the body, joined by dots.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte("."))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignatureHeader is the webhook-signature value: one signature per key,
// space-separated (both secrets sign while a rotation's overlap lasts).
func SignatureHeader(keys [][]byte, id string, timestamp int64, body []byte) string {
	sigs := make([]string, len(keys))
	for i, k := range keys {
		sigs[i] = Sign(k, id, timestamp, body)
	}
	return strings.Join(sigs, " ")
}

// Verification errors.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp is outside the tolerance")
)

// Verify checks a request as a receiver should, the Standard Webhooks way:
// a signature made with secret over the webhook-id and webhook-timestamp
// headers and the raw body, compared in constant time against each one the
// webhook-signature header carries, and a timestamp within tolerance of
// now (so a captured request cannot be replayed later). The id being
// signed, a replayed body under another id fails, so receivers can
// de-duplicate on it.
func Verify(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := SecretKey(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if id == "" || err != nil || sigs == "" {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := []byte(Sign(key, id, ts, body))
	for _, got := range strings.Fields(sigs) {
		if hmac.Equal([]byte(got), want) {
			return nil
		}
	}
	return ErrBadSignature
}
