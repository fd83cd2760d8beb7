package models_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// testClock is the clock TOTP codes are checked against: tests move it
// from one 30-second step to the next instead of sleeping.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// setClock puts db on a clock at the start of a TOTP step.
func setClock(db *models.DB) *testClock {
	c := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	db.SetClock(c.Now)
	return c
}

// codeAt is what an authenticator app shows at t.
func codeAt(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// startSetup begins enrolment with the member's password and returns the
// secret the page would show.
func startSetup(t testing.TB, db *models.DB, m *models.TeamMember) string {
	t.Helper()
	return startSetupWith(t, db, m, models.MFASetupProof{Password: testPassword})
}

func startSetupWith(t testing.TB, db *models.DB, m *models.TeamMember, proof models.MFASetupProof) string {
	t.Helper()
	if err := db.StartMFASetup(ctx, memberOrigin(m), m, proof); err != nil {
		t.Fatalf("start setup: %v", err)
	}
	st, err := db.MFAStatusOf(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if st.Enabled || st.Setup == nil || st.Setup.Secret == "" {
		t.Fatalf("status after starting setup = %+v", st)
	}
	return st.Setup.Secret
}

// enrol turns two-step sign-in on for m with a code at the clock's time,
// and returns the secret and the recovery codes.
func enrol(t testing.TB, db *models.DB, clock *testClock, m *models.TeamMember) (string, []string) {
	t.Helper()
	secret := startSetup(t, db, m)
	codes, err := db.ConfirmMFA(ctx, memberOrigin(m), m, codeAt(t, secret, clock.Now()), nil)
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
	return secret, codes
}

// pendingSignIn signs m in with the password and checks the session waits
// for the second factor.
func pendingSignIn(t testing.TB, db *models.DB, m *models.TeamMember) models.Session {
	t.Helper()
	s := newSessionRow()
	if _, err := db.SignIn(ctx, anonymousFrom("198.51.100.9"), m.EmailAddress, testPassword, s); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	row := sessionRow(t, db, s.IDHash)
	if row.MFAStage != models.AwaitingSecondFactor {
		t.Fatalf("session stage %q after the password, want %q", row.MFAStage, models.AwaitingSecondFactor)
	}
	return row
}

func sessionRow(t testing.TB, db *models.DB, idHash string) models.Session {
	t.Helper()
	var row models.Session
	if err := db.Gorm().Where("id_hash = ?", idHash).Take(&row).Error; err != nil {
		t.Fatalf("session %s: %v", idHash[:8], err)
	}
	return row
}

// completeSignIn gives code for the pending session and returns the
// session that replaces it.
func completeSignIn(db *models.DB, m *models.TeamMember, pending models.Session, code string) (models.Session, error) {
	next := newSessionRow()
	err := db.CompleteSignIn(ctx, memberOrigin(m), m, code, models.Promotion{From: pending.IDHash, To: next})
	return next, err
}

func wantCodeRefused(t *testing.T, err error, wantMessage string) {
	t.Helper()
	var e *models.Error
	if !errors.As(err, &e) || e.Kind != models.KindUnauthorized {
		t.Fatalf("got %v, want a refused code (KindUnauthorized)", err)
	}
	if !strings.Contains(e.Fields["code"], wantMessage) {
		t.Fatalf("code field says %q, want it to contain %q", e.Fields["code"], wantMessage)
	}
}

func lastDiffValue(t *testing.T, db *models.DB, action, key string) any {
	t.Helper()
	es := entriesWithAction(t, db, action)
	if len(es) == 0 {
		t.Fatalf("no %s entry", action)
	}
	return es[len(es)-1].DecodeDiff().After[key]
}

func TestConfirmMFA_WrongCodeIsRefusedAndTheSecretIsSealedAtRest(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "enrol@example.com")
		secret := startSetup(t, db, m)

		wrong := codeAt(t, secret, clock.Now().Add(-5*time.Minute))
		_, err := db.ConfirmMFA(ctx, memberOrigin(m), m, wrong, nil)
		var e *models.Error
		if models.ErrorKind(err) != models.KindInvalid || !errors.As(err, &e) || e.Fields["code"] == "" {
			t.Fatalf("a code five minutes old: got %v, want a field error on code", err)
		}
		if on, _ := db.MFAEnabled(ctx, m.ID); on {
			t.Fatal("a wrong code turned two-step sign-in on")
		}
		if n := countRows(t, db, "mfa_recovery_codes"); n != 0 {
			t.Fatalf("%d recovery codes after a wrong code", n)
		}

		// The secret is stored sealed, with the key that sealed it, bound
		// to its member.
		var row models.MemberMFA
		if err := db.Gorm().Where("member_id = ?", m.ID).Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		if row.SecretCipher == "" || strings.Contains(row.SecretCipher, secret) || row.ConfirmedAt != nil {
			t.Fatalf("stored setup = %+v", row)
		}
		if row.KeyID != models.KeyID(testdb.FieldKey) {
			t.Errorf("key_id %q, want the test key's", row.KeyID)
		}
		fc, _ := models.NewFieldCipher(testdb.FieldKey)
		if got, err := fc.Open(row.SecretCipher, row.KeyID, "team_member:"+m.ID+":totp_secret"); err != nil || got != secret {
			t.Fatalf("the stored secret opens to %q (%v), want the one shown", got, err)
		}
		if _, err := fc.Open(row.SecretCipher, row.KeyID, "team_member:someone-else:totp_secret"); err == nil {
			t.Fatal("the sealed secret opens for another member")
		}

		codes, err := db.ConfirmMFA(ctx, memberOrigin(m), m, " "+codeAt(t, secret, clock.Now())[:3]+" "+codeAt(t, secret, clock.Now())[3:], nil)
		if err != nil {
			t.Fatalf("confirm with the current code (typed with spaces): %v", err)
		}
		if len(codes) != 10 {
			t.Fatalf("%d recovery codes, want 10", len(codes))
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if len(c) != 19 || seen[c] {
				t.Fatalf("recovery code %q: want 16 characters in four groups, all different", c)
			}
			seen[c] = true
		}
		if on, err := db.MFAEnabled(ctx, m.ID); err != nil || !on {
			t.Fatalf("MFAEnabled = %v, %v after confirming", on, err)
		}
		st, _ := db.MFAStatusOf(ctx, m)
		if !st.Enabled || st.Setup != nil || st.RecoveryCodesLeft != 10 {
			t.Fatalf("status after confirming = %+v", st)
		}

		// Recovery codes are stored as hashes; nothing secret reaches the
		// audit log.
		var hashes []string
		db.Gorm().Table("mfa_recovery_codes").Where("member_id = ?", m.ID).Pluck("code_hash", &hashes)
		for _, h := range hashes {
			for _, c := range codes {
				if strings.Contains(h, c) || strings.Contains(h, strings.ReplaceAll(c, "-", "")) {
					t.Fatalf("recovery code %s stored as it is", c)
				}
			}
		}
		for _, e := range entries(t, db) {
			if strings.Contains(e.Diff, secret) {
				t.Errorf("%s entry holds the secret", e.Action)
			}
			for _, c := range codes {
				if strings.Contains(e.Diff, c) {
					t.Errorf("%s entry holds a recovery code", e.Action)
				}
			}
		}
		if n := len(entriesWithAction(t, db, "auth.mfa_setup")); n != 1 {
			t.Errorf("%d auth.mfa_setup entries", n)
		}
		if got := lastDiffValue(t, db, "auth.mfa_enrol", "mfa"); got != "on" {
			t.Errorf("auth.mfa_enrol records mfa = %v", got)
		}

		// Once on, setting up again is refused rather than replacing it.
		if err := db.StartMFASetup(ctx, memberOrigin(m), m, models.MFASetupProof{Password: testPassword}); models.ErrorKind(err) != models.KindConflict {
			t.Fatalf("setup while on: %v, want a conflict", err)
		}
	})
}

