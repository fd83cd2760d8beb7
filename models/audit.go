package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

// ActorType says who acted: a signed-in member, an API key or the portal.
type ActorType string

const (
	ActorMember ActorType = "member"
	ActorAPIKey ActorType = "api_key"
	ActorSystem ActorType = "system"
	// ActorAnonymous is a visitor who is not signed in, such as a failed
	// sign-in attempt.
	ActorAnonymous ActorType = "anonymous"
)

// Actor is who made a change.
type Actor struct {
	Type ActorType
	ID   string
}

// SystemActor is the portal itself (bootstrap, command line, housekeeping).
var SystemActor = Actor{Type: ActorSystem, ID: "ledgerdesk"}

// Origin is where a change came from: the actor and the request.
type Origin struct {
	Actor     Actor
	RequestID string
	IP        string
	UserAgent string
}

// Target is the record a change is about.
type Target struct {
	Type string
	ID   string
}

// Change is what an audited mutation reports for its audit entry. Before and
// After hold the fields it touched; only the fields that differ are kept,
// and personal values are redacted before anything is stored.
type Change struct {
	Action string
	Target Target
	Before map[string]any
	After  map[string]any
	Reason string
	// Events go to the webhook outbox in the same transaction.
	Events []OutboxEvent
	// Subjects are the end users whose personal data the entry records
	// an access to; they are indexed with the entry (data_access.go).
	Subjects []int64
}

// AuditEntry is one link of the append-only, hash-chained audit log.
type AuditEntry struct {
	Seq        int64 `gorm:"primaryKey;autoIncrement:false"`
	OccurredAt time.Time
	ActorType  ActorType
	ActorID    string
	Action     string
	TargetType string
	TargetID   string
	RequestID  string
	IP         string
	UserAgent  string
	Diff       string
	Reason     string
	PrevHash   string
	Hash       string

	// subjects are the change's Subjects, stored beside the entry once it
	// has its seq.
	subjects []int64
}

func (AuditEntry) TableName() string { return "audit_entries" }

// ChainHead is the seq and hash of the newest audit entry.
type ChainHead struct {
	ID        int `gorm:"primaryKey"`
	Seq       int64
	Hash      string
	UpdatedAt time.Time
}

func (ChainHead) TableName() string { return "audit_chain_head" }

// GenesisHash is the prev_hash of the first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// redacted replaces a personal value in a stored diff.
const redacted = "[redacted]"

// personalFields are diff keys whose values never reach the audit log: the
// entry says the field changed, not what it holds.
var personalFields = map[string]bool{
	"password": true, "password_hash": true, "secret": true, "token": true, "user_token": true,
	"first_name": true, "last_name": true, "name": true, "phone_numbers": true, "emails": true,
	"ssn": true, "ssn_full": true, "ssn_last_4": true, "date_of_birth": true,
	"primary_address": true, "street": true, "city": true, "region": true, "postal_code": true,
}

// Apply is the one way data changes. It runs fn in a transaction, appends
// the audit entry fn describes to the hash chain in that same transaction
// and commits both, or neither: a failed change leaves no entry and an entry
// that cannot be written undoes the change. On PostgreSQL the transaction
// may carry other callers' changes too, each in its own savepoint (see
// audit_batch.go); fn must then do its work through tx alone.
func (db *DB) Apply(ctx context.Context, o Origin, fn func(tx *gorm.DB) (Change, error)) error {
	_, err := db.applyEntry(ctx, o, fn)
	return err
}

// applyEntry is Apply that also returns the change's own entry as
// committed (its seq set), for a caller that goes on to refer to it.
func (db *DB) applyEntry(ctx context.Context, o Origin, fn func(tx *gorm.DB) (Change, error)) (*AuditEntry, error) {
	var e *AuditEntry
	var err error
	if db.Dialect.groupsCommits() {
		e, err = db.applyBatchedEntry(ctx, o, fn)
	} else {
		e, err = db.applyAloneEntry(ctx, o, fn)
	}
	db.noteCommit(ctx, err)
	return e, err
}

// applyAlone is Apply in a transaction of its own, for a change that must
// see the chain head as it stands right before its own entry.
func (db *DB) applyAlone(ctx context.Context, o Origin, fn func(tx *gorm.DB) (Change, error)) error {
	_, err := db.applyAloneEntry(ctx, o, fn)
	return err
}

