package models

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// AuditCheckpoint is the chain head (seq, hash) at SignedAt, signed with
// the portal's Ed25519 key, like a CloudTrail digest file. Copied out of
// the database, it proves what the chain held up to Seq: whoever rewrites
// the chain afterwards cannot produce a chain that ends in Hash at Seq
// without the original entries, nor sign a new checkpoint without the key.
type AuditCheckpoint struct {
	ID        int64 `gorm:"primaryKey"`
	Seq       int64
	Hash      string
	SignedAt  time.Time
	PublicKey string // base64
	Signature string // base64, over SignedMessage
}

func (AuditCheckpoint) TableName() string { return "audit_checkpoints" }

// checkpointVersion names the signed message's layout.
const checkpointVersion = "ledgerdesk-audit-checkpoint-v1"

// SignedMessage is the exact bytes the signature covers.
func (cp AuditCheckpoint) SignedMessage() []byte {
	return []byte(checkpointVersion + "\nseq " + strconv.FormatInt(cp.Seq, 10) + "\nhash " + cp.Hash +
		"\ntime " + cp.SignedAt.UTC().Format(time.RFC3339Nano) + "\n")
}

// CheckpointFile is a checkpoint as downloaded: everything needed to check
// it away from the portal.
type CheckpointFile struct {
	Version   string    `json:"version"`
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	Algorithm string    `json:"algorithm"`
	PublicKey string    `json:"public_key"`
	Signature string    `json:"signature"`
}

// File is the checkpoint's downloadable form.
func (cp AuditCheckpoint) File() CheckpointFile {
	return CheckpointFile{Version: checkpointVersion, Seq: cp.Seq, Hash: cp.Hash, Time: cp.SignedAt.UTC(),
		Algorithm: "ed25519", PublicKey: cp.PublicKey, Signature: cp.Signature}
}

// ParseCheckpointFile reads a downloaded checkpoint.
func ParseCheckpointFile(b []byte) (AuditCheckpoint, error) {
	var f CheckpointFile
	if err := json.Unmarshal(b, &f); err != nil {
		return AuditCheckpoint{}, fmt.Errorf("read checkpoint: %w", err)
	}
	if f.Version != checkpointVersion || f.Algorithm != "ed25519" {
		return AuditCheckpoint{}, fmt.Errorf("read checkpoint: not a %s file", checkpointVersion)
	}
	if f.Seq < 0 || len(f.Hash) != 64 || f.Signature == "" {
		return AuditCheckpoint{}, errors.New("read checkpoint: seq, hash or signature missing")
	}
	return AuditCheckpoint{Seq: f.Seq, Hash: f.Hash, SignedAt: f.Time.UTC(), PublicKey: f.PublicKey, Signature: f.Signature}, nil
}

// EncodePublicKey is the text form of a public key: base64.
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// ParsePublicKey reads an Ed25519 public key written as base64 (standard
// or URL alphabet) or hex.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == ed25519.PublicKeySize {
			return ed25519.PublicKey(b), nil
		}
	}
	return nil, errors.New("a public key is 32 bytes, base64 or hex encoded")
}

// SignatureValid reports whether the checkpoint was signed by pub.
func (cp AuditCheckpoint) SignatureValid(pub ed25519.PublicKey) bool {
	sig, err := base64.StdEncoding.DecodeString(cp.Signature)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return false
	}
	return ed25519.Verify(pub, cp.SignedMessage(), sig)
}

// CreateCheckpoint signs the current chain head with key and stores the
// checkpoint. The audit.checkpoint entry recording it comes right after
// the head it signs.
func (db *DB) CreateCheckpoint(ctx context.Context, o Origin, key ed25519.PrivateKey) (*AuditCheckpoint, error) {
	return db.createCheckpoint(ctx, o, key, false)
}

// CreateCheckpointIfDue is CreateCheckpoint when CheckpointDue holds, and
// nil otherwise, decided while holding the chain head: of several
// processes signing on a schedule, one signs and the others find the
// checkpoint it made.
func (db *DB) CreateCheckpointIfDue(ctx context.Context, o Origin, key ed25519.PrivateKey) (*AuditCheckpoint, error) {
	return db.createCheckpoint(ctx, o, key, true)
}

// errCheckpointNotDue rolls back a scheduled checkpoint another signed.
var errCheckpointNotDue = errors.New("checkpoint: not due")

