package models_test

import (
	"errors"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/passkeytest"
	"ledgerdesk/models/testdb"
)

const testPublicURL = "https://ledgerdesk.test"

func testParty(t *testing.T) *models.RelyingParty {
	t.Helper()
	rp, err := models.NewRelyingParty(testPublicURL)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// registerPasskey adds a passkey named name to m's account through the
// ceremony, bound to binding, and returns the authenticator holding it.
func registerPasskey(t *testing.T, db *models.DB, rp *models.RelyingParty, m *models.TeamMember, name, binding string) *passkeytest.Authenticator {
	t.Helper()
	key := passkeytest.New(rp.ID, rp.Origin)
	options, err := db.BeginPasskeyRegistration(ctx, rp, memberOrigin(m), m, name, models.MFASetupProof{Password: testPassword}, binding)
	if err != nil {
		t.Fatalf("begin registration: %v", err)
	}
	if _, err := db.FinishPasskeyRegistration(ctx, rp, memberOrigin(m), m, binding, key.Register(t, options)); err != nil {
		t.Fatalf("finish registration: %v", err)
	}
	return key
}

// passwordGiven signs m in with the password and returns the session
// waiting for the second factor.
func passwordGiven(t *testing.T, db *models.DB, m *models.TeamMember) models.Session {
	t.Helper()
	row := newSessionRow()
	if _, err := db.SignIn(ctx, anonymousFrom("192.0.2.1"), m.EmailAddress, testPassword, row); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	var s models.Session
	if err := db.Gorm().Where("id_hash = ?", row.IDHash).Take(&s).Error; err != nil {
		t.Fatal(err)
	}
	if s.MFAStage != models.AwaitingSecondFactor {
		t.Fatalf("after the password the session is at %q, want %q", s.MFAStage, models.AwaitingSecondFactor)
	}
	return s
}

func wantKind(t *testing.T, err error, kind models.Kind, what string) *models.Error {
	t.Helper()
	var merr *models.Error
	if !errors.As(err, &merr) || merr.Kind != kind {
		t.Fatalf("%s: %v, want a domain error of kind %d", what, err, kind)
	}
	return merr
}

func TestPasskey_RegisteredThenAskedAfterThePasswordAndSpentOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		rp := testParty(t)
		m := activeMember(t, db, "keyholder@example.com")
		key := registerPasskey(t, db, rp, m, "Office key", "binding-register")

		keys, err := db.PasskeysOf(ctx, m.ID)
		if err != nil || len(keys) != 1 || keys[0].Name != "Office key" || keys[0].RPID != rp.ID || keys[0].LastUsedAt != nil {
			t.Fatalf("passkeys %+v, %v; want one named Office key, never used", keys, err)
		}
		if reg := entriesWithAction(t, db, "auth.passkey_register"); len(reg) != 1 || reg[0].DecodeDiff().After["passkey"] != float64(keys[0].ID) {
			t.Fatalf("auth.passkey_register entries %+v", reg)
		}

		pending := passwordGiven(t, db, m)
		binding := models.PasskeyBindingOfSession(pending.IDHash)
		options, err := db.BeginPasskeySecondFactor(ctx, rp, m, binding)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(options), keys[0].CredentialID) {
			t.Fatalf("the options do not name the member's passkey: %s", options)
		}
		answer := key.Assert(t, options)
		next := newSessionRow()
		if err := db.CompletePasskeySecondFactor(ctx, rp, memberOrigin(m), m, binding, answer,
			models.Promotion{From: pending.IDHash, To: next}); err != nil {
			t.Fatalf("second factor: %v", err)
		}
		var s models.Session
		if err := db.Gorm().Where("id_hash = ?", next.IDHash).Take(&s).Error; err != nil || s.MFAStage != models.SignedIn {
			t.Fatalf("the completed session: %+v, %v", s, err)
		}
		logins := entriesWithAction(t, db, "auth.login")
		if len(logins) != 1 || logins[0].DecodeDiff().After["factor"] != "passkey" {
			t.Fatalf("auth.login entries %+v, want one with the factor passkey", logins)
		}
		keys, _ = db.PasskeysOf(ctx, m.ID)
		if keys[0].LastUsedAt == nil || keys[0].SignCount != 1 {
			t.Fatalf("after use: %+v, want a last use and the counter at 1", keys[0])
		}

		// The same answer again: its challenge is spent.
		again := passwordGiven(t, db, m)
		err = db.CompletePasskeySecondFactor(ctx, rp, memberOrigin(m), m, binding, answer,
			models.Promotion{From: again.IDHash, To: newSessionRow()})
		wantKind(t, err, models.KindInvalid, "a replayed answer")
		// Nor does it answer a fresh challenge: the signature covers the old.
		if _, err := db.BeginPasskeySecondFactor(ctx, rp, m, models.PasskeyBindingOfSession(again.IDHash)); err != nil {
			t.Fatal(err)
		}
		err = db.CompletePasskeySecondFactor(ctx, rp, memberOrigin(m), m, models.PasskeyBindingOfSession(again.IDHash), answer,
			models.Promotion{From: again.IDHash, To: newSessionRow()})
		wantKind(t, err, models.KindUnauthorized, "an old answer to a new challenge")
		if failed := entriesWithAction(t, db, "auth.mfa_failed"); len(failed) != 1 ||
			failed[0].DecodeDiff().After["reason"] != "passkey_wrong_challenge" {
			t.Fatalf("auth.mfa_failed entries %+v, want one passkey_wrong_challenge", failed)
		}
	})
}

func TestPasskey_AnswerFromAnotherOriginIsRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		rp := testParty(t)
		m := activeMember(t, db, "phished@example.com")
		key := registerPasskey(t, db, rp, m, "Laptop", "b1")

		pending := passwordGiven(t, db, m)
		binding := models.PasskeyBindingOfSession(pending.IDHash)
		options, err := db.BeginPasskeySecondFactor(ctx, rp, m, binding)
		if err != nil {
			t.Fatal(err)
		}
		key.Origin = "https://ledgerdesk.test.evil.example"
		err = db.CompletePasskeySecondFactor(ctx, rp, memberOrigin(m), m, binding, key.Assert(t, options),
			models.Promotion{From: pending.IDHash, To: newSessionRow()})
		wantKind(t, err, models.KindUnauthorized, "an answer from another origin")
		if failed := entriesWithAction(t, db, "auth.mfa_failed"); len(failed) != 1 ||
			failed[0].DecodeDiff().After["reason"] != "passkey_wrong_origin" {
			t.Fatalf("auth.mfa_failed entries %+v, want one passkey_wrong_origin", failed)
		}
		if n := countRows(t, db, "passkey_ceremonies"); n != 0 {
			t.Fatalf("%d ceremonies left: a refused answer spends its challenge too", n)
		}

		// Registering from another origin is refused as well.
		other := passkeytest.New(rp.ID, "https://evil.example")
		options, err = db.BeginPasskeyRegistration(ctx, rp, memberOrigin(m), m, "Evil", models.MFASetupProof{Password: testPassword}, "b2")
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.FinishPasskeyRegistration(ctx, rp, memberOrigin(m), m, "b2", other.Register(t, options))
		wantKind(t, err, models.KindInvalid, "a registration from another origin")
		if keys, _ := db.PasskeysOf(ctx, m.ID); len(keys) != 1 {
			t.Fatalf("%d passkeys, want the first one only", len(keys))
		}
	})
}

