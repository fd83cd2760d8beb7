package models

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// RecordPauses makes the waits that stand in for a password check return
// at once, recording their lengths, until restore is called.
func RecordPauses() (pauses func() []time.Duration, restore func()) {
	var got []time.Duration
	old := pause
	pause = func(_ context.Context, d time.Duration) error {
		got = append(got, d)
		return nil
	}
	return func() []time.Duration { return got }, func() { pause = old }
}

// RecentCheckTimes are the durations pauses are drawn from.
func RecentCheckTimes() []time.Duration {
	checkTimes.mu.Lock()
	defer checkTimes.mu.Unlock()
	return append([]time.Duration(nil), checkTimes.samples[:checkTimes.n]...)
}

// WriteTargetsInlineUpTo makes jobs over more than n users leave their
// targets to the runner, until restore is called.
func WriteTargetsInlineUpTo(n int64) (restore func()) {
	old := inlineTargets
	inlineTargets = n
	return func() { inlineTargets = old }
}

// IsUniqueViolation is isUniqueViolation, for tests of what each engine
// reports.
var IsUniqueViolation = isUniqueViolation

// FindSubstringsBy makes db's users list find a search's substring matches
// on PostgreSQL by walking at most walk of the newest users, or, with walk
// 0, by fetching every match; restore lets each search choose again.
func FindSubstringsBy(db *DB, walk int64) (restore func()) {
	db.forcedWay = &substringWay{walk: walk, fetch: walk == 0}
	return func() { db.forcedWay = nil }
}

// CountSearchWhenFull makes db's users list on PostgreSQL count a
// search only once its page is known to be full or is not the first, as
// it does for a term looked up by its rarest stretches.
func CountSearchWhenFull(db *DB) (restore func()) {
	db.forcedWay = &substringWay{few: true}
	return func() { db.forcedWay = nil }
}

// WalkBudget is walkBudget, for tests of the search's choice.
var WalkBudget = walkBudget

// BeforeStagedSwap makes f run on a staged load's connection just before
// its swap, with the load schema's name, until restore is called.
func BeforeStagedSwap(f func(ctx context.Context, c *pgx.Conn, load string) error) (restore func()) {
	old := beforeSwap
	beforeSwap = f
	return func() { beforeSwap = old }
}

// TableDefinition is end_users' and items' definition as a staged load
// compares it before and after its swap.
func TableDefinition(db *DB) (string, error) { return tableDefinition(db.gorm) }
