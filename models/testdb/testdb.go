// Package testdb gives tests a migrated database: an in-memory SQLite by
// default, and PostgreSQL (a fresh schema per test) when TEST_DATABASE_URL
// is set. With CI=true, a test that needs PostgreSQL fails instead of
// skipping when TEST_DATABASE_URL is missing.
package testdb

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"ledgerdesk/models"
)

// EnvURL names the variable holding the PostgreSQL URL tests use.
const EnvURL = "TEST_DATABASE_URL"

func inCI() bool { return os.Getenv("CI") == "true" || os.Getenv("CI") == "1" }

// FieldKey seals personal data in tests.
var FieldKey = []byte("ledgerdesk-test-field-key-32byte")

// Configure gives a database the test field key, for tests that open one
// themselves.
func Configure(t testing.TB, db *models.DB) { configure(t, db) }

func configure(t testing.TB, db *models.DB) {
	t.Helper()
	fc, err := models.NewFieldCipher(FieldKey)
	if err != nil {
		t.Fatal(err)
	}
	db.Configure(fc, "sandbox")
}

// SQLite returns a fresh, migrated in-memory SQLite database.
func SQLite(t testing.TB) *models.DB {
	t.Helper()
	db, err := models.OpenSQLite(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	configure(t, db)
	return db
}

// PostgresURL returns TEST_DATABASE_URL, skipping the test when it is not
// set (failing it in CI).
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if inCI() {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests", EnvURL)
		}
		t.Skipf("PostgreSQL test skipped: set %s=postgres://postgres@127.0.0.1:5432/DB?sslmode=disable to run it", EnvURL)
	}
	return u
}

// Postgres returns a migrated database in a schema of its own, dropped
// when the test ends.
func Postgres(t testing.TB) *models.DB {
	t.Helper()
	db, _ := PostgresWithDSN(t)
	return db
}

// PostgresWithDSN is Postgres that also returns the DSN it connected with,
// for tests that open a second connection (or route one through a proxy).
func PostgresWithDSN(t testing.TB) (*models.DB, string) {
	t.Helper()
	dsn := EmptyPostgres(t)
	db, err := models.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: this connection closes before
	// EmptyPostgres drops the schema.
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	configure(t, db)
	return db, dsn
}

// EmptyPostgres returns the URL of a fresh schema with nothing in it (no
// migrations applied), dropped when the test ends: for tests of the
// migrate command and of what runs before it.
func EmptyPostgres(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	admin, err := models.OpenPostgres(base)
	if err != nil {
		t.Fatal(err)
	}
	schema := "t_" + strings.ToLower(models.RandomHex(6))
	if err := admin.Gorm().Exec("CREATE SCHEMA " + schema).Error; err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Gorm().Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	return WithSearchPath(base, schema)
}

// WithSearchPath points a PostgreSQL URL at a schema (then public, where
// extensions live).
func WithSearchPath(base, schema string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(fmt.Sprintf("testdb: bad %s: %v", EnvURL, err))
	}
	q := u.Query()
	q.Set("search_path", schema+",public")
	u.RawQuery = q.Encode()
	return u.String()
}

// Each runs fn against SQLite and, when TEST_DATABASE_URL is set, against
// PostgreSQL, as subtests named after the dialect. In CI both must run.
func Each(t *testing.T, fn func(t *testing.T, db *models.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	if os.Getenv(EnvURL) == "" && !inCI() {
		return
	}
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}
