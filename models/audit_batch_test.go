package models_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// holdCommitters occupies every committer of db with a change that waits
// for release, so that the changes queued meanwhile land in shared
// batches. Each held change writes one test.hold entry.
func holdCommitters(t *testing.T, db *models.DB) (release func()) {
	t.Helper()
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < models.BatchCommitters; i++ {
		running := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
				close(running)
				<-gate
				return models.Change{Action: "test.hold", Target: models.Target{Type: "test"}}, nil
			})
			if err != nil {
				t.Errorf("held change: %v", err)
			}
		}()
		select {
		case <-running:
		case <-time.After(10 * time.Second):
			t.Fatal("a committer never took the held change")
		}
	}
	return func() {
		close(gate)
		wg.Wait()
	}
}

// batchResult is what one queued change saw and got.
type batchResult struct {
	txid int64
	err  error
}

// applyQueued queues one change per fn while the committers are held, lets
// them go, and returns each change's transaction id and error.
func applyQueued(t *testing.T, db *models.DB, fns ...func(tx *gorm.DB) (models.Change, error)) []batchResult {
	t.Helper()
	release := holdCommitters(t, db)
	out := make([]batchResult, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].err = db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
				if err := tx.Raw("SELECT txid_current()").Scan(&out[i].txid).Error; err != nil {
					return models.Change{}, err
				}
				return fn(tx)
			})
		}()
	}
	time.Sleep(200 * time.Millisecond) // let every change reach the queue
	release()
	wg.Wait()
	return out
}

// insertFailure is a change that writes a login_failures row and a
// webhook outbox event, both marked with key.
func insertFailure(key string) func(tx *gorm.DB) (models.Change, error) {
	return func(tx *gorm.DB) (models.Change, error) {
		f := models.LoginFailure{AccountKey: key, IP: "192.0.2.1", FailedAt: models.Now()}
		if err := tx.Create(&f).Error; err != nil {
			return models.Change{}, err
		}
		var seen int64
		if err := tx.Model(&models.LoginFailure{}).Where("account_key = ?", key).Count(&seen).Error; err != nil || seen != 1 {
			return models.Change{}, fmt.Errorf("change cannot read its own write: %d rows, %v", seen, err)
		}
		return models.Change{Action: "test.batch", Target: models.Target{Type: "test", ID: key},
			Events: []models.OutboxEvent{{Type: models.EventUserCreated, Payload: map[string]string{"key": key}}}}, nil
	}
}

// checkPresent checks that exactly the changes keyed ok left their row,
// entry and outbox event, and the changes keyed gone none of them.
func checkPresent(t *testing.T, db *models.DB, ok, gone []string) {
	t.Helper()
	for _, key := range ok {
		if n := countWhere(t, db, "login_failures", "account_key = ?", key); n != 1 {
			t.Errorf("change %s: %d rows, want 1", key, n)
		}
		if n := countWhere(t, db, "audit_entries", "target_id = ?", key); n != 1 {
			t.Errorf("change %s: %d entries, want 1", key, n)
		}
		if n := countWhere(t, db, "webhook_events", "payload LIKE ?", "%"+key+"%"); n != 1 {
			t.Errorf("change %s: %d outbox events, want 1", key, n)
		}
	}
	for _, key := range gone {
		for _, table := range []string{"login_failures", "audit_entries", "webhook_events"} {
			cond := map[string]string{"login_failures": "account_key = ?", "audit_entries": "target_id = ?", "webhook_events": "payload LIKE ?"}[table]
			arg := key
			if table == "webhook_events" {
				arg = "%" + key + "%"
			}
			if n := countWhere(t, db, table, cond, arg); n != 0 {
				t.Errorf("failed change %s left %d rows in %s", key, n, table)
			}
		}
	}
	if res := verify(t, db); !res.OK() {
		t.Errorf("chain: %+v", res)
	}
}