func TestStartMFASetup_AgainReplacesTheUnconfirmedSecret(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "restart@example.com")
		first := startSetup(t, db, m)
		second := startSetup(t, db, m)
		if first == second {
			t.Fatal("starting again kept the same secret")
		}
		if _, err := db.ConfirmMFA(ctx, memberOrigin(m), m, codeAt(t, first, clock.Now()), nil); models.ErrorKind(err) != models.KindInvalid {
			t.Fatalf("a code of the replaced secret: %v, want it refused", err)
		}
		if _, err := db.ConfirmMFA(ctx, memberOrigin(m), m, codeAt(t, second, clock.Now()), nil); err != nil {
			t.Fatalf("a code of the new secret: %v", err)
		}
	})
}

func TestSignIn_WithMFAOnTheSessionWaitsForTheCode(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "two-step@example.com")
		secret, _ := enrol(t, db, clock, m)

		pending := pendingSignIn(t, db, m)
		if limit := pending.CreatedAt.Add(models.PendingSignInLifetime); pending.ExpiresAt.After(limit) {
			t.Errorf("a waiting sign-in expires at %s, later than %s", pending.ExpiresAt, limit)
		}
		if n := len(entriesWithAction(t, db, "auth.login")); n != 0 {
			t.Fatalf("%d auth.login entries before the code", n)
		}
		if n := len(entriesWithAction(t, db, "auth.mfa_challenge")); n != 1 {
			t.Fatalf("%d auth.mfa_challenge entries", n)
		}

		clock.Advance(30 * time.Second)
		next, err := completeSignIn(db, m, pending, codeAt(t, secret, clock.Now()))
		if err != nil {
			t.Fatalf("complete sign-in: %v", err)
		}
		if sessionExists(t, db, pending.IDHash) {
			t.Error("the waiting session outlived the sign-in it waited for")
		}
		row := sessionRow(t, db, next.IDHash)
		if row.MFAStage != models.SignedIn || row.MemberID != m.ID || !row.ExpiresAt.Equal(next.ExpiresAt) {
			t.Fatalf("new session = %+v", row)
		}
		if got := lastDiffValue(t, db, "auth.login", "factor"); got != "totp" {
			t.Errorf("auth.login records factor %v, want totp", got)
		}
	})
}

