package models_test

import (
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"ledgerdesk/models"
)

func migrationVersions(t *testing.T) []int {
	t.Helper()
	all, err := models.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no embedded migrations")
	}
	var vs []int
	for _, m := range all {
		vs = append(vs, m.Version)
	}
	return vs
}

func TestMigrations_AreOrderedAndNamed(t *testing.T) {
	all, err := models.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range all {
		if m.Name == "" || m.Version <= 0 {
			t.Errorf("migration %d: version %d name %q", i, m.Version, m.Name)
		}
		if i > 0 && m.Version <= all[i-1].Version {
			t.Errorf("migration %d out of order", m.Version)
		}
	}
}

func TestMigrate_AppliesEachMigrationOnceAndRecordsIt(t *testing.T) {
	want := migrationVersions(t)
	eachFresh(t, func(t *testing.T, db *models.DB) {
		pending, err := db.PendingMigrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if pending != len(want) || pending == 0 {
			t.Fatalf("fresh database: %d pending, want %d", pending, len(want))
		}
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if !reflect.DeepEqual(applied, want) {
			t.Errorf("first migrate applied %v, want %v", applied, want)
		}
		var recorded []int
		if err := db.Gorm().Raw(`SELECT version FROM schema_migrations ORDER BY version`).Scan(&recorded).Error; err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(recorded, want) {
			t.Errorf("schema_migrations holds %v, want %v", recorded, want)
		}
		if pending, err := db.PendingMigrations(ctx); err != nil || pending != 0 {
			t.Errorf("after migrate: %d pending (%v)", pending, err)
		}
		again, err := db.Migrate(ctx)
		if err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if len(again) != 0 {
			t.Errorf("second migrate applied %v", again)
		}
		// The schema is usable: the audited write path works on it.
		record(t, db, "test.after_migrate", "1")
		if h := head(t, db); h.Seq != 1 {
			t.Errorf("chain head at %d after one entry", h.Seq)
		}
	})
}

func TestMigrate_TwoProcessesStartingTogetherOnPostgres(t *testing.T) {
	_, dsn := freshPostgres(t)
	want := migrationVersions(t)
	for round := 0; round < 3; round++ {
		const n = 4
		var dbs []*models.DB
		for i := 0; i < n; i++ {
			db, err := models.OpenPostgres(dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			dbs = append(dbs, db)
		}
		if round > 0 {
			// Start over on an empty schema: drop every table it holds.
			var tables []string
			if err := dbs[0].Gorm().Raw(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables).Error; err != nil {
				t.Fatal(err)
			}
			exec(t, dbs[0], `DROP TABLE IF EXISTS `+strings.Join(tables, ", ")+` CASCADE`)
			exec(t, dbs[0], `DROP FUNCTION IF EXISTS audit_entries_append_only() CASCADE`)
			exec(t, dbs[0], `DROP FUNCTION IF EXISTS search_trigram_shares()`)
		}
		var mu sync.Mutex
		var all []int
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, db := range dbs {
			wg.Add(1)
			go func(db *models.DB) {
				defer wg.Done()
				<-start
				applied, err := db.Migrate(ctx)
				if err != nil {
					t.Errorf("round %d: migrate: %v", round, err)
				}
				mu.Lock()
				all = append(all, applied...)
				mu.Unlock()
			}(db)
		}
		close(start)
		wg.Wait()
		sort.Ints(all)
		if !reflect.DeepEqual(all, want) {
			t.Errorf("round %d: migrations applied %v in total, want each of %v once", round, all, want)
		}
	}
}