func (db *DB) applyAloneEntry(ctx context.Context, o Origin, fn func(tx *gorm.DB) (Change, error)) (*AuditEntry, error) {
	db.lockWrites()
	defer db.unlockWrites()
	start, refused := time.Now(), false
	var entry *AuditEntry
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		change, err := fn(tx)
		if err != nil {
			refused = true
			return err
		}
		if err := writeOutbox(tx, change.Events); err != nil {
			return err
		}
		entry, err = appendAudit(tx, o, change)
		return err
	})
	db.observeCommit(start, refused, err)
	if err != nil {
		return nil, err
	}
	return entry, nil
}

// observeCommit tells the observer how a transaction of one change went,
// unless the change refused itself (its own error: nothing was appended).
func (db *DB) observeCommit(start time.Time, refused bool, err error) {
	if !refused {
		db.observe().AuditCommitted(1, time.Since(start), err)
	}
}

// applyOnConn is Apply for a change that also needs the connection its
// transaction runs on, such as a bulk COPY through the driver: fn gets the
// transaction and that connection, and whatever it does on either commits
// with the audit entry, or not at all.
func (db *DB) applyOnConn(ctx context.Context, o Origin, fn func(tx *gorm.DB, conn *sql.Conn) (Change, error)) error {
	db.lockWrites()
	defer db.unlockWrites()
	start, refused := time.Now(), false
	err := db.gorm.WithContext(ctx).Connection(func(c *gorm.DB) error {
		conn, ok := c.Statement.ConnPool.(*sql.Conn)
		if !ok {
			return fmt.Errorf("audit: no dedicated connection (%T)", c.Statement.ConnPool)
		}
		return c.Transaction(func(tx *gorm.DB) error {
			change, err := fn(tx, conn)
			if err != nil {
				refused = true
				return err
			}
			if err := writeOutbox(tx, change.Events); err != nil {
				return err
			}
			_, err = appendAudit(tx, o, change)
			return err
		})
	})
	db.observeCommit(start, refused, err)
	return err
}

// appendAudit locks the chain head, links a new entry to it and moves it.
// Inside a batch it only stages the entry: the batch links all of its
// entries at its end, in order.
func appendAudit(tx *gorm.DB, o Origin, c Change) (*AuditEntry, error) {
	e, err := draftEntry(o, c)
	if err != nil {
		return nil, err
	}
	if stage, ok := stagedAppend(tx); ok {
		stage.entries = append(stage.entries, e)
		return e, nil
	}
	if err := appendEntries(tx, []*AuditEntry{e}); err != nil {
		return nil, err
	}
	return e, nil
}

// draftEntry is the entry for a change, not yet linked into the chain. Its
// text is checked here, so that a value the database would refuse fails
// its own change and not a whole batch at the INSERT.
func draftEntry(o Origin, c Change) (*AuditEntry, error) {
	if c.Action == "" {
		return nil, fmt.Errorf("audit: change without an action")
	}
	diff, err := encodeDiff(c.Before, c.After)
	if err != nil {
		return nil, err
	}
	e := &AuditEntry{
		ActorType:  o.Actor.Type,
		ActorID:    o.Actor.ID,
		Action:     c.Action,
		TargetType: c.Target.Type,
		TargetID:   c.Target.ID,
		RequestID:  o.RequestID,
		IP:         o.IP,
		UserAgent:  truncate(o.UserAgent, 512),
		Diff:       diff,
		Reason:     c.Reason,
		subjects:   c.Subjects,
	}
	for _, s := range []string{string(e.ActorType), e.ActorID, e.Action, e.TargetType, e.TargetID, e.RequestID, e.IP, e.Reason} {
		if !storableText(s) {
			return nil, &Error{Kind: KindInvalid, Message: "The change carries text that cannot be stored (a NUL byte or invalid UTF-8)."}
		}
	}
	return e, nil
}

// storableText reports whether both databases keep s as it is.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\x00")
}

