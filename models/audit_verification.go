package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// States of a verification.
const (
	VerificationRunning = "running"
	VerificationDone    = "done"
	VerificationFailed  = "failed"
)

// VerificationSilence is how long a running verification may go without
// news before it counts as stopped (its process ended), and a new one may
// start.
const VerificationSilence = 2 * time.Minute

// Verification is one full verification of the audit chain.
type Verification struct {
	ID          int64 `gorm:"primaryKey"`
	State       string
	StartedBy   string
	Total       int64
	Checked     int64
	HeadSeq     int64
	FirstBadSeq int64
	Problem     string
	StartedAt   time.Time
	HeartbeatAt time.Time
	FinishedAt  *time.Time
}

func (Verification) TableName() string { return "audit_verifications" }

// Stopped reports whether a running verification's process has gone
// silent: it will never finish.
func (v *Verification) Stopped(now time.Time) bool {
	return v.State == VerificationRunning && now.Sub(v.HeartbeatAt) > VerificationSilence
}

// Result is the outcome of a finished verification.
func (v *Verification) Result() VerifyResult {
	return VerifyResult{Checked: v.Checked, HeadSeq: v.HeadSeq, FirstBadSeq: v.FirstBadSeq, Problem: v.Problem}
}

// StartVerification records a verification of total entries started by
// by, unless one is running, in this process or another: then it returns
// that one and false. A running one that went silent is recorded as
// failed and replaced.
func (db *DB) StartVerification(ctx context.Context, by string, total int64) (*Verification, bool, error) {
	g := db.gorm.WithContext(ctx)
	now := Now()
	err := g.Model(&Verification{}).Where("state = ? AND heartbeat_at < ?", VerificationRunning, now.Add(-VerificationSilence)).
		Updates(map[string]any{"state": VerificationFailed, "finished_at": now,
			"problem": "The process running it stopped before the end."}).Error
	if err != nil {
		return nil, false, fmt.Errorf("close a silent verification: %w", err)
	}
	v := &Verification{State: VerificationRunning, StartedBy: by, Total: total, StartedAt: now, HeartbeatAt: now}
	err = g.Create(v).Error
	if err == nil {
		return v, true, nil
	}
	if !isUniqueViolation(err) {
		return nil, false, fmt.Errorf("start a verification: %w", err)
	}
	running, err := db.LatestVerification(ctx)
	if err != nil {
		return nil, false, err
	}
	if running == nil {
		return nil, false, errors.New("start a verification: one runs but cannot be read")
	}
	return running, false, nil
}

// RecordVerificationProgress notes how far a running verification got.
func (db *DB) RecordVerificationProgress(ctx context.Context, id, checked int64) error {
	return db.gorm.WithContext(ctx).Model(&Verification{}).Where("id = ? AND state = ?", id, VerificationRunning).
		Updates(map[string]any{"checked": checked, "heartbeat_at": Now()}).Error
}

// FinishVerification records a verification's outcome, or that it could
// not run to the end (failure set).
func (db *DB) FinishVerification(ctx context.Context, id int64, res VerifyResult, failure error) error {
	now := Now()
	cols := map[string]any{"state": VerificationDone, "checked": res.Checked, "head_seq": res.HeadSeq,
		"first_bad_seq": res.FirstBadSeq, "problem": res.Problem, "finished_at": now, "heartbeat_at": now}
	if failure != nil {
		cols = map[string]any{"state": VerificationFailed, "problem": "The verification could not finish.",
			"finished_at": now, "heartbeat_at": now}
	}
	err := db.gorm.WithContext(ctx).Model(&Verification{}).Where("id = ? AND state = ?", id, VerificationRunning).Updates(cols).Error
	if err != nil {
		return fmt.Errorf("finish verification %d: %w", id, err)
	}
	return nil
}

// LatestVerification is the newest verification, or nil when none ran.
func (db *DB) LatestVerification(ctx context.Context) (*Verification, error) {
	var out []Verification
	if err := db.gorm.WithContext(ctx).Order("id DESC").Limit(1).Find(&out).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("read the latest verification: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return &out[0], nil
}