func (db *DB) createCheckpoint(ctx context.Context, o Origin, key ed25519.PrivateKey, onlyIfDue bool) (*AuditCheckpoint, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("checkpoint: no Ed25519 signing key")
	}
	var cp AuditCheckpoint
	// Alone, not batched: the entry must come right after the head it signs.
	err := db.applyAlone(ctx, o, func(tx *gorm.DB) (Change, error) {
		var head ChainHead
		// Sign the head writers see: hold it until this commits. The lock
		// also orders signers.
		if err := lockForUpdate(tx).First(&head, 1).Error; err != nil {
			return Change{}, fmt.Errorf("read chain head: %w", err)
		}
		if onlyIfDue {
			var last []AuditCheckpoint
			if err := tx.Order("id DESC").Limit(1).Find(&last).Error; err != nil {
				return Change{}, fmt.Errorf("read newest checkpoint: %w", err)
			}
			if !checkpointDue(head, last) {
				return Change{}, errCheckpointNotDue
			}
		}
		cp = AuditCheckpoint{Seq: head.Seq, Hash: head.Hash, SignedAt: Now(),
			PublicKey: EncodePublicKey(key.Public().(ed25519.PublicKey))}
		cp.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, cp.SignedMessage()))
		if err := tx.Create(&cp).Error; err != nil {
			return Change{}, fmt.Errorf("store checkpoint: %w", err)
		}
		return Change{Action: "audit.checkpoint", Target: Target{Type: "audit_checkpoint", ID: strconv.FormatInt(cp.ID, 10)},
			After: map[string]any{"seq": cp.Seq, "hash": cp.Hash}}, nil
	})
	if errors.Is(err, errCheckpointNotDue) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create checkpoint: %w", err)
	}
	return &cp, nil
}

// checkpointDue says the head moved past the newest checkpoint's own
// entry (or there is none).
func checkpointDue(head ChainHead, newest []AuditCheckpoint) bool {
	return len(newest) == 0 || head.Seq > newest[0].Seq+1
}

// CheckpointDue reports whether the chain moved since the newest
// checkpoint (beyond that checkpoint's own entry), so an idle portal does
// not sign the same head every hour.
func (db *DB) CheckpointDue(ctx context.Context) (bool, error) {
	head, err := db.AuditHead(ctx)
	if err != nil {
		return false, err
	}
	var last []AuditCheckpoint
	if err := db.gorm.WithContext(ctx).Order("id DESC").Limit(1).Find(&last).Error; err != nil {
		return false, fmt.Errorf("read newest checkpoint: %w", err)
	}
	return checkpointDue(head, last), nil
}

// ListCheckpoints returns the newest checkpoints.
func (db *DB) ListCheckpoints(ctx context.Context, limit int) ([]AuditCheckpoint, error) {
	var out []AuditCheckpoint
	err := db.gorm.WithContext(ctx).Order("id DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	return out, nil
}

// CheckpointByID returns one checkpoint.
func (db *DB) CheckpointByID(ctx context.Context, id int64) (*AuditCheckpoint, error) {
	var cp AuditCheckpoint
	if err := db.gorm.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&cp).Error; err != nil {
		return nil, fmt.Errorf("read checkpoint %d: %w", id, err)
	}
	if cp.ID == 0 {
		return nil, notFound("No checkpoint %d.", id)
	}
	return &cp, nil
}

// CheckpointResult is the outcome of checking the chain against a signed
// checkpoint.
type CheckpointResult struct {
	SignatureOK bool
	Checked     int64  // entries that verified up to the checkpoint's seq
	FirstBadSeq int64  // 0 when the chain matches the checkpoint
	Problem     string // what is wrong, when not OK
}

// OK reports whether the signature holds and the chain up to the
// checkpoint is the chain that was signed.
func (r CheckpointResult) OK() bool { return r.SignatureOK && r.Problem == "" }

// VerifyCheckpoint checks a checkpoint's signature with pub (a key the
// verifier trusts, not the one the file names) and that the chain in the
// database, walked from seq 1, still ends in the signed hash at the signed
// seq. A chain rewritten after signing, however consistent in itself,
// cannot reach the same hash.
func (db *DB) VerifyCheckpoint(ctx context.Context, cp AuditCheckpoint, pub ed25519.PublicKey, progress func(int64)) (CheckpointResult, error) {
	var res CheckpointResult
	if !cp.SignatureValid(pub) {
		res.Problem = "the checkpoint's signature does not verify with this public key"
		return res, nil
	}
	res.SignatureOK = true
	w, err := db.walkChain(ctx, cp.Seq, progress)
	if err != nil {
		return res, err
	}
	res.Checked = w.checked
	switch {
	case w.badSeq != 0:
		res.FirstBadSeq, res.Problem = w.badSeq, w.problem
	case w.checked < cp.Seq:
		res.FirstBadSeq = w.checked + 1
		res.Problem = fmt.Sprintf("the chain ends at seq %d, before the checkpoint's seq %d", w.checked, cp.Seq)
	case w.lastHash != cp.Hash:
		res.FirstBadSeq = cp.Seq
		res.Problem = fmt.Sprintf("the chain up to seq %d is not the chain signed on %s: it was rewritten",
			cp.Seq, cp.SignedAt.UTC().Format(time.RFC3339))
	}
	return res, nil
}
