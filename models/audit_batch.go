package models

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// Group commit. On PostgreSQL every audited write ends by locking the one
// chain head row and holds it through its commit, so writers one at a time
// pay a WAL flush each. Instead, Apply hands its change to a committer that
// takes every change waiting (up to maxBatch), runs each in a savepoint of
// one transaction, then writes all their outbox rows, locks the head once,
// appends all their entries in order and commits once. Each change still
// commits with its entry and outbox rows or not at all; a change that fails
// rolls back to its savepoint and only its caller hears of it.

// maxBatch bounds the changes in one transaction. PostgreSQL caches 64
// subtransaction ids per backend (PGPROC_MAX_CACHED_SUBXIDS) and every
// other session's snapshots slow down once a transaction overflows it;
// 32 savepoints leave room for changes that open their own.
const maxBatch = 32

// committers is how many batches may be in flight at once: while one holds
// the chain head through its commit, the next runs its changes.
const committers = 2

// errCommitterClosed answers changes still waiting when the DB closes.
var errCommitterClosed = errors.New("audit: database closed")

// errNothingToCommit rolls back a batch whose changes all failed.
var errNothingToCommit = errors.New("audit: no change in the batch succeeded")

// stageKey marks a transaction run by the committer: appendAudit inside a
// change stages its entry there instead of taking the chain head early.
const stageKey = "ledgerdesk:audit_stage"

// Lifecycle of a waiting change: queued until a committer takes it into a
// batch, or dropped if its caller gave up first.
const (
	pendingQueued int32 = iota
	pendingTaken
	pendingDropped
)

// pendingChange is one Apply waiting for its batch.
type pendingChange struct {
	ctx    context.Context
	origin Origin
	fn     func(tx *gorm.DB) (Change, error)
	state  atomic.Int32
	done   chan error // buffered: the committer never waits for the caller
	// entry is the change's own entry, set before done is sent.
	entry *AuditEntry
}

// auditStage collects the entries one change asks for, in order.
type auditStage struct {
	entries []*AuditEntry
}

// committer feeds waiting changes to the batch goroutines of one DB.
type committer struct {
	queue    chan *pendingChange
	stop     chan struct{}
	stopOnce sync.Once
	running  sync.WaitGroup
}

// batcher starts the committers on first use.
func (db *DB) batcher() *committer {
	db.commitOnce.Do(func() {
		c := &committer{queue: make(chan *pendingChange, 4*maxBatch), stop: make(chan struct{})}
		for range committers {
			c.running.Add(1)
			go db.runCommitter(c)
		}
		db.commit = c
	})
	return db.commit
}

// closeCommitter lets batches in flight finish and fails changes still
// queued; Close calls it before closing the pool.
func (db *DB) closeCommitter() {
	db.commitOnce.Do(func() {}) // none will start after this
	c := db.commit
	if c == nil {
		return
	}
	c.stopOnce.Do(func() { close(c.stop) })
	c.running.Wait()
	for {
		select {
		case p := <-c.queue:
			if p.state.CompareAndSwap(pendingQueued, pendingDropped) {
				p.done <- errCommitterClosed
			}
		default:
			return
		}
	}
}

// applyBatchedEntry is Apply on PostgreSQL: it queues the change and waits for
// the outcome of the batch it lands in. A caller whose context ends while
// the change still waits withdraws it; once in a batch, the batch decides.
func (db *DB) applyBatchedEntry(ctx context.Context, o Origin, fn func(tx *gorm.DB) (Change, error)) (*AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := db.batcher()
	if c == nil {
		return nil, errCommitterClosed
	}
	p := &pendingChange{ctx: ctx, origin: o, fn: fn, done: make(chan error, 1)}
	select {
	case c.queue <- p:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.stop:
		return nil, errCommitterClosed
	}
	select {
	case err := <-p.done:
		return p.outcome(err)
	case <-ctx.Done():
		if p.state.CompareAndSwap(pendingQueued, pendingDropped) {
			return nil, ctx.Err()
		}
	case <-c.stop:
		if p.state.CompareAndSwap(pendingQueued, pendingDropped) {
			return nil, errCommitterClosed
		}
	}
	return p.outcome(<-p.done)
}

// outcome is the change's entry if its batch committed it.
func (p *pendingChange) outcome(err error) (*AuditEntry, error) {
	if err != nil {
		return nil, err
	}
	return p.entry, nil
}

