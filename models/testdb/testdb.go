// Package testdb gives tests a migrated database: an in-memory SQLite by
// default, and PostgreSQL (a fresh schema per test) when TEST_DATABASE_URL
// is set. On PostgreSQL the TEST_DATABASE_URL user migrates and owns the
// schema, and tests get the portal's view of it: a connection as AppRole,
// which holds only the privileges `ledgerdesk migrate --grant-to` grants.
// With CI=true, a test that needs PostgreSQL fails instead of skipping
// when TEST_DATABASE_URL is missing.
package testdb

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ledgerdesk/models"
)

// Two racing password checks can queue past the serving bound on a loaded
// test machine; the tests of the busy answer set their own wait.
//
// New passwords are hashed at a test cost, 1 MiB and one pass of argon2id
// instead of 64 MiB and two: the same code and format, at a fiftieth of
// the time, since a production hash per sign-in made most of the suite's
// time. TestHashPassword_IsArgon2idPHCWithRandomSalt checks production's.
func init() {
	models.SetPasswordQueueWait(time.Minute)
	models.SetPasswordCost(models.PasswordCost{MemoryKiB: 1024, Time: 1})
}

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

// SQLite returns a fresh, migrated SQLite database in a file of the
// test's own, as the portal runs it. Not ":memory:": database/sql drops a
// connection whose transaction's context ends, and the one connection to
// an in-memory database is the database.
func SQLite(t testing.TB) *models.DB {
	t.Helper()
	db, err := models.OpenSQLite(filepath.Join(t.TempDir(), "ledgerdesk.db"))
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

// AppRole is the role PostgreSQL tests connect as, the way the portal
// runs in production: it owns nothing and holds only what
// `ledgerdesk migrate --grant-to` grants. Roles belong to the whole
// cluster, so it is created once (by the TEST_DATABASE_URL user) and
// shared by every test schema and database; it logs in without a password,
// which needs trust authentication for it on the test server (CI's
// PostgreSQL trusts 127.0.0.1).
const AppRole = "ledgerdesk_test_app"

// Postgres returns a migrated database in a schema of its own, dropped
// when the test ends, connected as AppRole. Owner gives the same
// database as its owner.
func Postgres(t testing.TB) *models.DB {
	t.Helper()
	db, _ := PostgresWithDSN(t)
	return db
}

// PostgresWithDSN is Postgres that also returns the DSN it connected with
// (AppRole's), for tests that open a second connection (or route one
// through a proxy), as another portal process would.
func PostgresWithDSN(t testing.TB) (*models.DB, string) {
	t.Helper()
	return postgres(t, false)
}

// PostgresDurable is PostgresWithDSN whose commits wait for the disk, as
// production's do: for tests that follow WAL positions to a streaming
// replica, which is sent only what the primary has flushed.
func PostgresDurable(t testing.TB) (*models.DB, string) {
	t.Helper()
	return postgres(t, true)
}

func postgres(t testing.TB, durable bool) (*models.DB, string) {
	t.Helper()
	owner, ownerDSN := newSchema(t, durable)
	if _, err := owner.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	configure(t, owner)
	Grant(t, owner)
	dsn := AppDSN(t, ownerDSN)
	db, err := models.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: this connection closes before the
	// schema is dropped.
	t.Cleanup(func() {
		owners.Delete(db)
		db.Close()
	})
	if err := db.Ping(context.Background()); err != nil {
		t.Fatalf("connect as %s: %v (the test server must let it log in without a password, as trust on 127.0.0.1 does)", AppRole, err)
	}
	configure(t, db)
	owners.Store(db, owner)
	return db, dsn
}

// owners maps each database Postgres handed out to its owner's handle.
var owners sync.Map

// Owner returns db's database connected as the owner of its tables, for
// what the portal itself may not do: tampering with the audit log as
// someone with direct database access could, rebuilding indexes, ANALYZE,
// DDL. On SQLite, which has no roles, it is db itself.
func Owner(t testing.TB, db *models.DB) *models.DB {
	t.Helper()
	if db.Dialect != models.Postgres {
		return db
	}
	o, ok := owners.Load(db)
	if !ok {
		t.Fatal("testdb.Owner: this database was not opened by testdb.Postgres")
	}
	return o.(*models.DB)
}

// Grant gives AppRole the portal's privileges on owner's schema, through
// the code `ledgerdesk migrate --grant-to` runs.
func Grant(t testing.TB, owner *models.DB) {
	t.Helper()
	EnsureAppRole(t)
	if _, err := owner.GrantApp(context.Background(), AppRole); err != nil {
		t.Fatal(err)
	}
}

// AppDSN is ownerDSN with AppRole as the user (and no password), for
// connecting to the same database and schema as the portal does.
func AppDSN(t testing.TB, ownerDSN string) string {
	t.Helper()
	EnsureAppRole(t)
	u, err := url.Parse(ownerDSN)
	if err != nil {
		t.Fatalf("testdb: bad %s: %v", EnvURL, err)
	}
	u.User = url.User(AppRole)
	return u.String()
}

var roleOnce struct {
	sync.Mutex
	done bool
}

// EnsureAppRole creates AppRole when the cluster has none, as the
// TEST_DATABASE_URL user, and checks the one it has can do no more than
// the grants allow.
func EnsureAppRole(t testing.TB) {
	t.Helper()
	roleOnce.Lock()
	defer roleOnce.Unlock()
	if roleOnce.done {
		return
	}
	admin, err := models.OpenPostgres(PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	g := admin.Gorm()
	var have int64
	if err := g.Raw(`SELECT COUNT(*) FROM pg_roles WHERE rolname = ?`, AppRole).Scan(&have).Error; err != nil {
		t.Fatal(err)
	}
	if have == 0 {
		// Other test processes may create it at the same moment.
		err := g.Exec(`DO $$ BEGIN CREATE ROLE ` + AppRole + ` LOGIN;
			EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`).Error
		if err != nil {
			t.Fatalf("create role %s: %v (as a superuser: CREATE ROLE %s LOGIN)", AppRole, err, AppRole)
		}
	}
	var r struct{ Super, Login, CreateRole, CreateDB, BypassRLS bool }
	err = g.Raw(`SELECT rolsuper AS super, rolcanlogin AS login, rolcreaterole AS create_role,
		rolcreatedb AS create_db, rolbypassrls AS bypass_rls FROM pg_roles WHERE rolname = ?`, AppRole).Scan(&r).Error
	if err != nil {
		t.Fatal(err)
	}
	if r.Super || r.CreateRole || r.CreateDB || r.BypassRLS || !r.Login {
		t.Fatalf("role %s must log in and be nothing more (ALTER ROLE %s LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS): %+v",
			AppRole, AppRole, r)
	}
	roleOnce.done = true
}

// EmptyPostgres returns the URL of a fresh schema with nothing in it (no
// migrations applied), dropped when the test ends: for tests of the
// migrate command and of what runs before it. It connects as the
// TEST_DATABASE_URL user, who owns what migrating there creates.
func EmptyPostgres(t testing.TB) string {
	t.Helper()
	_, dsn := newSchema(t, true)
	return dsn
}

// newSchema creates an empty schema, dropped when the test ends, and
// returns a handle on it as the TEST_DATABASE_URL user, and its URL.
// Unless durable, the URL's commits do not wait for the disk: nothing a
// test writes need survive a crash of the test server, and waiting made
// each test's migration and audited writes several times slower.
func newSchema(t testing.TB, durable bool) (*models.DB, string) {
	t.Helper()
	base := PostgresURL(t)
	schema := "t_" + strings.ToLower(models.RandomHex(6))
	dsn := WithSearchPath(base, schema)
	if !durable {
		u, _ := url.Parse(dsn)
		q := u.Query()
		q.Set("synchronous_commit", "off")
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	owner, err := models.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Gorm().Exec("CREATE SCHEMA " + schema).Error; err != nil {
		owner.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		owner.Gorm().Exec("DROP SCHEMA " + schema + " CASCADE")
		owner.Close()
	})
	return owner, dsn
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
