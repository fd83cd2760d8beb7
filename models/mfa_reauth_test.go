package models_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestStartMFASetup_WrongPasswordIsRefusedAndWritesNoSecret(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "hijacked@example.com")

		err := db.StartMFASetup(ctx, memberOrigin(m), m, models.MFASetupProof{Password: "not the password at all"})
		var merr *models.Error
		if !errors.As(err, &merr) || merr.Kind != models.KindInvalid || merr.Fields["password"] == "" {
			t.Fatalf("wrong password: %v, want an invalid password field", err)
		}
		err = db.StartMFASetup(ctx, memberOrigin(m), m, models.MFASetupProof{})
		if !errors.As(err, &merr) || merr.Kind != models.KindInvalid || merr.Fields["password"] == "" {
			t.Fatalf("no password: %v, want an invalid password field", err)
		}
		if n := countRows(t, db, "member_mfa"); n != 0 {
			t.Fatalf("%d member_mfa rows after refused setups, want none", n)
		}
		if n := len(entriesWithAction(t, db, "auth.mfa_setup")); n != 0 {
			t.Fatalf("%d auth.mfa_setup entries after refused setups", n)
		}
		failed := entriesWithAction(t, db, "auth.reauth_failed")
		if len(failed) != 1 || failed[0].DecodeDiff().After["reason"] != "wrong_password" || failed[0].DecodeDiff().After["during"] != "mfa_setup" {
			t.Fatalf("auth.reauth_failed entries %+v, want one wrong_password during mfa_setup", failed)
		}
		// An empty field is no guess: only the wrong password counted.
		if n := countRows(t, db, "login_failures"); n != 1 {
			t.Fatalf("%d failures counted, want 1", n)
		}

		// The right password starts the setup and forgets the wrong one.
		startSetup(t, db, m)
		if n := countRows(t, db, "login_failures"); n != 0 {
			t.Fatalf("%d failures kept after the right password, want 0", n)
		}
	})
}

func TestStartMFASetup_WrongPasswordsAreThrottledWithSignInFailures(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "guessed@example.com")
		for i := 0; i < models.MaxAccountFailures; i++ {
			err := db.StartMFASetup(ctx, memberOrigin(m), m, models.MFASetupProof{Password: fmt.Sprintf("guess number %d", i)})
			if models.ErrorKind(err) != models.KindInvalid {
				t.Fatalf("guess %d: %v, want refused as wrong", i+1, err)
			}
		}
		// The limit is reached: even the right password waits, here and on
		// the login page, as the guesses were at the same secret.
		err := db.StartMFASetup(ctx, memberOrigin(m), m, models.MFASetupProof{Password: testPassword})
		var merr *models.Error
		if !errors.As(err, &merr) || merr.Kind != models.KindThrottled || merr.Fields["password"] == "" {
			t.Fatalf("after %d wrong passwords: %v, want throttled beside the field", models.MaxAccountFailures, err)
		}
		if _, err := db.SignIn(ctx, anonymousFrom("198.51.100.20"), m.EmailAddress, testPassword, newSessionRow()); models.ErrorKind(err) != models.KindThrottled {
			t.Fatalf("sign-in after wrong passwords at setup: %v, want throttled", err)
		}
		if n := countRows(t, db, "member_mfa"); n != 0 {
			t.Fatalf("%d member_mfa rows, want none", n)
		}
		es := entriesWithAction(t, db, "auth.reauth_failed")
		if got := es[len(es)-1].DecodeDiff().After["reason"]; got != "throttled" {
			t.Fatalf("the refused attempt is audited with reason %v", got)
		}
	})
}

func TestStartMFASetup_PendingSignInStandsForThePasswordOnlyWhileWaitingForEnrolment(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "enrolling@example.com")
		other := activeMember(t, db, "other@example.com")
		if _, err := db.UpdateSettings(ctx, memberOrigin(other), models.Settings{MFARequiredForAdmins: true}); err != nil {
			t.Fatal(err)
		}
		s := newSessionRow()
		if _, err := db.SignIn(ctx, anonymousFrom("198.51.100.9"), admin.EmailAddress, testPassword, s); err != nil {
			t.Fatal(err)
		}
		// A completed session, or another member's pending one, is no proof.
		done := insertSession(t, db, admin.ID, models.Now(), models.Now().Add(time.Hour))
		for name, hash := range map[string]string{"completed session": done.IDHash, "unknown session": models.HashToken("nobody")} {
			err := db.StartMFASetup(ctx, memberOrigin(admin), admin, models.MFASetupProof{PendingSignIn: hash})
			if models.ErrorKind(err) != models.KindNotFound {
				t.Fatalf("%s as proof: %v, want refused", name, err)
			}
		}
		if err := db.StartMFASetup(ctx, memberOrigin(other), other, models.MFASetupProof{PendingSignIn: s.IDHash}); err == nil {
			t.Fatal("another member's pending sign-in was taken as proof")
		}
		if n := countRows(t, db, "member_mfa"); n != 0 {
			t.Fatalf("%d member_mfa rows after refused proofs", n)
		}
		startSetupWith(t, db, admin, models.MFASetupProof{PendingSignIn: s.IDHash})
	})
}