func TestPasskey_PasswordlessSignInNeedsAnActiveMember(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		rp := testParty(t)
		m := activeMember(t, db, "nopassword@example.com")
		key := registerPasskey(t, db, rp, m, "Phone", "b1")

		visitor := models.PasskeyBindingOfVisitor(models.RandomToken(32))
		options, err := db.BeginPasskeySignIn(ctx, rp, visitor)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(options), "allowCredentials") || !strings.Contains(string(options), `"userVerification":"required"`) {
			t.Fatalf("password-less options must name no passkey and require user verification: %s", options)
		}
		row := newSessionRow()
		who, err := db.PasskeySignIn(ctx, rp, anonymousFrom("192.0.2.7"), visitor, key.Assert(t, options), row)
		if err != nil || who.ID != m.ID {
			t.Fatalf("password-less sign-in: %v, %v", who, err)
		}
		var s models.Session
		if err := db.Gorm().Where("id_hash = ?", row.IDHash).Take(&s).Error; err != nil || s.MFAStage != models.SignedIn || s.MemberID != m.ID {
			t.Fatalf("session %+v, %v: want a completed sign-in", s, err)
		}

		// Without user verification a passkey is one factor: refused.
		key.SkipUserVerification()
		options, _ = db.BeginPasskeySignIn(ctx, rp, visitor)
		_, err = db.PasskeySignIn(ctx, rp, anonymousFrom("192.0.2.7"), visitor, key.Assert(t, options), newSessionRow())
		wantKind(t, err, models.KindUnauthorized, "an unverified user")

		// A deactivated member's passkey signs nobody in.
		key = registerPasskey(t, db, rp, m, "Second", "b2")
		setMemberStatus(t, db, m.ID, models.MemberDeactivated)
		options, _ = db.BeginPasskeySignIn(ctx, rp, visitor)
		_, err = db.PasskeySignIn(ctx, rp, anonymousFrom("192.0.2.7"), visitor, key.Assert(t, options), newSessionRow())
		wantKind(t, err, models.KindUnauthorized, "a deactivated member")
		failed := entriesWithAction(t, db, "auth.login_failed")
		if len(failed) != 2 || failed[1].DecodeDiff().After["reason"] != "passkey_member_deactivated" {
			t.Fatalf("auth.login_failed entries %+v", failed)
		}
		if n := countRows(t, db, "sessions"); n != 1 {
			t.Fatalf("%d sessions, want the first sign-in's only", n)
		}

		// A ceremony is bound to the browser that began it.
		setMemberStatus(t, db, m.ID, models.MemberActive)
		options, _ = db.BeginPasskeySignIn(ctx, rp, visitor)
		_, err = db.PasskeySignIn(ctx, rp, anonymousFrom("192.0.2.8"), models.PasskeyBindingOfVisitor("another browser"),
			key.Assert(t, options), newSessionRow())
		wantKind(t, err, models.KindInvalid, "another browser's answer")
	})
}

func TestPasskey_RemovalTakesThePasswordAndEndsItsUse(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		rp := testParty(t)
		m := withRole(t, db, "remover@example.com", models.RoleCompliance)
		key := registerPasskey(t, db, rp, m, "Old key", "b1")
		keys, _ := db.PasskeysOf(ctx, m.ID)

		err := db.RemovePasskey(ctx, memberOrigin(m), m, keys[0].ID, "not my password at all")
		if merr := wantKind(t, err, models.KindInvalid, "a wrong password"); merr.Fields["password"] == "" {
			t.Fatalf("no message beside the password: %+v", merr)
		}
		other := activeMember(t, db, "other@example.com")
		err = db.RemovePasskey(ctx, memberOrigin(other), other, keys[0].ID, testPassword)
		wantKind(t, err, models.KindNotFound, "someone else's passkey")

		if err := db.RemovePasskey(ctx, memberOrigin(m), m, keys[0].ID, testPassword); err != nil {
			t.Fatal(err)
		}
		if rm := entriesWithAction(t, db, "auth.passkey_remove"); len(rm) != 1 || rm[0].DecodeDiff().Before["passkey"] != float64(keys[0].ID) {
			t.Fatalf("auth.passkey_remove entries %+v", rm)
		}
		// Without a passkey, the password alone signs in again, and the
		// removed one opens nothing.
		row := newSessionRow()
		if _, err := db.SignIn(ctx, anonymousFrom("192.0.2.1"), m.EmailAddress, testPassword, row); err != nil {
			t.Fatal(err)
		}
		var s models.Session
		db.Gorm().Where("id_hash = ?", row.IDHash).Take(&s)
		if s.MFAStage != models.SignedIn {
			t.Fatalf("stage %q after the last passkey went, want signed in", s.MFAStage)
		}
		visitor := models.PasskeyBindingOfVisitor("v")
		options, _ := db.BeginPasskeySignIn(ctx, rp, visitor)
		_, err = db.PasskeySignIn(ctx, rp, anonymousFrom("192.0.2.1"), visitor, key.Assert(t, options), newSessionRow())
		wantKind(t, err, models.KindUnauthorized, "a removed passkey")
	})
}

