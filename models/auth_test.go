package models_test

import (
	"errors"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func signIn(db *models.DB, ip, email, password string) (*models.TeamMember, models.Session, error) {
	s := newSessionRow()
	m, err := db.SignIn(ctx, anonymousFrom(ip), email, password, s)
	return m, s, err
}

func wantBadCredentials(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, models.ErrBadCredentials) || err.Error() != models.ErrBadCredentials.Error() {
		t.Fatalf("%s: got %v, want ErrBadCredentials", what, err)
	}
	if models.ErrorKind(err) != models.KindUnauthorized {
		t.Fatalf("%s: kind %d, want KindUnauthorized", what, models.ErrorKind(err))
	}
}

// The documented limits: five failures per account, twenty per address,
// within a quarter of an hour.
const (
	accountLimit = 5
	addressLimit = 20
)

var tryAgain = regexp.MustCompile(`Try again in (\d+) minutes?\.`)

// wantThrottled checks err refuses the attempt and says when to retry.
func wantThrottled(t *testing.T, err error, what string) {
	t.Helper()
	if models.ErrorKind(err) != models.KindThrottled {
		t.Fatalf("%s: got %v, want KindThrottled", what, err)
	}
	var de *models.Error
	if !errors.As(err, &de) {
		t.Fatalf("%s: not a models.Error", what)
	}
	m := tryAgain.FindStringSubmatch(de.Message)
	if m == nil {
		t.Fatalf("%s: message %q does not say when to try again", what, de.Message)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 || n > 15 {
		t.Errorf("%s: try again in %d minutes, outside 1..15", what, n)
	}
}

func sessionExists(t *testing.T, db *models.DB, idHash string) bool {
	t.Helper()
	var n int64
	if err := db.Gorm().Model(&models.Session{}).Where("id_hash = ?", idHash).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestSignIn_RightCredentialsCreateSessionAndAuditLogin(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "admin@example.com")
		got, s, err := signIn(db, "198.51.100.7", "  Admin@Example.COM ", testPassword)
		if err != nil {
			t.Fatalf("sign in: %v", err)
		}
		if got.ID != m.ID {
			t.Errorf("signed in as %s, want %s", got.ID, m.ID)
		}
		var row models.Session
		if err := db.Gorm().Where("id_hash = ?", s.IDHash).Take(&row).Error; err != nil {
			t.Fatalf("session row: %v", err)
		}
		if row.MemberID != m.ID || row.IP != s.IP || !row.ExpiresAt.Equal(s.ExpiresAt) {
			t.Errorf("session row = %+v", row)
		}
		logins := entriesWithAction(t, db, "auth.login")
		if len(logins) != 1 {
			t.Fatalf("%d auth.login entries", len(logins))
		}
		e := logins[0]
		if e.ActorType != models.ActorMember || e.ActorID != m.ID || e.TargetType != "team_member" || e.TargetID != m.ID || e.IP != "198.51.100.7" {
			t.Errorf("auth.login entry = %+v", e)
		}
		if n := len(entriesWithAction(t, db, "auth.login_failed")); n != 0 {
			t.Errorf("%d failed-login entries for a good sign-in", n)
		}
	})
}

