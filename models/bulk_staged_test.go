package models_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/demo"
	"ledgerdesk/models/testdb"
)

// A bulk load into empty tables on PostgreSQL loads into tables of its
// own and swaps them in (bulk_staged.go). These tests seed as `ledgerdesk
// seed` does, as the tables' owner.

var stagedOrigin = models.Origin{Actor: models.SystemActor, RequestID: "req-staged"}

// stagedState is what a staged load must leave as it was, or change only
// as it says: the tables' definition and identity, and whether its load
// schema is still there.
type stagedState struct {
	definition string
	usersOID   uint32
	loadSchema bool
}

func readStagedState(t *testing.T, owner *models.DB) stagedState {
	t.Helper()
	var s stagedState
	var err error
	if s.definition, err = models.TableDefinition(owner); err != nil {
		t.Fatal(err)
	}
	err = owner.Gorm().Raw(`SELECT 'end_users'::regclass::oid`).Scan(&s.usersOID).Error
	if err != nil {
		t.Fatal(err)
	}
	err = owner.Gorm().Raw(`SELECT EXISTS (SELECT 1 FROM pg_namespace
		WHERE nspname = 'ledgerdesk_load_' || (SELECT oid FROM pg_namespace WHERE nspname = current_schema()))`).Scan(&s.loadSchema).Error
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadEndUsers_IntoEmptyTablesSwapsInTablesDefinedAsBefore(t *testing.T) {
	db := testdb.Postgres(t) // the portal's role, granted its privileges
	owner := testdb.Owner(t, db)
	// Properties a table copied with LIKE would not have.
	for _, stmt := range []string{
		`COMMENT ON TABLE end_users IS 'the people whose banks are linked'`,
		`ALTER TABLE items SET (fillfactor = 90)`,
		`ALTER TABLE end_users ALTER COLUMN last_name SET (n_distinct = -0.5)`,
	} {
		if err := owner.Gorm().Exec(stmt).Error; err != nil {
			t.Fatal(err)
		}
	}
	before := readStagedState(t, owner)
	for _, want := range []string{"grant end_users " + testdb.AppRole + " SELECT", "search_key_trgm_idx", "FOREIGN KEY",
		"stattarget=1000", "options={fillfactor=90}", "the people", "sequence end_users_id_seq owned by end_users.id"} {
		if !strings.Contains(before.definition, want) {
			t.Fatalf("the definition does not show %q:\n%s", want, before.definition)
		}
	}

	res, err := demo.Seed(context.Background(), owner, stagedOrigin, demo.Options{Users: 12000, Seed: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after := readStagedState(t, owner)
	if after.usersOID == before.usersOID {
		t.Fatal("end_users is the same table: the load did not swap its tables in")
	}
	if after.definition != before.definition {
		t.Fatalf("the swapped-in tables are defined differently:\nbefore:\n%s\nafter:\n%s", before.definition, after.definition)
	}
	if after.loadSchema {
		t.Fatal("the load schema is still there")
	}
	if n := countRows(t, db, "end_users"); n != 12000 {
		t.Fatalf("the portal's role sees %d users, want 12000", n)
	}
	if n := countRows(t, db, "items"); n != int64(res.Items) {
		t.Fatalf("the portal's role sees %d items, want %d", n, res.Items)
	}
	// The statistics gathered on the loaded tables came with them.
	var stats int64
	err = owner.Gorm().Raw(`SELECT (SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'end_users')
		+ (SELECT count(*) FROM pg_stats_ext_exprs WHERE statistics_schemaname = current_schema()
			AND statistics_name = 'end_users_search_trigrams' AND most_common_elems IS NOT NULL)`).Scan(&stats).Error
	if err != nil || stats < 2 {
		t.Fatalf("the loaded tables have %d statistics rows (%v)", stats, err)
	}
	entries, err := db.AuditHistory(context.Background(), models.FilterForActor(models.SystemActor), 1)
	if err != nil || len(entries) != 1 || entries[0].Action != "system.seed" || entries[0].DecodeDiff().After["bulk"] != true {
		t.Fatalf("the load's entry: %+v (%v)", entries, err)
	}
	if vr, err := db.VerifyAuditChain(context.Background(), nil); err != nil || !vr.OK() {
		t.Fatalf("audit chain: %+v, %v", vr, err)
	}
	// The portal writes to the swapped-in tables as before: the id
	// sequence goes on after the load, and the keys hold.
	created, err := db.CreateEndUser(context.Background(), stagedOrigin, models.EndUserInput{ClientUserID: "after-the-load"})
	if err != nil || created.User.ID <= res.LastID {
		t.Fatalf("a user created after the load: %+v, %v; want an id after %d", created, err, res.LastID)
	}
	if _, err := db.CreateEndUser(context.Background(), stagedOrigin, models.EndUserInput{ClientUserID: "after-the-load"}); err == nil {
		t.Fatal("a client_user_id could be created twice")
	}
	if err := db.Gorm().Exec(`INSERT INTO items (item_id, end_user_id, created_at, updated_at) VALUES ('x', ?, now(), now())`,
		res.LastID+1000).Error; err == nil {
		t.Fatal("an item of no user was accepted")
	}
}

// emptyTablesToLoad is a migrated PostgreSQL schema as the portal's role
// and as the owner, and the state of its empty tables.
func emptyTablesToLoad(t *testing.T) (db, owner *models.DB, before stagedState) {
	t.Helper()
	db = testdb.Postgres(t)
	owner = testdb.Owner(t, db)
	return db, owner, readStagedState(t, owner)
}

// seedFailing seeds as the owner and returns the error it must fail with.
func seedFailing(t *testing.T, ctx context.Context, owner *models.DB, note func(string)) error {
	t.Helper()
	_, err := demo.Seed(ctx, owner, stagedOrigin, demo.Options{Users: 10000, Seed: 6, Note: note}, nil)
	if err == nil {
		t.Fatal("the load succeeded")
	}
	return err
}

// assertUntouched checks a failed load left the empty tables as they were.
func assertUntouched(t *testing.T, db, owner *models.DB, before stagedState) {
	t.Helper()
	after := readStagedState(t, owner)
	if after.usersOID != before.usersOID || after.definition != before.definition {
		t.Fatalf("a failed load changed the tables:\nbefore:\n%s\nafter:\n%s", before.definition, after.definition)
	}
	if after.loadSchema {
		t.Fatal("a failed load left its schema")
	}
	if n := countRows(t, owner, "end_users") + countRows(t, owner, "items"); n != 0 {
		t.Fatalf("a failed load left %d rows", n)
	}
	if n := len(entriesWithAction(t, owner, "system.seed")); n != 0 {
		t.Fatalf("a failed load left %d entries", n)
	}
	if _, err := db.CreateEndUser(context.Background(), stagedOrigin, models.EndUserInput{ClientUserID: "after-a-failed-load"}); err != nil {
		t.Fatalf("the tables take writes no more: %v", err)
	}
}

func TestLoadEndUsers_ASwapThatWouldChangeTheTablesFailsAndKeepsThem(t *testing.T) {
	db, owner, before := emptyTablesToLoad(t)
	restore := models.BeforeStagedSwap(func(ctx context.Context, c *pgx.Conn, load string) error {
		_, err := c.Exec(ctx, `ALTER TABLE `+pgx.Identifier{load, "end_users"}.Sanitize()+` ALTER COLUMN first_name SET STATISTICS 7`)
		return err
	})
	err := seedFailing(t, context.Background(), owner, nil)
	restore()
	if !strings.Contains(err.Error(), "not defined as the ones they replace") || !strings.Contains(err.Error(), "stattarget=7") {
		t.Fatalf("the load failed with %v; want it to name the difference", err)
	}
	assertUntouched(t, db, owner, before)
}

func TestLoadEndUsers_CancelledWhileIndexingLeavesTheEmptyTables(t *testing.T) {
	db, owner, before := emptyTablesToLoad(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	indexing := false
	err := seedFailing(t, ctx, owner, func(msg string) {
		if strings.Contains(msg, " in ") && strings.Contains(msg, "_idx") { // an index is built
			once.Do(func() { indexing = true; cancel() })
		}
	})
	if !indexing {
		t.Fatalf("the load failed before it built an index: %v", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the load failed with %v, want context.Canceled", err)
	}
	assertUntouched(t, db, owner, before)
}

func TestLoadEndUsers_TwoLoadsIntoTheSameEmptyTablesBothLand(t *testing.T) {
	db, owner, before := emptyTablesToLoad(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = demo.Seed(context.Background(), owner, stagedOrigin, demo.Options{Users: 10000, Seed: uint64(10 + i)}, nil)
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("loads side by side: %v, %v", errs[0], errs[1])
	}
	after := readStagedState(t, owner)
	if after.definition != before.definition || after.loadSchema {
		t.Fatalf("two loads left the tables defined as\n%s\n(load schema left: %v)", after.definition, after.loadSchema)
	}
	if n := countRows(t, db, "end_users"); n != 20000 {
		t.Fatalf("two loads of 10,000 left %d users", n)
	}
	if vr, err := db.VerifyAuditChain(context.Background(), nil); err != nil || !vr.OK() {
		t.Fatalf("audit chain: %+v, %v", vr, err)
	}
}

func TestLoadEndUsers_TablesTheSwapCannotCarryLoadInTheTransaction(t *testing.T) {
	db := testdb.Postgres(t)
	owner := testdb.Owner(t, db)
	if err := owner.Gorm().Exec(`ALTER TABLE end_users REPLICA IDENTITY FULL`).Error; err != nil {
		t.Fatal(err)
	}
	before := readStagedState(t, owner)
	if _, err := demo.Seed(context.Background(), owner, stagedOrigin, demo.Options{Users: 10000, Seed: 7}, nil); err != nil {
		t.Fatal(err)
	}
	after := readStagedState(t, owner)
	if after.usersOID != before.usersOID || after.definition != before.definition || after.loadSchema {
		t.Fatalf("a table with a replica identity was swapped or changed:\n%s", after.definition)
	}
	if n := countRows(t, db, "end_users"); n != 10000 {
		t.Fatalf("the load left %d users", n)
	}
}

func TestDropAbandonedLoad_DropsALoadSchemaLeftBehindUnlessItsLoadRuns(t *testing.T) {
	_, owner, _ := emptyTablesToLoad(t)
	var nsp uint32
	if err := owner.Gorm().Raw(`SELECT oid FROM pg_namespace WHERE nspname = current_schema()`).Scan(&nsp).Error; err != nil {
		t.Fatal(err)
	}
	// What a load killed halfway leaves: its schema, with rows in it.
	load := pgx.Identifier{fmt.Sprintf("ledgerdesk_load_%d", nsp)}.Sanitize()
	for _, stmt := range []string{`CREATE SCHEMA ` + load, `CREATE TABLE ` + load + `.end_users AS SELECT 1 AS id`} {
		if err := owner.Gorm().Exec(stmt).Error; err != nil {
			t.Fatal(err)
		}
	}
	// A load that is running holds the lock: its schema stays.
	err := owner.Gorm().Connection(func(c *gorm.DB) error {
		if err := c.Exec(`SELECT pg_advisory_lock(4242003, hashtext(current_schema()))`).Error; err != nil {
			return err
		}
		defer c.Exec(`SELECT pg_advisory_unlock(4242003, hashtext(current_schema()))`)
		dropped, err := owner.DropAbandonedLoad(context.Background())
		if err != nil || dropped != "" {
			t.Errorf("with a load running, DropAbandonedLoad dropped %q (%v)", dropped, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !readStagedState(t, owner).loadSchema {
		t.Fatal("a running load's schema was dropped")
	}
	dropped, err := owner.DropAbandonedLoad(context.Background())
	if err != nil || dropped != fmt.Sprintf("ledgerdesk_load_%d", nsp) {
		t.Fatalf("DropAbandonedLoad dropped %q (%v)", dropped, err)
	}
	if readStagedState(t, owner).loadSchema {
		t.Fatal("the schema a killed load left is still there")
	}
	if dropped, err := owner.DropAbandonedLoad(context.Background()); err != nil || dropped != "" {
		t.Fatalf("with nothing left, DropAbandonedLoad dropped %q (%v)", dropped, err)
	}
}
