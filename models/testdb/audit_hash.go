package testdb

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"ledgerdesk/models"
)

// AuditHash recomputes an entry's hash from the documented canonical form,
// independently of the models package's own code: SHA-256 over prev_hash
// followed by the JSON of the entry's fields in a fixed order.
func AuditHash(e models.AuditEntry) string {
	b, err := json.Marshal(struct {
		Seq        int64           `json:"seq"`
		OccurredAt string          `json:"occurred_at"`
		ActorType  string          `json:"actor_type"`
		ActorID    string          `json:"actor_id"`
		Action     string          `json:"action"`
		TargetType string          `json:"target_type"`
		TargetID   string          `json:"target_id"`
		RequestID  string          `json:"request_id"`
		IP         string          `json:"ip"`
		UserAgent  string          `json:"user_agent"`
		Diff       json.RawMessage `json:"diff"`
		Reason     string          `json:"reason"`
		PrevHash   string          `json:"prev_hash"`
	}{e.Seq, e.OccurredAt.UTC().Format(time.RFC3339Nano), string(e.ActorType), e.ActorID, e.Action,
		e.TargetType, e.TargetID, e.RequestID, e.IP, e.UserAgent, json.RawMessage(e.Diff), e.Reason, e.PrevHash})
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(append([]byte(e.PrevHash), b...))
	return hex.EncodeToString(sum[:])
}