func TestCompleteSignIn_ATOTPCodeWorksOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "replay@example.com")
		secret, _ := enrol(t, db, clock, m)
		// The enrolment's own code is spent already.
		if _, err := completeSignIn(db, m, pendingSignIn(t, db, m), codeAt(t, secret, clock.Now())); err == nil {
			t.Fatal("the code that confirmed enrolment signed in too")
		} else {
			wantCodeRefused(t, err, "already used")
		}

		clock.Advance(30 * time.Second)
		code := codeAt(t, secret, clock.Now())
		if _, err := completeSignIn(db, m, pendingSignIn(t, db, m), code); err != nil {
			t.Fatalf("first use: %v", err)
		}
		pending := pendingSignIn(t, db, m)
		_, err := completeSignIn(db, m, pending, code)
		wantCodeRefused(t, err, "already used")
		// An older code, still within the skew, is refused as well: once a
		// step is used, nothing before it counts.
		_, err = completeSignIn(db, m, pending, codeAt(t, secret, clock.Now().Add(-30*time.Second)))
		wantCodeRefused(t, err, "already used")
		if !sessionExists(t, db, pending.IDHash) || sessionRow(t, db, pending.IDHash).MFAStage != models.AwaitingSecondFactor {
			t.Fatal("a refused code changed the waiting session")
		}
		if got := lastDiffValue(t, db, "auth.mfa_failed", "reason"); got != "replayed" {
			t.Errorf("auth.mfa_failed records reason %v, want replayed", got)
		}

		clock.Advance(30 * time.Second)
		if _, err := completeSignIn(db, m, pending, codeAt(t, secret, clock.Now())); err != nil {
			t.Fatalf("the next step's code: %v", err)
		}
	})
}

func TestCompleteSignIn_AllowsOneStepOfClockSkewEachWay(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "skew@example.com")
		secret, _ := enrol(t, db, clock, m)
		clock.Advance(5 * time.Minute)
		now := clock.Now()

		for _, tc := range []struct {
			name   string
			offset time.Duration
			ok     bool
		}{
			{"two steps behind", -60 * time.Second, false},
			{"two steps ahead", 60 * time.Second, false},
			{"one step behind", -30 * time.Second, true},
			{"one step ahead", 30 * time.Second, true},
		} {
			_, err := completeSignIn(db, m, pendingSignIn(t, db, m), codeAt(t, secret, now.Add(tc.offset)))
			if tc.ok && err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			if !tc.ok {
				wantCodeRefused(t, err, "not right")
			}
		}
	})
}

