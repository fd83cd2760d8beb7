package models_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// applyConcurrently starts n Apply calls at once, spread over the given
// handles (several handles are several portal processes), each inserting a
// login_failures row as its change, and waits for all of them.
func applyConcurrently(t *testing.T, n int, dbs ...*models.DB) {
	t.Helper()
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			db := dbs[i%len(dbs)]
			errs <- db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
				f := models.LoginFailure{AccountKey: fmt.Sprintf("%064d", i), IP: "192.0.2.1", FailedAt: models.Now()}
				if err := tx.Create(&f).Error; err != nil {
					return models.Change{}, err
				}
				return models.Change{Action: "test.concurrent", Target: models.Target{Type: "test", ID: fmt.Sprint(i)}}, nil
			})
		}(i)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("apply: %v", err)
		}
	}
}

// checkGaplessChain checks that n entries hold seq 1..n, one per writer,
// and that the chain verifies.
func checkGaplessChain(t *testing.T, db *models.DB, n int) {
	t.Helper()
	es := entries(t, db)
	if len(es) != n {
		t.Fatalf("%d entries, want %d", len(es), n)
	}
	targets := map[string]bool{}
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d: gap or duplicate", i+1, e.Seq)
		}
		targets[e.TargetID] = true
	}
	if len(targets) != n {
		t.Errorf("%d distinct writers recorded, want %d", len(targets), n)
	}
	if got := countRows(t, db, "login_failures"); got != int64(n) {
		t.Errorf("%d changes committed, want %d", got, n)
	}
	if h := head(t, db); h.Seq != int64(n) {
		t.Errorf("chain head at %d, want %d", h.Seq, n)
	}
	if res := verify(t, db); !res.OK() || res.Checked != int64(n) {
		t.Errorf("chain: %+v", res)
	}
}

func TestApply_ConcurrentWritersOnPostgresGetGaplessSeqs(t *testing.T) {
	db := testdb.Postgres(t)
	applyConcurrently(t, 50, db)
	checkGaplessChain(t, db, 50)
}

func TestApply_ConcurrentWritersFromTwoPostgresProcesses(t *testing.T) {
	db, dsn := testdb.PostgresWithDSN(t)
	other, err := models.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	applyConcurrently(t, 40, db, other)
	checkGaplessChain(t, db, 40)
}

func openSQLiteFile(t *testing.T, path string) *models.DB {
	t.Helper()
	db, err := models.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestApply_ConcurrentWritersOnSQLiteFileGetGaplessSeqs(t *testing.T) {
	db := openSQLiteFile(t, filepath.Join(t.TempDir(), "ledgerdesk.db"))
	applyConcurrently(t, 20, db)
	checkGaplessChain(t, db, 20)
}

func TestApply_ConcurrentWritersFromTwoSQLiteProcesses(t *testing.T) {
	// Two handles on one file share no mutex: the file lock alone must
	// keep the chain straight.
	path := filepath.Join(t.TempDir(), "ledgerdesk.db")
	db := openSQLiteFile(t, path)
	other := openSQLiteFile(t, path)
	applyConcurrently(t, 20, db, other)
	checkGaplessChain(t, db, 20)
}