func TestSignIn_WrongPasswordAndUnknownEmailGetTheSameAnswer(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "admin@example.com")
		_, s1, errWrong := signIn(db, "198.51.100.7", "admin@example.com", "typed-secret-guess-1")
		wantBadCredentials(t, errWrong, "wrong password")
		_, s2, errUnknown := signIn(db, "198.51.100.7", "nobody-typed@example.com", "typed-secret-guess-2")
		wantBadCredentials(t, errUnknown, "unknown email")
		if errWrong.Error() != errUnknown.Error() {
			t.Errorf("messages differ: %q vs %q", errWrong, errUnknown)
		}
		if sessionExists(t, db, s1.IDHash) || sessionExists(t, db, s2.IDHash) || countRows(t, db, "sessions") != 0 {
			t.Error("a failed sign-in created a session")
		}
		failed := entriesWithAction(t, db, "auth.login_failed")
		if len(failed) != 2 {
			t.Fatalf("%d auth.login_failed entries, want 2", len(failed))
		}
		if failed[0].TargetID != m.ID || failed[1].TargetID != "" {
			t.Errorf("targets = %q, %q; want the member, then none", failed[0].TargetID, failed[1].TargetID)
		}
		for _, e := range failed {
			if e.ActorType != models.ActorAnonymous || e.IP != "198.51.100.7" {
				t.Errorf("failed entry origin = %+v", e)
			}
			// What was typed stays out of the log: a password may have been
			// typed into the email field.
			for _, typed := range []string{"typed-secret-guess", "nobody-typed"} {
				if strings.Contains(e.Diff, typed) || strings.Contains(e.TargetID, typed) || strings.Contains(e.Reason, typed) {
					t.Errorf("entry %d holds what was typed: %+v", e.Seq, e)
				}
			}
		}
		var reasons []string
		for _, e := range failed {
			reasons = append(reasons, e.DecodeDiff().After["reason"].(string))
		}
		if strings.Join(reasons, ",") != "wrong_password,unknown_account" {
			t.Errorf("reasons = %v", reasons)
		}
		var stored []string
		if err := db.Gorm().Raw(`SELECT account_key FROM login_failures`).Scan(&stored).Error; err != nil {
			t.Fatal(err)
		}
		for _, k := range stored {
			if strings.Contains(k, "@") {
				t.Errorf("login_failures holds a typed email: %q", k)
			}
		}
	})
}

func TestSignIn_InactiveMembersCannotSignIn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "leaver@example.com")
		setMemberStatus(t, db, m.ID, models.MemberDeactivated)
		_, s, err := signIn(db, "198.51.100.7", "leaver@example.com", testPassword)
		wantBadCredentials(t, err, "deactivated member, right password")
		if sessionExists(t, db, s.IDHash) {
			t.Error("deactivated member got a session")
		}
		invited := activeMember(t, db, "invitee@example.com")
		setMemberStatus(t, db, invited.ID, models.MemberInvited)
		_, _, err = signIn(db, "198.51.100.7", "invitee@example.com", testPassword)
		wantBadCredentials(t, err, "invited member")
		if n := len(entriesWithAction(t, db, "auth.login")); n != 0 {
			t.Errorf("%d auth.login entries", n)
		}
		if n := len(entriesWithAction(t, db, "auth.login_failed")); n != 2 {
			t.Errorf("%d auth.login_failed entries, want 2", n)
		}
	})
}

func TestSignIn_UnknownEmailWaitsAsLongAsARealCheckWithoutHashing(t *testing.T) {
	// argon2id dominates a wrong-password answer. An unknown email, a
	// member with no password yet and a throttled attempt must answer in
	// the same time, or the timing tells which emails have accounts, but
	// must not hash: a hash costs 64 MiB and tens of milliseconds of both
	// cores, and a flood of such attempts took the process down. They wait
	// for a duration drawn from the recent real checks instead.
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		activeMember(t, db, "admin@example.com")
		insertMember(t, db, "invitee@example.com", models.MemberInvited, "")
		hashes := models.PasswordHashesComputed()
		_, _, err := signIn(db, "198.51.100.7", "admin@example.com", "not the password")
		wantBadCredentials(t, err, "wrong password")
		if n := models.PasswordHashesComputed() - hashes; n != 1 {
			t.Fatalf("a wrong password computed %d hashes, want 1", n)
		}

		pauses, restore := models.RecordPauses()
		defer restore()
		for _, p := range []struct{ name, email string }{
			{"unknown email", "nobody@example.com"},
			{"no password yet", "invitee@example.com"},
		} {
			hashes := models.PasswordHashesComputed()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := signIn(db, "198.51.100.8", p.email, "not the password")
			runtime.ReadMemStats(&after)
			wantBadCredentials(t, err, p.name)
			if n := models.PasswordHashesComputed() - hashes; n != 0 {
				t.Errorf("%s computed %d hashes", p.name, n)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("%s allocated %d MiB", p.name, alloc>>20)
			}
		}
		got := pauses()
		if len(got) != 2 {
			t.Fatalf("%d waits for 2 answers that do not hash", len(got))
		}
		recent := models.RecentCheckTimes()
		for _, d := range got {
			if d <= 0 || !slices.Contains(recent, d) {
				t.Errorf("waited %v, not one of the recent check times %v", d, recent)
			}
		}
	})
}