// runCommitter takes whatever changes wait and commits them as one batch,
// until the DB closes.
func (db *DB) runCommitter(c *committer) {
	defer c.running.Done()
	batch := make([]*pendingChange, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case <-c.stop:
			return
		case p := <-c.queue:
			batch = take(batch, p)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case p := <-c.queue:
				batch = take(batch, p)
			default:
				break fill
			}
		}
		if len(batch) > 0 {
			db.commitBatch(batch)
		}
	}
}

// take adds p to the batch unless its caller has given up.
func take(batch []*pendingChange, p *pendingChange) []*pendingChange {
	if err := p.ctx.Err(); err != nil {
		if p.state.CompareAndSwap(pendingQueued, pendingDropped) {
			p.done <- err
		}
		return batch
	}
	if !p.state.CompareAndSwap(pendingQueued, pendingTaken) {
		return batch
	}
	return append(batch, p)
}

// commitBatch runs the batch and answers every caller in it: with its own
// error if its change failed, else with the batch's outcome.
func (db *DB) commitBatch(batch []*pendingChange) {
	errs := make([]error, len(batch))
	start := time.Now()
	err := db.runBatch(batch, errs)
	// The batch's size is the changes that went in together, not those
	// that refused themselves and were rolled back; a batch of none
	// appended nothing.
	if together := len(batch) - countErrors(errs); together > 0 {
		db.observe().AuditCommitted(together, time.Since(start), err)
	}
	if errors.Is(err, errNothingToCommit) {
		err = nil
	}
	for i, p := range batch {
		if errs[i] == nil {
			errs[i] = err
		}
		p.done <- errs[i]
	}
}

func countErrors(errs []error) int {
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	return n
}

// runBatch is one transaction for the whole batch. A commit that fails
// fails every change in it: they are not retried, since a change function
// may have used up something it cannot make again (a token it returned, an
// id it recorded in its caller's struct).
func (db *DB) runBatch(batch []*pendingChange, errs []error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("audit: batch failed: %v\n%s", r, debug.Stack())
		}
	}()
	alone := len(batch) == 1
	return db.gorm.WithContext(context.Background()).Transaction(func(tx *gorm.DB) error {
		var entries []*AuditEntry
		var outbox []WebhookEvent
		for i, p := range batch {
			savepoint := "change_" + strconv.Itoa(i)
			if !alone {
				if err := tx.SavePoint(savepoint).Error; err != nil {
					return fmt.Errorf("audit: savepoint: %w", err)
				}
			}
			staged, events, err := stageChange(tx, p)
			if err == nil {
				p.entry = staged[len(staged)-1]
				entries = append(entries, staged...)
				outbox = append(outbox, events...)
				// Savepoints are not released: it would cost a round
				// trip per change, and rolling back to the newest one
				// undoes only its own change.
				continue
			}
			errs[i] = err
			if alone {
				return err
			}
			if err := tx.RollbackTo(savepoint).Error; err != nil {
				return fmt.Errorf("audit: roll back a failed change: %w", err)
			}
		}
		if len(entries) == 0 {
			return errNothingToCommit
		}
		// The outbox rows of the whole batch go in together, with the
		// endpoints as the batch leaves them, before the head is locked.
		if err := storeOutbox(tx, outbox); err != nil {
			return err
		}
		return appendEntries(tx, entries)
	})
}

// stageChange runs one change in the batch transaction, returning its
// audit entries and outbox rows ready to be stored. A change that panics
// fails alone.
func stageChange(tx *gorm.DB, p *pendingChange) (entries []*AuditEntry, outbox []WebhookEvent, err error) {
	defer func() {
		if r := recover(); r != nil {
			entries, outbox, err = nil, nil, fmt.Errorf("audit: change panicked: %v\n%s", r, debug.Stack())
		}
	}()
	stage := &auditStage{}
	// The change sees its caller's context values, but not its end: a
	// statement cancelled mid-batch would break the others' transaction.
	ctx := context.WithoutCancel(p.ctx)
	change, err := p.fn(tx.WithContext(ctx).Set(stageKey, stage).Session(&gorm.Session{}))
	if err != nil {
		return nil, nil, err
	}
	outbox, err = encodeOutbox(change.Events)
	if err != nil {
		return nil, nil, err
	}
	e, err := draftEntry(p.origin, change)
	if err != nil {
		return nil, nil, err
	}
	return append(stage.entries, e), outbox, nil
}

// stagedAppend reports the stage of a batch transaction, if tx runs in one.
func stagedAppend(tx *gorm.DB) (*auditStage, bool) {
	v, ok := tx.Get(stageKey)
	if !ok {
		return nil, false
	}
	s, ok := v.(*auditStage)
	return s, ok
}