func TestCompleteSignIn_RecoveryCodesWorkOnceEach(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "recovery@example.com")
		_, codes := enrol(t, db, clock, m)

		// Typed in lower case with spaces for dashes, as people do.
		typed := strings.ToLower(strings.ReplaceAll(codes[3], "-", " "))
		if _, err := completeSignIn(db, m, pendingSignIn(t, db, m), typed); err != nil {
			t.Fatalf("recovery code: %v", err)
		}
		if got := lastDiffValue(t, db, "auth.login", "factor"); got != "recovery_code" {
			t.Errorf("auth.login records factor %v", got)
		}
		used := entriesWithAction(t, db, "auth.recovery_code_used")
		if len(used) != 1 || used[0].TargetID != m.ID {
			t.Fatalf("auth.recovery_code_used entries: %+v", used)
		}

		_, err := completeSignIn(db, m, pendingSignIn(t, db, m), codes[3])
		wantCodeRefused(t, err, "already used")
		if _, err := completeSignIn(db, m, pendingSignIn(t, db, m), codes[4]); err != nil {
			t.Fatalf("another recovery code: %v", err)
		}
		st, _ := db.MFAStatusOf(ctx, m)
		if st.RecoveryCodesLeft != 8 {
			t.Errorf("%d recovery codes left, want 8", st.RecoveryCodesLeft)
		}
		// Another member's code is no code at all.
		other := activeMember(t, db, "other@example.com")
		_, otherCodes := enrol(t, db, clock, other)
		_, err = completeSignIn(db, m, pendingSignIn(t, db, m), otherCodes[0])
		wantCodeRefused(t, err, "not right")

		// A recovery sign-in writes two entries in one transaction; the
		// chain holds.
		if res, err := db.VerifyAuditChain(ctx, nil); err != nil || !res.OK() {
			t.Fatalf("audit chain after recovery sign-ins: %+v, %v", res, err)
		}
	})
}

func TestCompleteSignIn_ThrottledAfterFiveWrongCodes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "throttle@example.com")
		secret, _ := enrol(t, db, clock, m)
		pending := pendingSignIn(t, db, m)
		for i := 0; i < accountLimit; i++ {
			_, err := completeSignIn(db, m, pending, "000000")
			wantCodeRefused(t, err, "not right")
		}
		clock.Advance(30 * time.Second)
		_, err := completeSignIn(db, m, pending, codeAt(t, secret, clock.Now()))
		wantThrottled(t, err, "the right code after five wrong ones")
		if got := lastDiffValue(t, db, "auth.mfa_failed", "reason"); got != "throttled" {
			t.Errorf("auth.mfa_failed records reason %v, want throttled", got)
		}
		if n := len(entriesWithAction(t, db, "auth.mfa_failed")); n != accountLimit+1 {
			t.Errorf("%d auth.mfa_failed entries, want %d", n, accountLimit+1)
		}
		// Wrong codes count apart from wrong passwords: the password step
		// still works, and so does the code once the window has passed.
		if _, _, err := signIn(db, "198.51.100.9", m.EmailAddress, testPassword); err != nil {
			t.Fatalf("password after wrong codes: %v", err)
		}
		// The portal never moves a failure back in time; the owner may.
		exec(t, testdb.Owner(t, db), `UPDATE login_failures SET failed_at = ?`, models.Now().Add(-models.ThrottleWindow-time.Minute))
		if _, err := completeSignIn(db, m, pending, codeAt(t, secret, clock.Now())); err != nil {
			t.Fatalf("the right code after the window: %v", err)
		}
		if n := countRows(t, db, "login_failures"); n != 0 {
			t.Errorf("%d failures left after a right code", n)
		}
	})
}

func TestCompleteSignIn_TheSameCodeSentTwiceAtOnceWinsOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "race@example.com")
		secret, _ := enrol(t, db, clock, m)
		clock.Advance(30 * time.Second)
		code := codeAt(t, secret, clock.Now())
		a, b := pendingSignIn(t, db, m), pendingSignIn(t, db, m)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, p := range []models.Session{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = completeSignIn(db, m, p, code)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else if models.ErrorKind(err) != models.KindUnauthorized {
				t.Fatalf("the losing request: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d of two parallel uses of one code succeeded, want 1 (%v)", won, errs)
		}
	})
}