func TestSignIn_AThrottledAttemptNeverHashes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		activeMember(t, db, "admin@example.com")
		for i := 0; i < accountLimit; i++ {
			_, _, err := signIn(db, "198.51.100.7", "admin@example.com", "wrong guess")
			wantBadCredentials(t, err, "failure "+strconv.Itoa(i+1))
		}
		pauses, restore := models.RecordPauses()
		defer restore()
		hashes := models.PasswordHashesComputed()
		for i := 0; i < 3; i++ {
			_, _, err := signIn(db, "198.51.100.7", "admin@example.com", testPassword)
			wantThrottled(t, err, "throttled attempt")
		}
		if n := models.PasswordHashesComputed() - hashes; n != 0 {
			t.Errorf("throttled attempts computed %d hashes", n)
		}
		if n := len(pauses()); n != 3 {
			t.Errorf("%d waits for 3 throttled answers", n)
		}
	})
}

func TestSignIn_AccountThrottledAfterFiveFailures(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		activeMember(t, db, "admin@example.com")
		for i := 0; i < accountLimit; i++ {
			_, _, err := signIn(db, "198.51.100.7", "admin@example.com", "wrong guess")
			wantBadCredentials(t, err, "failure "+strconv.Itoa(i+1))
		}
		if n := countRows(t, db, "login_failures"); n != int64(accountLimit) {
			t.Errorf("login_failures holds %d rows, want %d", n, accountLimit)
		}
		// The right password no longer helps, from this address or another.
		_, s, err := signIn(db, "198.51.100.7", "admin@example.com", testPassword)
		wantThrottled(t, err, "6th attempt with the right password")
		_, _, err = signIn(db, "203.0.113.9", "ADMIN@example.com", testPassword)
		wantThrottled(t, err, "from another address")
		if sessionExists(t, db, s.IDHash) || countRows(t, db, "sessions") != 0 {
			t.Error("a throttled attempt created a session")
		}
		// Refused attempts are audited but not counted as failures.
		if n := countRows(t, db, "login_failures"); n != int64(accountLimit) {
			t.Errorf("login_failures holds %d rows after refusals, want %d", n, accountLimit)
		}
		failed := entriesWithAction(t, db, "auth.login_failed")
		if last := failed[len(failed)-1]; last.DecodeDiff().After["reason"] != "throttled" {
			t.Errorf("last failed entry: %s", last.Diff)
		}
		// Another account is unaffected.
		other := activeMember(t, db, "other@example.com")
		if got, _, err := signIn(db, "203.0.113.9", "other@example.com", testPassword); err != nil || got.ID != other.ID {
			t.Errorf("other account: %v", err)
		}
	})
}

func TestSignIn_AddressThrottledAfterTwentyFailures(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "admin@example.com")
		const attacker, bystander = "198.51.100.66", "203.0.113.9"
		for i := 0; i < addressLimit; i++ {
			// Different emails, each far below the account limit.
			_, _, err := signIn(db, attacker, "probe"+strconv.Itoa(i)+"@example.com", "guess")
			wantBadCredentials(t, err, "probe "+strconv.Itoa(i))
		}
		_, _, err := signIn(db, attacker, "fresh-probe@example.com", "guess")
		wantThrottled(t, err, "21st attempt from the address")
		_, _, err = signIn(db, attacker, "admin@example.com", testPassword)
		wantThrottled(t, err, "right password from the throttled address")
		// Someone else, elsewhere, is not affected.
		_, _, err = signIn(db, bystander, "someone@example.com", "guess")
		wantBadCredentials(t, err, "another address")
		if got, _, err := signIn(db, bystander, "admin@example.com", testPassword); err != nil || got.ID != m.ID {
			t.Errorf("sign in from another address: %v", err)
		}
		var n int64
		if err := db.Gorm().Model(&models.LoginFailure{}).Where("ip = ?", attacker).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != int64(addressLimit) {
			t.Errorf("%d failures stored for the address, want %d", n, addressLimit)
		}
	})
}

