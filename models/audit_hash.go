package models

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// Verifying a million entries means a million canonical encodings; going
// through encoding/json's reflection costs most of the time. fastHash
// writes the same bytes by hand for the entries where that is easy to get
// exactly right — every string plain printable ASCII, the diff compact —
// and declines the rest, which ComputeHash then encodes the slow way. The
// tests check both ways agree.

var hashBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// fastHash is ComputeHash for plain entries; ok is false when the entry
// needs encoding/json.
func (e *AuditEntry) fastHash() (hash string, ok bool) {
	strs := [...]string{string(e.ActorType), e.ActorID, e.Action, e.TargetType, e.TargetID, e.RequestID,
		e.IP, e.UserAgent, e.Reason, e.PrevHash}
	for _, s := range strs {
		if !plainJSONString(s) {
			return "", false
		}
	}
	if !compactPlainJSON(e.Diff) {
		return "", false
	}
	bp := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(bp)
	b := append((*bp)[:0], e.PrevHash...)
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"occurred_at":"`...)
	b = e.OccurredAt.UTC().AppendFormat(b, time.RFC3339Nano)
	field := func(name, v string) {
		b = append(b, `","`...)
		b = append(b, name...)
		b = append(b, `":"`...)
		b = append(b, v...)
	}
	field("actor_type", string(e.ActorType))
	field("actor_id", e.ActorID)
	field("action", e.Action)
	field("target_type", e.TargetType)
	field("target_id", e.TargetID)
	field("request_id", e.RequestID)
	field("ip", e.IP)
	field("user_agent", e.UserAgent)
	b = append(b, `","diff":`...)
	b = append(b, e.Diff...)
	b = append(b, `,"reason":"`...)
	b = append(b, e.Reason...)
	b = append(b, `","prev_hash":"`...)
	b = append(b, e.PrevHash...)
	b = append(b, `"}`...)
	*bp = b
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), true
}

// plainJSONString reports whether encoding/json writes s as itself in
// quotes: printable ASCII without the characters it escapes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// compactPlainJSON reports whether encoding/json copies the raw diff
// through unchanged: valid, printable ASCII, no whitespace to compact and
// nothing it escapes.
func compactPlainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c > 0x7e || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return json.Valid([]byte(s))
}
