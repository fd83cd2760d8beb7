package models_test

import (
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// Another process adds the same address between CreateMember's count and
// its insert: the unique index refuses the insert, and the caller is told
// the address is taken, as when the count finds it. PostgreSQL only: on
// SQLite writers take turns, so the count always sees the other row.
func TestCreateMember_SameEmailAddedMeanwhileByAnotherProcessConflicts(t *testing.T) {
	db := testdb.Postgres(t)
	const email = "same@example.com"
	// The other process's insert, not committed yet: the count does not
	// see it, and the insert waits on the unique index for its outcome.
	other := testdb.Owner(t, db).Gorm().Begin()
	defer other.Rollback()
	now := models.Now()
	if err := other.Create(&models.TeamMember{ID: models.NewMemberID(), EmailAddress: email, Status: models.MemberActive,
		Role: models.RoleAuditor, PasswordHash: "x", CreatedAt: now, UpdatedAt: now}).Error; err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := db.CreateMember(ctx, systemOrigin, models.NewMember{Email: email, Role: models.RoleAdmin, Password: models.RandomToken(15)})
		done <- err
	}()
	// Commit once the insert waits on the other's row.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var waiting int64
		if err := db.Gorm().Raw(`SELECT COUNT(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO "team_members"%'`).
			Scan(&waiting).Error; err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("CreateMember's insert never waited on the other process's row")
		}
	}
	if err := other.Commit().Error; err != nil {
		t.Fatal(err)
	}
	err := <-done
	if models.ErrorKind(err) != models.KindConflict {
		t.Fatalf("CreateMember = %v, want the address refused as taken", err)
	}
}