func countWhere(t *testing.T, db *models.DB, table, cond string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Gorm().Table(table).Where(cond, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestApply_ChangesQueuedTogetherShareOneTransactionOnPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	ep := newEndpoint(t, db)
	var fns []func(tx *gorm.DB) (models.Change, error)
	var keys []string
	for i := 0; i < 40; i++ {
		keys = append(keys, fmt.Sprintf("together-%02d", i))
		fns = append(fns, insertFailure(keys[i]))
	}
	res := applyQueued(t, db, fns...)
	txids := map[int64]int{}
	for i, r := range res {
		if r.err != nil {
			t.Errorf("change %d: %v", i, r.err)
		}
		txids[r.txid]++
	}
	if len(txids) >= len(res) {
		t.Errorf("%d changes in %d transactions: nothing was batched", len(res), len(txids))
	}
	checkPresent(t, db, keys, nil)
	// Every event of the batch is due at the endpoint, once.
	if n := countWhere(t, db, "webhook_deliveries", "endpoint_id = ?", ep.Endpoint.ID); n != int64(len(keys)) {
		t.Errorf("%d deliveries for %d events", n, len(keys))
	}
	checkGaplessEntries(t, db, len(keys)+models.BatchCommitters+1) // and the endpoint's entry
}

// checkGaplessEntries checks that the chain holds seq 1..n and verifies.
func checkGaplessEntries(t *testing.T, db *models.DB, n int) {
	t.Helper()
	es := entries(t, db)
	if len(es) != n {
		t.Fatalf("%d entries, want %d", len(es), n)
	}
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d: gap or duplicate", i+1, e.Seq)
		}
	}
	if res := verify(t, db); !res.OK() || res.Checked != int64(n) {
		t.Errorf("chain: %+v", res)
	}
}

func TestApply_FailedChangesInABatchFailAloneOnPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	refused := errors.New("refused by the change")
	res := applyQueued(t, db,
		insertFailure("keep-a"),
		func(tx *gorm.DB) (models.Change, error) { // writes, then refuses
			if _, err := insertFailure("gone-refused")(tx); err != nil {
				return models.Change{}, err
			}
			return models.Change{}, refused
		},
		insertFailure("keep-b"),
		func(tx *gorm.DB) (models.Change, error) { // writes, then breaks the transaction with a failed statement
			if _, err := insertFailure("gone-broken")(tx); err != nil {
				return models.Change{}, err
			}
			// On PostgreSQL a failed statement aborts the transaction
			// until its savepoint is rolled back.
			return models.Change{}, tx.Exec("SELECT 1 / 0").Error
		},
		insertFailure("keep-c"),
		func(tx *gorm.DB) (models.Change, error) { // writes, then asks for an entry that cannot be stored
			c, err := insertFailure("gone-nul")(tx)
			c.Reason = "nul \x00 byte"
			return c, err
		},
		insertFailure("keep-d"),
	)
	wantFail := map[int]bool{1: true, 3: true, 5: true}
	batched := map[int64]int{}
	for i, r := range res {
		batched[r.txid]++
		if wantFail[i] != (r.err != nil) {
			t.Errorf("change %d: error %v", i, r.err)
		}
	}
	if !errors.Is(res[1].err, refused) {
		t.Errorf("refusing change got %v, want its own error", res[1].err)
	}
	if len(batched) == len(res) {
		t.Errorf("no two changes shared a transaction: %v", batched)
	}
	checkPresent(t, db, []string{"keep-a", "keep-b", "keep-c", "keep-d"}, []string{"gone-refused", "gone-broken", "gone-nul"})
	checkGaplessEntries(t, db, 4+models.BatchCommitters)
}

func TestApply_PanickingChangeFailsAlone(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		var fns []func(tx *gorm.DB) (models.Change, error)
		fns = append(fns, insertFailure("keep-before"), func(tx *gorm.DB) (models.Change, error) {
			if _, err := insertFailure("gone-panic")(tx); err != nil {
				return models.Change{}, err
			}
			panic("change gave up")
		}, insertFailure("keep-after"))
		var errs []error
		if db.Dialect == models.Postgres {
			for _, r := range applyQueued(t, db, fns...) {
				errs = append(errs, r.err)
			}
		} else {
			for _, fn := range fns {
				errs = append(errs, applyRecovering(db, fn))
			}
		}
		if errs[0] != nil || errs[2] != nil {
			t.Errorf("changes beside the panic failed: %v, %v", errs[0], errs[2])
		}
		if errs[1] == nil || !strings.Contains(errs[1].Error(), "change gave up") {
			t.Errorf("panicking change got %v", errs[1])
		}
		checkPresent(t, db, []string{"keep-before", "keep-after"}, []string{"gone-panic"})
		// The portal goes on writing.
		if err := db.Apply(ctx, systemOrigin, insertFailure("keep-later")); err != nil {
			t.Errorf("apply after a panic: %v", err)
		}
	})
}

// applyRecovering is Apply with a panic turned into an error, as the web
// app's recover middleware does on SQLite, where the change runs on the
// caller's goroutine.
func applyRecovering(db *models.DB, fn func(tx *gorm.DB) (models.Change, error)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return db.Apply(ctx, systemOrigin, fn)
}

