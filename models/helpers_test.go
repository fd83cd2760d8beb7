package models_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

var ctx = context.Background()

// testPassword is every test member's password; its hash is computed once,
// as argon2id costs a noticeable fraction of a second.
const testPassword = "correct horse battery staple"

var (
	testHashOnce sync.Once
	testHash     string
)

func testPasswordHash(t testing.TB) string {
	t.Helper()
	testHashOnce.Do(func() {
		h, err := models.HashPassword(context.Background(), testPassword)
		if err != nil {
			panic(err)
		}
		testHash = h
	})
	return testHash
}

var systemOrigin = models.Origin{Actor: models.SystemActor, RequestID: "req-test", IP: "192.0.2.1", UserAgent: "models-test"}

func anonymousFrom(ip string) models.Origin {
	return models.Origin{Actor: models.Actor{Type: models.ActorAnonymous}, RequestID: "req-" + models.RandomHex(4), IP: ip, UserAgent: "models-test"}
}

// insertMember writes a member row directly, without the audit or a fresh
// password hash, so tests that are not about creating members stay fast.
func insertMember(t testing.TB, db *models.DB, email string, status models.MemberStatus, passwordHash string) *models.TeamMember {
	t.Helper()
	now := models.Now()
	m := &models.TeamMember{ID: models.NewMemberID(), EmailAddress: email, Status: status,
		Role: models.RoleAdmin, PasswordHash: passwordHash, CreatedAt: now, UpdatedAt: now}
	if err := db.Gorm().Create(m).Error; err != nil {
		t.Fatalf("insert member: %v", err)
	}
	return m
}

// activeMember is an active member whose password is testPassword.
func activeMember(t testing.TB, db *models.DB, email string) *models.TeamMember {
	t.Helper()
	return insertMember(t, db, email, models.MemberActive, testPasswordHash(t))
}

func setMemberStatus(t testing.TB, db *models.DB, id string, status models.MemberStatus) {
	t.Helper()
	if err := db.Gorm().Exec(`UPDATE team_members SET status = ? WHERE id = ?`, string(status), id).Error; err != nil {
		t.Fatalf("set status: %v", err)
	}
}

// newSessionRow is what the web layer prepares before SignIn.
func newSessionRow() models.Session {
	now := models.Now()
	return models.Session{IDHash: models.HashToken(models.RandomToken(32)), IP: "192.0.2.1", UserAgent: "models-test",
		Data: "{}", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour)}
}

// insertSession writes a session row for member with the given times.
func insertSession(t testing.TB, db *models.DB, memberID string, lastSeen, expires time.Time) models.Session {
	t.Helper()
	s := models.Session{IDHash: models.HashToken(models.RandomToken(32)), MemberID: memberID, Data: "{}",
		CreatedAt: lastSeen, LastSeenAt: lastSeen, ExpiresAt: expires}
	if err := db.Gorm().Create(&s).Error; err != nil {
		t.Fatalf("insert session: %v", err)
	}
	return s
}

func entries(t testing.TB, db *models.DB) []models.AuditEntry {
	t.Helper()
	var out []models.AuditEntry
	if err := db.Gorm().Order("seq").Find(&out).Error; err != nil {
		t.Fatalf("read audit entries: %v", err)
	}
	return out
}

func entriesWithAction(t testing.TB, db *models.DB, action string) []models.AuditEntry {
	t.Helper()
	var out []models.AuditEntry
	if err := db.Gorm().Where("action = ?", action).Order("seq").Find(&out).Error; err != nil {
		t.Fatalf("read audit entries: %v", err)
	}
	return out
}

func countRows(t testing.TB, db *models.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.Gorm().Table(table).Count(&n).Error; err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func head(t testing.TB, db *models.DB) models.ChainHead {
	t.Helper()
	h, err := db.AuditHead(ctx)
	if err != nil {
		t.Fatalf("audit head: %v", err)
	}
	return h
}

// record appends one audited no-op change.
func record(t testing.TB, db *models.DB, action, targetID string) {
	t.Helper()
	err := db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
		return models.Change{Action: action, Target: models.Target{Type: "test", ID: targetID},
			After: map[string]any{"n": targetID}}, nil
	})
	if err != nil {
		t.Fatalf("apply %s: %v", action, err)
	}
}

// allowAuditTampering removes the append-only guard, as someone with
// direct database access as the tables' owner could, and returns the
// owner's handle, so tests can forge history; the portal's own role can
// do neither.
func allowAuditTampering(t testing.TB, db *models.DB) *models.DB {
	t.Helper()
	owner := testdb.Owner(t, db)
	var stmts []string
	if db.Dialect == models.Postgres {
		stmts = []string{`ALTER TABLE audit_entries DISABLE TRIGGER USER`}
	} else {
		stmts = []string{`DROP TRIGGER audit_entries_no_update`, `DROP TRIGGER audit_entries_no_delete`}
	}
	for _, s := range stmts {
		if err := owner.Gorm().Exec(s).Error; err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return owner
}

func exec(t testing.TB, db *models.DB, sql string, args ...any) {
	t.Helper()
	if err := db.Gorm().Exec(sql, args...).Error; err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// postgresWanted mirrors testdb.Each: PostgreSQL runs when a URL is set,
// and must run in CI.
func postgresWanted() bool {
	return os.Getenv(testdb.EnvURL) != "" || os.Getenv("CI") == "true" || os.Getenv("CI") == "1"
}

// freshPostgres is an empty, unmigrated schema of its own, and the DSN
// pointing at it (for opening more handles, as other processes would).
func freshPostgres(t *testing.T) (*models.DB, string) {
	t.Helper()
	base := testdb.PostgresURL(t)
	admin, err := models.OpenPostgres(base)
	if err != nil {
		t.Fatal(err)
	}
	schema := "t_" + strings.ToLower(models.RandomHex(6))
	if err := admin.Gorm().Exec("CREATE SCHEMA " + schema).Error; err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	dsn := testdb.WithSearchPath(base, schema)
	db, err := models.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		admin.Gorm().Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	return db, dsn
}

// eachFresh is testdb.Each over unmigrated databases.
func eachFresh(t *testing.T, fn func(t *testing.T, db *models.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		db, err := models.OpenSQLite(":memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
	if !postgresWanted() {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		db, _ := freshPostgres(t)
		fn(t, db)
	})
}