func TestSignIn_MandatoryMFASendsAdminsToEnrolment(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		admin := activeMember(t, db, "boss@example.com")
		auditor := insertMember(t, db, "auditor@example.com", models.MemberActive, testPasswordHash(t))
		setMemberRole(t, db, auditor.ID, models.RoleAuditor)

		changed, err := db.UpdateSettings(ctx, memberOrigin(admin), models.Settings{MFARequiredForAdmins: true})
		if err != nil || !changed {
			t.Fatalf("update settings: %v, %v", changed, err)
		}
		ups := entriesWithAction(t, db, "settings.update")
		if len(ups) != 1 || ups[0].DecodeDiff().Before["mfa_required_for_admins"] != false || ups[0].DecodeDiff().After["mfa_required_for_admins"] != true {
			t.Fatalf("settings.update entries: %+v", ups)
		}
		if changed, _ := db.UpdateSettings(ctx, memberOrigin(admin), models.Settings{MFARequiredForAdmins: true}); changed {
			t.Error("saving the same settings reported a change")
		}
		if n := len(entriesWithAction(t, db, "settings.update")); n != 1 {
			t.Errorf("%d settings.update entries after saving the same settings again", n)
		}

		_, s, err := signIn(db, "198.51.100.9", auditor.EmailAddress, testPassword)
		if err != nil || sessionRow(t, db, s.IDHash).MFAStage != models.SignedIn {
			t.Fatalf("an auditor is not asked to enrol: %v", err)
		}
		_, s, err = signIn(db, "198.51.100.9", admin.EmailAddress, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		waiting := sessionRow(t, db, s.IDHash)
		if waiting.MFAStage != models.AwaitingEnrolment {
			t.Fatalf("admin without MFA: stage %q, want %q", waiting.MFAStage, models.AwaitingEnrolment)
		}
		if n := len(entriesWithAction(t, db, "auth.mfa_enrol_required")); n != 1 {
			t.Fatalf("%d auth.mfa_enrol_required entries", n)
		}

		// The pending sign-in is the proof of a password typed moments ago.
		secret := startSetupWith(t, db, admin, models.MFASetupProof{PendingSignIn: waiting.IDHash})
		next := newSessionRow()
		codes, err := db.ConfirmMFA(ctx, memberOrigin(admin), admin, codeAt(t, secret, clock.Now()),
			&models.Promotion{From: waiting.IDHash, To: next})
		if err != nil || len(codes) != 10 {
			t.Fatalf("confirm while enrolling: %d codes, %v", len(codes), err)
		}
		if sessionExists(t, db, waiting.IDHash) {
			t.Error("the enrolling session outlived the enrolment")
		}
		if row := sessionRow(t, db, next.IDHash); row.MFAStage != models.SignedIn || row.MemberID != admin.ID {
			t.Fatalf("session after enrolling = %+v", row)
		}
		if got := lastDiffValue(t, db, "auth.login", "factor"); got != "totp" {
			t.Errorf("auth.login after enrolling records factor %v", got)
		}

		// Now enrolled, the admin's next sign-in asks for the code, and
		// the admin cannot turn it off while it is required.
		pendingSignIn(t, db, admin)
		clock.Advance(30 * time.Second)
		if err := db.DisableMFA(ctx, memberOrigin(admin), admin, codeAt(t, secret, clock.Now())); !errors.Is(err, models.ErrMFARequired) {
			t.Fatalf("disable while required: %v", err)
		}
		if on, _ := db.MFAEnabled(ctx, admin.ID); !on {
			t.Fatal("disable while required turned it off")
		}
	})
}