func TestPasskey_AdminKeepsTheirLastFactorWhenTheSettingRequiresIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		rp := testParty(t)
		admin := activeMember(t, db, "keyadmin@example.com")
		registerPasskey(t, db, rp, admin, "Only key", "b1")
		if _, err := db.UpdateSettings(ctx, memberOrigin(admin), models.Settings{MFARequiredForAdmins: true}); err != nil {
			t.Fatal(err)
		}
		keys, _ := db.PasskeysOf(ctx, admin.ID)
		err := db.RemovePasskey(ctx, memberOrigin(admin), admin, keys[0].ID, testPassword)
		wantKind(t, err, models.KindInvalid, "removing an admin's last factor")
		// The passkey counts: the admin is not sent to set up an app.
		passwordGiven(t, db, admin)

		registerPasskey(t, db, rp, admin, "Spare key", "b2")
		if err := db.RemovePasskey(ctx, memberOrigin(admin), admin, keys[0].ID, testPassword); err != nil {
			t.Fatalf("removing one of two: %v", err)
		}
	})
}

func TestPasskey_AdminResetRemovesThem(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		rp := testParty(t)
		admin := activeMember(t, db, "resetter@example.com")
		m := activeMember(t, db, "lostkey@example.com")
		registerPasskey(t, db, rp, m, "Lost key", "b1")
		if at, err := db.MFAEnrolledAt(ctx, m.ID); err != nil || at == nil {
			t.Fatalf("a member with a passkey uses two-step sign-in: %v, %v", at, err)
		}
		passwordGiven(t, db, m)
		if _, err := db.BeginPasskeySecondFactor(ctx, rp, m, "pending-binding"); err != nil {
			t.Fatal(err)
		}
		ended, err := db.ResetMemberMFA(ctx, memberOrigin(admin), m.ID)
		if err != nil || ended != 1 {
			t.Fatalf("reset: %d sessions ended, %v", ended, err)
		}
		if n := countRows(t, db, "member_passkeys"); n != 0 {
			t.Fatalf("%d passkeys after the reset", n)
		}
		if n := countRows(t, db, "passkey_ceremonies"); n != 0 {
			t.Fatalf("%d ceremonies after the reset", n)
		}
		reset := entriesWithAction(t, db, "team.mfa_reset")
		if len(reset) != 1 || reset[0].DecodeDiff().Before["passkeys"] != float64(1) {
			t.Fatalf("team.mfa_reset entries %+v", reset)
		}
	})
}

func TestPasskey_ACounterThatGoesBackMarksTheKeyAndRefusesIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		rp := testParty(t)
		m := activeMember(t, db, "cloned@example.com")
		key := registerPasskey(t, db, rp, m, "Copied key", "b1")
		visitor := models.PasskeyBindingOfVisitor("v")
		for range 3 {
			options, _ := db.BeginPasskeySignIn(ctx, rp, visitor)
			if _, err := db.PasskeySignIn(ctx, rp, anonymousFrom("192.0.2.1"), visitor, key.Assert(t, options), newSessionRow()); err != nil {
				t.Fatal(err)
			}
		}
		key.SetCounter(1)
		options, _ := db.BeginPasskeySignIn(ctx, rp, visitor)
		_, err := db.PasskeySignIn(ctx, rp, anonymousFrom("192.0.2.1"), visitor, key.Assert(t, options), newSessionRow())
		wantKind(t, err, models.KindUnauthorized, "a counter gone back")
		keys, _ := db.PasskeysOf(ctx, m.ID)
		if !keys[0].CloneWarning {
			t.Fatal("the passkey is not marked")
		}
		if n := len(entriesWithAction(t, db, "auth.passkey_clone_warning")); n != 1 {
			t.Fatalf("%d auth.passkey_clone_warning entries", n)
		}
		// Marked, it stays refused even with a counter that moves on.
		key.SetCounter(100)
		options, _ = db.BeginPasskeySignIn(ctx, rp, visitor)
		_, err = db.PasskeySignIn(ctx, rp, anonymousFrom("192.0.2.1"), visitor, key.Assert(t, options), newSessionRow())
		wantKind(t, err, models.KindUnauthorized, "a marked passkey")
	})
}