func TestSignIn_SuccessClearsTheAccountsFailures(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		activeMember(t, db, "admin@example.com")
		fail := func(what string) {
			_, _, err := signIn(db, "198.51.100.7", "admin@example.com", "wrong guess")
			wantBadCredentials(t, err, what)
		}
		for i := 0; i < accountLimit-1; i++ {
			fail("before success")
		}
		if _, _, err := signIn(db, "198.51.100.7", "admin@example.com", testPassword); err != nil {
			t.Fatalf("sign in: %v", err)
		}
		if n := countRows(t, db, "login_failures"); n != 0 {
			t.Errorf("%d failures left after a successful sign-in", n)
		}
		// Without the reset, the second of these would be the sixth failure.
		fail("after success 1")
		fail("after success 2")
	})
}

func TestSignIn_ParallelGuessesStayWithinTheLimit(t *testing.T) {
	// Guesses sent at once must not all pass the throttle check before the
	// first of them is counted.
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		activeMember(t, db, "admin@example.com")
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				_, _, errs[i] = signIn(db, "198.51.100.66", "admin@example.com", "guess-"+strconv.Itoa(i))
			}(i)
		}
		close(start)
		wg.Wait()
		checked := 0
		for _, err := range errs {
			switch models.ErrorKind(err) {
			case models.KindUnauthorized:
				checked++
			case models.KindThrottled:
			default:
				t.Errorf("unexpected answer: %v", err)
			}
		}
		if checked > accountLimit {
			t.Errorf("%d of %d parallel guesses were checked, limit is %d", checked, n, accountLimit)
		}
		if rows := countRows(t, db, "login_failures"); rows > int64(accountLimit) || rows != int64(checked) {
			t.Errorf("%d failures stored for %d checked guesses", rows, checked)
		}
	})
}

func TestSignOut_EndsTheSessionAndAuditsIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := insertMember(t, db, "a@example.com", models.MemberActive, "")
		now := models.Now()
		s := insertSession(t, db, m.ID, now, now.Add(time.Hour))
		keep := insertSession(t, db, m.ID, now, now.Add(time.Hour))
		o := systemOrigin
		o.Actor = m.AsActor()
		if err := db.SignOut(ctx, o, m.ID, s.IDHash); err != nil {
			t.Fatal(err)
		}
		if sessionExists(t, db, s.IDHash) || !sessionExists(t, db, keep.IDHash) {
			t.Error("sign-out did not end exactly its session")
		}
		if es := entriesWithAction(t, db, "auth.logout"); len(es) != 1 || es[0].ActorID != m.ID {
			t.Errorf("auth.logout entries: %+v", es)
		}
	})
}

func storedHash(t *testing.T, db *models.DB, id string) string {
	t.Helper()
	m, err := db.MemberByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return m.PasswordHash
}

func TestChangePassword_RejectsBadInputAndChangesNothing(t *testing.T) {
	const newPassword = "a brand new passphrase"
	cases := []struct {
		name  string
		in    models.PasswordChange
		field string
	}{
		{"wrong current password", models.PasswordChange{Current: "not my password", New: newPassword, Confirm: newPassword}, "current"},
		{"new password too short", models.PasswordChange{Current: testPassword, New: "short1", Confirm: "short1"}, "new"},
		{"confirmation differs", models.PasswordChange{Current: testPassword, New: newPassword, Confirm: newPassword + "!"}, "confirm"},
	}
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "a@example.com")
		now := models.Now()
		keep := insertSession(t, db, m.ID, now, now.Add(time.Hour))
		insertSession(t, db, m.ID, now, now.Add(time.Hour))
		for _, c := range cases {
			_, err := db.ChangePassword(ctx, systemOrigin, m.ID, keep.IDHash, c.in)
			var de *models.Error
			if !errors.As(err, &de) || de.Kind != models.KindInvalid {
				t.Errorf("%s: got %v, want KindInvalid", c.name, err)
				continue
			}
			if de.Fields[c.field] == "" {
				t.Errorf("%s: no message on field %q (fields %v)", c.name, c.field, de.Fields)
			}
		}
		if h := storedHash(t, db, m.ID); h != testPasswordHash(t) {
			t.Error("password hash changed after refused changes")
		}
		if n := countRows(t, db, "sessions"); n != 2 {
			t.Errorf("%d sessions left, want 2", n)
		}
		if n := len(entriesWithAction(t, db, "auth.password_change")); n != 0 {
			t.Errorf("%d auth.password_change entries", n)
		}
	})
}