func TestDisableMFA_TakesACurrentCodeNotThePassword(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "disable@example.com")
		secret, codes := enrol(t, db, clock, m)

		wantCodeRefused(t, db.DisableMFA(ctx, memberOrigin(m), m, testPassword), "not right")
		wantCodeRefused(t, db.DisableMFA(ctx, memberOrigin(m), m, "123456"), "not right")
		if on, _ := db.MFAEnabled(ctx, m.ID); !on {
			t.Fatal("a wrong code turned it off")
		}
		if got := lastDiffValue(t, db, "auth.mfa_failed", "during"); got != "disable" {
			t.Errorf("auth.mfa_failed records during %v", got)
		}

		clock.Advance(30 * time.Second)
		if err := db.DisableMFA(ctx, memberOrigin(m), m, codeAt(t, secret, clock.Now())); err != nil {
			t.Fatalf("disable: %v", err)
		}
		if on, _ := db.MFAEnabled(ctx, m.ID); on {
			t.Fatal("still on after disabling")
		}
		if countRows(t, db, "member_mfa") != 0 || countRows(t, db, "mfa_recovery_codes") != 0 {
			t.Fatal("the secret or the recovery codes outlived disabling")
		}
		if got := lastDiffValue(t, db, "auth.mfa_disable", "mfa"); got != "off" {
			t.Errorf("auth.mfa_disable records mfa %v", got)
		}
		_, s, err := signIn(db, "198.51.100.9", m.EmailAddress, testPassword)
		if err != nil || sessionRow(t, db, s.IDHash).MFAStage != models.SignedIn {
			t.Fatalf("after disabling, the password alone should sign in: %v", err)
		}
		if err := db.DisableMFA(ctx, memberOrigin(m), m, codes[0]); models.ErrorKind(err) != models.KindInvalid {
			t.Fatalf("disable when off: %v, want invalid", err)
		}
	})
}

func TestDisableMFA_WithARecoveryCode(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "lost-phone@example.com")
		_, codes := enrol(t, db, clock, m)
		if err := db.DisableMFA(ctx, memberOrigin(m), m, codes[9]); err != nil {
			t.Fatalf("disable with a recovery code: %v", err)
		}
		if n := len(entriesWithAction(t, db, "auth.recovery_code_used")); n != 1 {
			t.Errorf("%d auth.recovery_code_used entries", n)
		}
	})
}

func TestRegenerateRecoveryCodes_ReplacesTheOldOnes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "regen@example.com")
		secret, old := enrol(t, db, clock, m)
		if _, err := db.RegenerateRecoveryCodes(ctx, memberOrigin(m), m, "999999"); err == nil {
			t.Fatal("regenerated with a wrong code")
		}
		clock.Advance(30 * time.Second)
		fresh, err := db.RegenerateRecoveryCodes(ctx, memberOrigin(m), m, codeAt(t, secret, clock.Now()))
		if err != nil || len(fresh) != 10 {
			t.Fatalf("regenerate: %d codes, %v", len(fresh), err)
		}
		if n := len(entriesWithAction(t, db, "auth.recovery_codes_regenerate")); n != 1 {
			t.Errorf("%d auth.recovery_codes_regenerate entries", n)
		}
		_, err = completeSignIn(db, m, pendingSignIn(t, db, m), old[0])
		wantCodeRefused(t, err, "not right")
		if _, err := completeSignIn(db, m, pendingSignIn(t, db, m), fresh[0]); err != nil {
			t.Fatalf("a new recovery code: %v", err)
		}
	})
}

func TestCompleteSignIn_OnlyAWaitingSessionIsPromoted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := setClock(db)
		m := activeMember(t, db, "promote@example.com")
		secret, _ := enrol(t, db, clock, m)
		clock.Advance(30 * time.Second)
		// A completed session, or one ended meanwhile, is not waiting.
		done := insertSession(t, db, m.ID, models.Now(), models.Now().Add(time.Hour))
		_, err := completeSignIn(db, m, done, codeAt(t, secret, clock.Now()))
		if models.ErrorKind(err) != models.KindNotFound {
			t.Fatalf("promoting a completed session: %v, want not found", err)
		}
		if n := len(entriesWithAction(t, db, "auth.login")); n != 0 {
			t.Fatalf("%d auth.login entries for a refused promotion", n)
		}
	})
}

func setMemberRole(t testing.TB, db *models.DB, id string, role models.Role) {
	t.Helper()
	if err := db.Gorm().Exec(`UPDATE team_members SET role = ? WHERE id = ?`, string(role), id).Error; err != nil {
		t.Fatalf("set role: %v", err)
	}
}