func TestPasskey_RegistrationChecksNameAndPasswordFirst(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		rp := testParty(t)
		m := activeMember(t, db, "careful@example.com")
		for _, name := range []string{"", "   ", "nul\x00byte", "bad \xff utf-8", strings.Repeat("k", models.MaxPasskeyName+1)} {
			_, err := db.BeginPasskeyRegistration(ctx, rp, memberOrigin(m), m, name, models.MFASetupProof{Password: testPassword}, "b")
			if merr := wantKind(t, err, models.KindInvalid, "name "+name); merr.Fields["name"] == "" {
				t.Fatalf("name %q: no message beside the name: %+v", name, merr)
			}
		}
		_, err := db.BeginPasskeyRegistration(ctx, rp, memberOrigin(m), m, "Key", models.MFASetupProof{Password: "wrong wrong wrong"}, "b")
		wantKind(t, err, models.KindInvalid, "a wrong password")
		if n := countRows(t, db, "passkey_ceremonies"); n != 0 {
			t.Fatalf("%d ceremonies after refusals", n)
		}
		if failed := entriesWithAction(t, db, "auth.reauth_failed"); len(failed) != 1 || failed[0].DecodeDiff().After["during"] != "passkey_register" {
			t.Fatalf("auth.reauth_failed entries %+v", failed)
		}
		// A finish with no ceremony, or with garbage, writes no passkey.
		_, err = db.FinishPasskeyRegistration(ctx, rp, memberOrigin(m), m, "b", []byte(`{}`))
		wantKind(t, err, models.KindInvalid, "no ceremony")
		if _, err := db.BeginPasskeyRegistration(ctx, rp, memberOrigin(m), m, "Key", models.MFASetupProof{Password: testPassword}, "b"); err != nil {
			t.Fatal(err)
		}
		_, err = db.FinishPasskeyRegistration(ctx, rp, memberOrigin(m), m, "b", []byte("{\"id\":\"\x00\"}"))
		wantKind(t, err, models.KindInvalid, "a malformed answer")
		if n := countRows(t, db, "member_passkeys"); n != 0 {
			t.Fatalf("%d passkeys after refusals", n)
		}
	})
}

func TestPasskey_AFailedWriteLeavesNoPasskeyAndNoEntry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		rp := testParty(t)
		m := activeMember(t, db, "unlucky@example.com")
		key := passkeytest.New(rp.ID, rp.Origin)
		options, err := db.BeginPasskeyRegistration(ctx, rp, memberOrigin(m), m, "Key", models.MFASetupProof{Password: testPassword}, "b")
		if err != nil {
			t.Fatal(err)
		}
		stop := testdb.FailOn(t, db, testdb.Create, "member_passkeys")
		if _, err := db.FinishPasskeyRegistration(ctx, rp, memberOrigin(m), m, "b", key.Register(t, options)); !errors.Is(err, testdb.ErrInjected) {
			t.Fatalf("finish with a failing database: %v, want the injected failure", err)
		}
		stop()
		if n := len(entriesWithAction(t, db, "auth.passkey_register")); n != 0 {
			t.Fatalf("%d auth.passkey_register entries for a passkey not stored", n)
		}
		if n := countRows(t, db, "member_passkeys"); n != 0 {
			t.Fatalf("%d passkeys written", n)
		}
	})
}

func TestNewRelyingParty_TakesItsIdAndOriginFromThePublicURL(t *testing.T) {
	for _, tc := range []struct{ url, id, origin string }{
		{"https://Ledgerdesk.Example.com", "ledgerdesk.example.com", "https://ledgerdesk.example.com"},
		{"https://ledgerdesk.example.com:8443/portal/", "ledgerdesk.example.com", "https://ledgerdesk.example.com:8443"},
		{"http://localhost:8080", "localhost", "http://localhost:8080"},
	} {
		rp, err := models.NewRelyingParty(tc.url)
		if err != nil || rp.ID != tc.id || rp.Origin != tc.origin {
			t.Errorf("%s: %+v, %v; want id %s, origin %s", tc.url, rp, err, tc.id, tc.origin)
		}
	}
	for _, bad := range []string{"", "http://ledgerdesk.example.com", "https://10.0.0.5", "http://127.0.0.1:8080", "https://[::1]:8443"} {
		if _, err := models.NewRelyingParty(bad); err == nil {
			t.Errorf("%q: accepted as a relying party", bad)
		}
	}
}
