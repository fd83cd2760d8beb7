package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The headers every webhook request carries.
const (
	HeaderEventID   = "Ledgerdesk-Webhook-Id"        // the same on every retry: de-duplicate on it
	HeaderEventType = "Ledgerdesk-Webhook-Event"     // USER_CREATED, USER_DELETED
	HeaderTimestamp = "Ledgerdesk-Webhook-Timestamp" // Unix seconds when this attempt was signed
	HeaderSignature = "Ledgerdesk-Webhook-Signature" // v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
	HeaderAttempt   = "Ledgerdesk-Webhook-Attempt"   // 1 for the first attempt
)

// signatureVersion prefixes the signature so the scheme can change.
const signatureVersion = "v1="

// Sign returns the signature header's value for body sent at timestamp.
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return signatureVersion + hex.EncodeToString(mac.Sum(nil))
}

// Verification errors.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp is outside the tolerance")
)

// Verify checks a request as a receiver should: the signature over the
// timestamp header and the raw body, compared in constant time, and a
// timestamp within tolerance of now (so a captured request cannot be
// replayed later).
func Verify(secret, timestampHeader, signatureHeader string, body []byte, tolerance time.Duration, now time.Time) error {
	ts, err := strconv.ParseInt(timestampHeader, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := Sign(secret, ts, body)
	// A receiver may see several signatures while a secret rotates.
	for _, got := range strings.Split(signatureHeader, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(got)), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}
