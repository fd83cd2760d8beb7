package models_test

import (
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestResetMemberMFA_RemovesTheSecretAndRecoveryCodesAndEndsAllSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		admin := activeMember(t, db, "admin@example.com")
		m := withRole(t, db, "lost-phone@example.com", models.RoleCompliance)
		_, codes := enrol(t, db, clock, m)
		bystander := withRole(t, db, "bystander@example.com", models.RoleAuditor)
		enrol(t, db, clock, bystander)

		at, err := db.MFAEnrolledAt(ctx, m.ID)
		if err != nil || at == nil || !at.Equal(clock.Now()) {
			t.Fatalf("enrolled at %v (%v), want %v", at, err, clock.Now())
		}
		now := models.Now()
		insertSession(t, db, m.ID, now, now.Add(time.Hour))
		insertSession(t, db, m.ID, now, now.Add(time.Hour))
		kept := insertSession(t, db, bystander.ID, now, now.Add(time.Hour))

		ended, err := db.ResetMemberMFA(ctx, memberOrigin(admin), m.ID)
		if err != nil || ended != 2 {
			t.Fatalf("reset: %d sessions ended, %v; want 2", ended, err)
		}
		if at, err := db.MFAEnrolledAt(ctx, m.ID); err != nil || at != nil {
			t.Fatalf("after the reset enrolled at %v (%v), want off", at, err)
		}
		var left int64
		db.Gorm().Model(&models.RecoveryCode{}).Where("member_id = ?", m.ID).Count(&left)
		if left != 0 {
			t.Fatalf("%d recovery codes kept", left)
		}
		var sessions int64
		db.Gorm().Model(&models.Session{}).Where("member_id = ?", m.ID).Count(&sessions)
		if sessions != 0 {
			t.Fatalf("%d sessions kept", sessions)
		}
		// Nobody else's factor or session is touched.
		if on, _ := db.MFAEnabled(ctx, bystander.ID); !on {
			t.Fatal("the reset turned off another member's two-step sign-in")
		}
		sessionRow(t, db, kept.IDHash)

		es := entriesWithAction(t, db, "team.mfa_reset")
		if len(es) != 1 || es[0].ActorID != admin.ID || es[0].TargetID != m.ID {
			t.Fatalf("team.mfa_reset entries %+v, want one by the admin on the member", es)
		}
		d := es[0].DecodeDiff()
		if d.Before["mfa"] != "on" || d.After["mfa"] != "off" {
			t.Fatalf("team.mfa_reset diff %+v", d)
		}

		// The member signs in with the password alone, and an old recovery
		// code is nothing any more.
		s := newSessionRow()
		if _, err := db.SignIn(ctx, anonymousFrom("198.51.100.9"), m.EmailAddress, testPassword, s); err != nil {
			t.Fatal(err)
		}
		if st := sessionRow(t, db, s.IDHash).MFAStage; st != models.SignedIn {
			t.Fatalf("sign-in after the reset stops at %q", st)
		}
		if _, err := db.RegenerateRecoveryCodes(ctx, memberOrigin(m), m, codes[0]); models.ErrorKind(err) != models.KindInvalid {
			t.Fatalf("an old recovery code after the reset: %v, want two-step sign-in off", err)
		}
	})
}

func TestResetMemberMFA_RefusesOneselfAndAMemberWithoutIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		admin := activeMember(t, db, "admin@example.com")
		other := activeMember(t, db, "other-admin@example.com")
		enrol(t, db, clock, admin)
		now := models.Now()
		insertSession(t, db, admin.ID, now, now.Add(time.Hour))

		if _, err := db.ResetMemberMFA(ctx, memberOrigin(admin), admin.ID); models.ErrorKind(err) != models.KindForbidden {
			t.Fatalf("resetting one's own: %v, want forbidden", err)
		}
		if on, _ := db.MFAEnabled(ctx, admin.ID); !on {
			t.Fatal("a refused reset turned two-step sign-in off")
		}
		var sessions int64
		db.Gorm().Model(&models.Session{}).Where("member_id = ?", admin.ID).Count(&sessions)
		if sessions != 1 {
			t.Fatalf("a refused reset ended sessions: %d left", sessions)
		}

		// A secret still being set up is not two-step sign-in.
		startSetup(t, db, other)
		if _, err := db.ResetMemberMFA(ctx, memberOrigin(admin), other.ID); models.ErrorKind(err) != models.KindConflict {
			t.Fatalf("resetting a member without two-step sign-in: %v, want a conflict", err)
		}
		if at, _ := db.MFAEnrolledAt(ctx, other.ID); at != nil {
			t.Fatalf("a setup not confirmed reads as enrolled at %v", at)
		}
		if _, err := db.ResetMemberMFA(ctx, memberOrigin(admin), models.NewMemberID()); models.ErrorKind(err) != models.KindNotFound {
			t.Fatalf("resetting nobody: %v, want not found", err)
		}
		if n := len(entriesWithAction(t, db, "team.mfa_reset")); n != 0 {
			t.Fatalf("%d team.mfa_reset entries after refusals", n)
		}
	})
}