func TestApply_CallerWhoGivesUpWhileQueuedIsDroppedOnPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	release := holdCommitters(t, db)
	waiting, cancel := context.WithCancel(ctx)
	ran := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- db.Apply(waiting, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
			ran <- struct{}{}
			return insertFailure("gone-cancelled")(tx)
		})
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled caller kept waiting for its batch")
	}
	release()
	if err := db.Apply(ctx, systemOrigin, insertFailure("keep-next")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Error("the dropped change ran")
	default:
	}
	checkPresent(t, db, []string{"keep-next"}, []string{"gone-cancelled"})

	ended, stop := context.WithCancel(ctx)
	stop()
	if err := db.Apply(ended, systemOrigin, insertFailure("gone-ended")); !errors.Is(err, context.Canceled) {
		t.Errorf("caller with an ended context got %v", err)
	}
	checkPresent(t, db, nil, []string{"gone-ended"})
}

func TestApply_ManyConcurrentWritersOnPostgresEachLeaveOneEntry(t *testing.T) {
	db, dsn := testdb.PostgresWithDSN(t)
	other, err := models.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	applyConcurrently(t, 300, db, other)
	checkGaplessChain(t, db, 300)
}

func TestApply_AChangeWithTwoEntriesInABatchKeepsThemInOrderOnPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	res := applyQueued(t, db, insertFailure("keep-first"), func(tx *gorm.DB) (models.Change, error) {
		// Two entries from one change, as a sign-in completing an enrolment writes.
		if err := models.AppendAuditForTest(tx, systemOrigin, models.Change{Action: "test.first_of_two", Target: models.Target{Type: "test", ID: "pair"}}); err != nil {
			return models.Change{}, err
		}
		return models.Change{Action: "test.second_of_two", Target: models.Target{Type: "test", ID: "pair"}}, nil
	}, insertFailure("keep-last"))
	for i, r := range res {
		if r.err != nil {
			t.Errorf("change %d: %v", i, r.err)
		}
	}
	// Queued changes go in any order; the pair stays together and in order.
	var order []string
	for _, e := range entries(t, db) {
		if e.Action != "test.hold" {
			order = append(order, e.Action)
		}
	}
	got := strings.Join(order, " ")
	if len(order) != 4 || !strings.Contains(got, "test.first_of_two test.second_of_two") {
		t.Errorf("entries %s, want the pair together, in order, beside two test.batch", got)
	}
	checkGaplessEntries(t, db, 4+models.BatchCommitters)
}

func TestApply_ACommitThatFailsFailsItsWholeBatchOnPostgres(t *testing.T) {
	// A deferred constraint is checked at COMMIT, after every change in the
	// batch has succeeded: the batch is refused as a whole, and every
	// caller in it hears so; none of them is retried or half-written.
	db := testdb.Postgres(t)
	owner := testdb.Owner(t, db)
	exec(t, owner, `CREATE TABLE commit_probe (k int UNIQUE DEFERRABLE INITIALLY DEFERRED)`)
	exec(t, owner, `GRANT INSERT ON commit_probe TO `+testdb.AppRole)
	keys := []string{"batch-a", "batch-b", "batch-poison", "batch-c", "batch-d"}
	var fns []func(tx *gorm.DB) (models.Change, error)
	for _, key := range keys {
		insert := insertFailure(key)
		if key != "batch-poison" {
			fns = append(fns, insert)
			continue
		}
		fns = append(fns, func(tx *gorm.DB) (models.Change, error) {
			if err := tx.Exec(`INSERT INTO commit_probe VALUES (1), (1)`).Error; err != nil {
				return models.Change{}, err
			}
			return insert(tx)
		})
	}
	res := applyQueued(t, db, fns...)
	poison := res[2].txid
	var ok, gone []string
	for i, r := range res {
		if r.txid == poison {
			gone = append(gone, keys[i])
			if r.err == nil || !strings.Contains(r.err.Error(), "23505") {
				t.Errorf("%s shared the failed commit but got %v", keys[i], r.err)
			}
		} else {
			ok = append(ok, keys[i])
			if r.err != nil {
				t.Errorf("%s in another batch: %v", keys[i], r.err)
			}
		}
	}
	if len(gone) < 2 {
		t.Errorf("the failing change had its batch to itself (%v): nothing shown", gone)
	}
	checkPresent(t, db, ok, gone)
	checkGaplessEntries(t, db, len(ok)+models.BatchCommitters)
}
