package models

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one versioned schema change, embedded in the binary.
type Migration struct {
	Version int
	Name    string
	source  string
}

// Migrations lists the embedded migrations in the order they apply.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		if !ok {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		src, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, source: string(src)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations with version %d", out[i].Version)
		}
	}
	return out, nil
}

// Migrate applies every embedded migration not yet recorded in
// schema_migrations, each in its own transaction, and returns the versions
// it applied. On PostgreSQL an advisory lock keeps two processes from
// migrating at once.
func (db *DB) Migrate(ctx context.Context) ([]int, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	// A current schema needs no DDL, so a role that may not change it (the
	// portal's own, on PostgreSQL) can run `serve --migrate` once the owner
	// has migrated.
	if pending, err := db.PendingMigrations(ctx); err == nil && pending == 0 {
		return nil, nil
	}
	// Under the migration lock too: on PostgreSQL, two processes running
	// CREATE TABLE IF NOT EXISTS at once can both try to create it and one
	// fails on the catalog's unique index.
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := db.lockMigrations(tx); err != nil {
			return err
		}
		return tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at ` + db.Dialect.types().Time + ` NOT NULL)`).Error
	})
	if err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", ownerOnly(err))
	}
	var applied []int
	for _, m := range all {
		done, err := db.applyMigration(ctx, m)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

func (db *DB) applyMigration(ctx context.Context, m Migration) (bool, error) {
	sqlText, err := db.Dialect.render(m.Name, m.source)
	if err != nil {
		return false, err
	}
	applied := false
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := db.lockMigrations(tx); err != nil {
			return err
		}
		var n int64
		if err := tx.Raw(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if err := tx.Exec(sqlText).Error; err != nil {
			return err
		}
		applied = true
		return tx.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, time.Now().UTC()).Error
	})
	if err != nil {
		return false, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, ownerOnly(err))
	}
	return applied, nil
}

// ownerOnly says who may migrate when PostgreSQL refused a change for
// want of privileges: the portal's own role may not change the schema.
func ownerOnly(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		return fmt.Errorf("%w (only the tables' owner changes the schema: migrate with the owner's database URL)", err)
	}
	return err
}

// PendingMigrations reports how many embedded migrations are not applied.
func (db *DB) PendingMigrations(ctx context.Context) (int, error) {
	all, err := Migrations()
	if err != nil {
		return 0, err
	}
	if !db.gorm.WithContext(ctx).Migrator().HasTable("schema_migrations") {
		return len(all), nil
	}
	var versions []int
	if err := db.gorm.WithContext(ctx).Raw(`SELECT version FROM schema_migrations`).Scan(&versions).Error; err != nil {
		return 0, fmt.Errorf("read schema_migrations: %w", err)
	}
	have := map[int]bool{}
	for _, v := range versions {
		have[v] = true
	}
	n := 0
	for _, m := range all {
		if !have[m.Version] {
			n++
		}
	}
	return n, nil
}