// appendEntries locks the chain head, links the entries to it in order,
// stores them and moves the head past the last: one lock, one INSERT and
// one UPDATE however many entries there are.
func appendEntries(tx *gorm.DB, entries []*AuditEntry) error {
	var head ChainHead
	if err := lockForUpdate(tx).First(&head, 1).Error; err != nil {
		return fmt.Errorf("audit: read chain head: %w", err)
	}
	prev := head
	for _, e := range entries {
		e.Seq = prev.Seq + 1
		e.OccurredAt = Now()
		e.PrevHash = prev.Hash
		e.Hash = e.ComputeHash()
		prev = ChainHead{Seq: e.Seq, Hash: e.Hash}
	}
	if err := tx.Create(entries).Error; err != nil {
		return fmt.Errorf("audit: append seq %d-%d: %w", head.Seq+1, prev.Seq, err)
	}
	if err := storeSubjects(tx, entries); err != nil {
		return err
	}
	last := entries[len(entries)-1]
	res := tx.Model(&ChainHead{}).Where("id = 1 AND seq = ?", head.Seq).
		Updates(map[string]any{"seq": last.Seq, "hash": last.Hash, "updated_at": last.OccurredAt})
	if res.Error != nil {
		return fmt.Errorf("audit: move chain head: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("audit: chain head moved under a concurrent writer")
	}
	return nil
}

// canonicalEntry fixes the field order and spelling the hash is computed
// over; changing it would break every existing chain.
type canonicalEntry struct {
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
}

// ComputeHash is SHA-256 over prev_hash and the canonical JSON of the entry
// (most entries take the hand-written fast path in audit_hash.go): the hash
// the chain stores, which verification computes again.
func (e *AuditEntry) ComputeHash() string {
	if h, ok := e.fastHash(); ok {
		return h
	}
	return e.jsonHash()
}

// jsonHash is ComputeHash through encoding/json, for any entry.
func (e *AuditEntry) jsonHash() string {
	diff := json.RawMessage(e.Diff)
	if !json.Valid(diff) {
		// Keep a tampered, invalid diff hashable so verification can name it.
		b, _ := json.Marshal(e.Diff)
		diff = b
	}
	b, err := json.Marshal(canonicalEntry{
		Seq: e.Seq, OccurredAt: e.OccurredAt.UTC().Format(time.RFC3339Nano),
		ActorType: string(e.ActorType), ActorID: e.ActorID, Action: e.Action,
		TargetType: e.TargetType, TargetID: e.TargetID, RequestID: e.RequestID,
		IP: e.IP, UserAgent: e.UserAgent, Diff: diff, Reason: e.Reason, PrevHash: e.PrevHash,
	})
	if err != nil {
		panic("audit: canonical encoding: " + err.Error())
	}
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// AuditDiff is the stored before/after of the fields a change touched.
type AuditDiff struct {
	Before map[string]any `json:"before,omitempty"`
	After  map[string]any `json:"after,omitempty"`
}

// encodeDiff keeps only the fields whose values differ and redacts personal
// values, then encodes the result as compact JSON with sorted keys.
func encodeDiff(before, after map[string]any) (string, error) {
	// Compare and redact the values as JSON will store them, so that
	// personal fields inside lists, typed maps and structs are found too.
	before, err := plainJSON(before)
	if err != nil {
		return "", fmt.Errorf("audit: encode diff: %w", err)
	}
	after, err = plainJSON(after)
	if err != nil {
		return "", fmt.Errorf("audit: encode diff: %w", err)
	}
	d := AuditDiff{Before: map[string]any{}, After: map[string]any{}}
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for k := range keys {
		b, inB := before[k]
		a, inA := after[k]
		if inB && inA && reflect.DeepEqual(b, a) {
			continue
		}
		if inB {
			d.Before[k] = redact(k, b)
		}
		if inA {
			d.After[k] = redact(k, a)
		}
	}
	if len(d.Before) == 0 {
		d.Before = nil
	}
	if len(d.After) == 0 {
		d.After = nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("audit: encode diff: %w", err)
	}
	return string(b), nil
}

// plainJSON re-decodes m's JSON into maps, lists and scalars (numbers kept
// exact as json.Number).
func plainJSON(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// redact hides personal values, also inside nested objects and lists.
func redact(key string, v any) any {
	if personalFields[key] {
		if v == nil || v == "" {
			return v
		}
		return redacted
	}
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, inner := range t {
			out[k] = redact(k, inner)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, inner := range t {
			out[i] = redact(key, inner)
		}
		return out
	}
	return v
}

// DecodeDiff parses a stored diff for display.
func (e *AuditEntry) DecodeDiff() AuditDiff {
	var d AuditDiff
	_ = json.Unmarshal([]byte(e.Diff), &d)
	return d
}

// ChangedFields lists the fields an entry's diff mentions, sorted.
func (d AuditDiff) ChangedFields() []string {
	set := map[string]bool{}
	for k := range d.Before {
		set[k] = true
	}
	for k := range d.After {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// AuditHead returns the chain head.
func (db *DB) AuditHead(ctx context.Context) (ChainHead, error) {
	var h ChainHead
	err := db.gorm.WithContext(ctx).First(&h, 1).Error
	return h, err
}

// truncate cuts s to at most n bytes of text the text rule accepts (see
// text.Clean), as request headers reach the database verbatim otherwise.
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return text.Clean(s, n)
}
