package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// What monitoring reads of the database when it asks, beside the events
// an Observer hears: the connection pool, kept in memory, and a few
// figures about the background work, each one indexed lookup or a
// bounded count.

// PoolStats is the connection pool as it stands: PostgreSQL's pgx pool
// (which GORM shares), or SQLite's database/sql pool.
type PoolStats struct {
	InUse int // connections lent out
	Idle  int // connections open and free
	Max   int // the most the pool opens (0: no limit)
	// Waits counts the times a query found no free connection and waited
	// for one to be freed or opened; WaitTime is how long they waited in
	// all.
	Waits    int64
	WaitTime time.Duration
}

// PoolStats reads the connection pool's counters; it sends no query.
func (db *DB) PoolStats() PoolStats {
	if db.pool != nil {
		s := db.pool.Stat()
		return PoolStats{InUse: int(s.AcquiredConns()), Idle: int(s.IdleConns()), Max: int(s.MaxConns()),
			Waits: s.EmptyAcquireCount(), WaitTime: s.EmptyAcquireWaitTime()}
	}
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return PoolStats{}
	}
	s := sqlDB.Stats()
	return PoolStats{InUse: s.InUse, Idle: s.Idle, Max: s.MaxOpenConnections, Waits: s.WaitCount, WaitTime: s.WaitDuration}
}

// MonitoringBacklogCap bounds the outbox backlog monitoring counts, so a
// runaway backlog costs a bounded count to watch.
const MonitoringBacklogCap = 100_000

// MonitoringFigures are the figures about the portal's background work
// that monitoring reads from the database.
type MonitoringFigures struct {
	ChainHeadSeq int64 // the newest audit entry's seq
	// LastCheckpoint is when the newest checkpoint was signed (nil before
	// the first), and LastCheckpointSeq the seq it signed.
	LastCheckpoint    *time.Time
	LastCheckpointSeq int64
	// OutboxBacklog is the deliveries neither delivered nor given up,
	// counted up to MonitoringBacklogCap; OldestDue is the earliest time
	// one of them was due to be sent, if any is due by now.
	OutboxBacklog int64
	OldestDue     *time.Time
	// LastVerification is the newest verification of the chain that
	// finished, run by any process (nil before the first).
	LastVerification *Verification
}

// ReadMonitoringFigures reads the figures at now. Each is one indexed
// lookup or a count bounded by MonitoringBacklogCap: cheap, yet callers
// should keep them a while rather than ask at every scrape.
func (db *DB) ReadMonitoringFigures(ctx context.Context, now time.Time) (MonitoringFigures, error) {
	var f MonitoringFigures
	head, err := db.AuditHead(ctx)
	if err != nil {
		return f, fmt.Errorf("monitoring: chain head: %w", err)
	}
	f.ChainHeadSeq = head.Seq
	cps, err := db.ListCheckpoints(ctx, 1)
	if err != nil {
		return f, fmt.Errorf("monitoring: %w", err)
	}
	if len(cps) > 0 {
		f.LastCheckpoint, f.LastCheckpointSeq = &cps[0].SignedAt, cps[0].Seq
	}
	g := db.gorm.WithContext(ctx)
	pending := g.Model(&WebhookDelivery{}).Select("1").Where("status = ?", DeliveryPending).Limit(MonitoringBacklogCap)
	if err := g.Table("(?) AS backlog", pending).Count(&f.OutboxBacklog).Error; err != nil {
		return f, fmt.Errorf("monitoring: outbox backlog: %w", err)
	}
	var oldest WebhookDelivery
	// The due index's first row: the pending delivery that waits longest.
	err = g.Select("next_attempt_at").Where("status = ? AND next_attempt_at <= ?", DeliveryPending, now.UTC()).
		Order("next_attempt_at, id").Take(&oldest).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
	case err != nil:
		return f, fmt.Errorf("monitoring: oldest due delivery: %w", err)
	default:
		f.OldestDue = &oldest.NextAttemptAt
	}
	var done []Verification
	if err := g.Where("state = ?", VerificationDone).Order("id DESC").Limit(1).Find(&done).Error; err != nil {
		return f, fmt.Errorf("monitoring: last verification: %w", err)
	}
	if len(done) > 0 {
		f.LastVerification = &done[0]
	}
	return f, nil
}