func TestChangePassword_ReplacesPasswordAndEndsOtherSessions(t *testing.T) {
	const newPassword = "a brand new passphrase"
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "a@example.com")
		bystander := insertMember(t, db, "b@example.com", models.MemberActive, "")
		now := models.Now()
		keep := insertSession(t, db, m.ID, now, now.Add(time.Hour))
		other1 := insertSession(t, db, m.ID, now, now.Add(time.Hour))
		other2 := insertSession(t, db, m.ID, now, now.Add(time.Hour))
		theirs := insertSession(t, db, bystander.ID, now, now.Add(time.Hour))
		o := systemOrigin
		o.Actor = m.AsActor()
		ended, err := db.ChangePassword(ctx, o, m.ID, keep.IDHash,
			models.PasswordChange{Current: testPassword, New: newPassword, Confirm: newPassword})
		if err != nil {
			t.Fatalf("change password: %v", err)
		}
		if ended != 2 {
			t.Errorf("ended %d sessions, want 2", ended)
		}
		if !sessionExists(t, db, keep.IDHash) || sessionExists(t, db, other1.IDHash) || sessionExists(t, db, other2.IDHash) {
			t.Error("the member's other sessions were not ended, or the current one was")
		}
		if !sessionExists(t, db, theirs.IDHash) {
			t.Error("another member's session was ended")
		}
		h := storedHash(t, db, m.ID)
		if !testdb.PasswordMatches(t, h, newPassword) || testdb.PasswordMatches(t, h, testPassword) {
			t.Error("stored hash does not match the new password only")
		}
		es := entriesWithAction(t, db, "auth.password_change")
		if len(es) != 1 {
			t.Fatalf("%d auth.password_change entries", len(es))
		}
		e := es[0]
		if e.ActorID != m.ID || e.TargetID != m.ID {
			t.Errorf("entry actor/target = %s/%s", e.ActorID, e.TargetID)
		}
		for _, secret := range []string{newPassword, testPassword, h, "argon2"} {
			if strings.Contains(e.Diff, secret) {
				t.Errorf("entry diff holds %q: %s", secret, e.Diff)
			}
		}
		if !strings.Contains(e.Diff, "[redacted]") {
			t.Errorf("diff does not record that the password changed: %s", e.Diff)
		}
		// The new password signs in.
		if _, _, err := signIn(db, "198.51.100.7", "a@example.com", newPassword); err != nil {
			t.Errorf("sign in with the new password: %v", err)
		}
	})
}

func TestCreateMember_ValidatesAndRefusesDuplicateEmail(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		_, err := db.CreateMember(ctx, systemOrigin, models.NewMember{Email: "not-an-email", Role: "boss", Password: "short"})
		var de *models.Error
		if !errors.As(err, &de) || de.Kind != models.KindInvalid {
			t.Fatalf("got %v, want KindInvalid", err)
		}
		for _, f := range []string{"email", "role", "password"} {
			if de.Fields[f] == "" {
				t.Errorf("no message for %s: %v", f, de.Fields)
			}
		}
		m, err := db.CreateMember(ctx, systemOrigin, models.NewMember{Email: " New@Example.com", Role: models.RoleCompliance, Password: testPassword})
		if err != nil {
			t.Fatal(err)
		}
		if m.EmailAddress != "new@example.com" || len(m.ID) != 24 || m.Status != models.MemberActive {
			t.Errorf("member = %+v", m)
		}
		_, err = db.CreateMember(ctx, systemOrigin, models.NewMember{Email: "NEW@example.com", Role: models.RoleAuditor, Password: testPassword})
		if models.ErrorKind(err) != models.KindConflict {
			t.Errorf("duplicate email: got %v, want KindConflict", err)
		}
		es := entriesWithAction(t, db, "team.create")
		if len(es) != 1 || strings.Contains(es[0].Diff, testPassword) || strings.Contains(es[0].Diff, "argon2") {
			t.Errorf("team.create entries: %+v", es)
		}
		if n, _ := db.CountMembers(ctx); n != 1 {
			t.Errorf("%d members", n)
		}
	})
}
