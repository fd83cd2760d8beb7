package models_test

import (
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

var janeContext = models.PasswordContext{Email: "Jane.Doe@Example.com"}

// wantRefused fails unless pw is refused with a message containing want
// (any message when want is "") and at least one piece of advice.
func wantRefused(t *testing.T, pw string, c models.PasswordContext, want string) {
	t.Helper()
	r := models.CheckPassword(pw, c)
	switch {
	case r == nil:
		t.Errorf("%q accepted, want refused", pw)
	case r.Message == "" || !strings.Contains(r.Message, want):
		t.Errorf("%q: message %q, want one containing %q", pw, r.Message, want)
	case len(r.Advice) == 0 || r.Advice[0] == "":
		t.Errorf("%q: refused (%q) without advice", pw, r.Message)
	}
}

func TestCheckPassword_RefusesGuessablePasswordsWithFeedback(t *testing.T) {
	for pw, want := range map[string]string{
		"password1234":         "commonly used",
		"aaaaaaaaaaaa":         "Repeated characters",
		"qwertyuiopasdf":       "commonly used",
		"zxcvbnmasdfghjkl":     "",
		"Password12345":        "commonly used",
		"qwerty123456":         "commonly used",
		"QWERTY123456":         "commonly used", // case does not make it rarer
		"1q2w3e4r5t6y":         "commonly used",
		"abcdefghijklmnop":     "Sequences",
		"jane.doe@example.com": "email address",
		"JANE.DOE@EXAMPLE.COM": "email address",
		"jane.doe1987":         "email address",
		"janedoe2024!":         "email address",
		"Jane.Doe12345":        "email address",
		"example.com2024":      "email address",
		"ledgerdesk2026!":      "product's name",
		"Ledgerdesk2026!!":     "product's name",
		"L3dg3rd3sk!!2026":     "product's name",
		"ledgerdeskledgerdesk": "",
	} {
		wantRefused(t, pw, janeContext, want)
	}
}

// The blocklist refuses what the estimator scores as strong: each of these
// gets zxcvbn score 3 or more on its own (see TestBlocklistCatchesWhatTheEstimatorMisses).
func TestCheckPassword_BlocklistCoversLongPasswords(t *testing.T) {
	if n := models.PasswordBlocklistSize(); n < 10000 {
		t.Fatalf("the shipped list holds %d long passwords, want over 10,000", n)
	}
	for pw, want := range map[string]string{
		"qw12er34ty56":                     "commonly used", // leaked, a keyboard walk
		"showmethemoney":                   "commonly used", // leaked
		"!QAZ2wsx#EDC4rfv":                 "commonly used", // a leaked walk, shifted in turns
		"2222333344445555":                 "repeats a few characters",
		"Mountain2024!":                    "common word",
		"monkey123456!":                    "common word",
		"Summer2024!!":                     "common word",
		"Appreciation2024!":                "common word",
		"yeknom2024!!!":                    "common word", // reversed
		"my email is jane.doe@example.com": "email address",
	} {
		wantRefused(t, pw, janeContext, want)
	}
}

func TestCheckPassword_AcceptsStrongPasswords(t *testing.T) {
	for _, pw := range []string{
		testPassword, goodPassword,
		"another long passphrase",
		"purple elephants dance quietly",
		"the quick brown fox jumps over the lazy dog",
		"Tr0ub4dour&3xyz",
		"jane met a walrus in lisbon", // the member's first name inside a phrase is fine
	} {
		if r := models.CheckPassword(pw, janeContext); r != nil {
			t.Errorf("%q refused: %s", pw, r.Message)
		}
	}
	// Generated passwords (the first admin, admin create, test members) pass.
	for i := 0; i < 500; i++ {
		for _, pw := range []string{models.RandomToken(15), "pw-" + models.RandomToken(12)} {
			if r := models.CheckPassword(pw, janeContext); r != nil {
				t.Fatalf("a generated password was refused: %s", r.Message)
			}
		}
	}
}

func TestCheckPassword_LengthBoundsAndHostileInput(t *testing.T) {
	strong := "violet anchor tramway " // 22 bytes; a strong start
	fill := func(n int) string {       // strong, exactly n bytes
		s := strong
		for len(s) < n {
			s += models.RandomHex(1)[:1]
		}
		return s[:n]
	}
	for _, c := range []struct {
		name, pw, want string // want "" for accepted
	}{
		{"11 characters", "vi0let anch", "at least 12"},
		{"12 characters", "vi0let anch0", ""},
		{"12 characters, 24 bytes", "éàüöïçñøåæœß", ""}, // counted in characters
		{"11 characters, 22 bytes", "éàüöïçñøåæœ", "at least 12"},
		{"128 bytes", fill(128), ""},
		{"129 bytes", fill(129), "at most 128 bytes"},
		{"a megabyte", strings.Repeat("correct horse ", 75000), "at most 128 bytes"},
		{"a NUL byte", "violet anchor\x00tramway", "cannot be used"},
		{"a control character", "violet anchor\x1btramway", "cannot be used"},
		{"invalid UTF-8", "violet anchor \xff\xfe tramway", "cannot be used"},
	} {
		r := models.CheckPassword(c.pw, janeContext)
		switch {
		case c.want == "" && r != nil:
			t.Errorf("%s: refused: %s", c.name, r.Message)
		case c.want != "" && (r == nil || !strings.Contains(r.Message, c.want)):
			t.Errorf("%s: %+v, want a message containing %q", c.name, r, c.want)
		}
	}
}

func TestChangePassword_RefusesAGuessablePasswordWithAdvice(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "jane.doe@example.com")
		keep := newSessionRow()
		for _, pw := range []string{"password1234", "aaaaaaaaaaaa", "qwertyuiopasdf", "Password12345",
			"jane.doe@example.com", "jane.doe2024", "ledgerdesk2026!"} {
			_, err := db.ChangePassword(ctx, systemOrigin, m.ID, keep.IDHash,
				models.PasswordChange{Current: testPassword, New: pw, Confirm: pw})
			e := domainError(t, err, models.KindInvalid)
			if e.Fields["new"] == "" || len(e.Advice["new"]) == 0 || len(e.Fields) != 1 {
				t.Errorf("%q: fields %v, advice %v; want a message and advice for new only", pw, e.Fields, e.Advice)
			}
		}
		if got := reloadMember(t, db, m.ID).PasswordHash; got != m.PasswordHash {
			t.Fatal("a refused password was stored")
		}
		if n := len(entriesWithAction(t, db, "auth.password_change")); n != 0 {
			t.Fatalf("%d auth.password_change entries", n)
		}
	})
}

func TestAcceptInvitation_RefusesTheInviteesEmailAndGuessablePasswords(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "admin@example.com")
		inv := invite(t, db, admin, "Sam.Rivera@Example.org", models.RoleAuditor)
		for pw, want := range map[string]string{
			"sam.rivera@example.org": "email address",
			"Sam.Rivera@Example.org": "email address",
			"samrivera1990":          "email address",
			"sam.rivera12345":        "email address",
			"ledgerdesk2026!":        "product's name",
			"password1234":           "commonly used",
		} {
			_, err := db.AcceptInvitation(ctx, anonymousFrom("198.51.100.4"), inv.Token, pw, pw)
			e := domainError(t, err, models.KindInvalid)
			if !strings.Contains(e.Fields["password"], want) || len(e.Advice["password"]) == 0 {
				t.Errorf("%q: message %q, advice %v; want %q with advice", pw, e.Fields["password"], e.Advice["password"], want)
			}
		}
		if m := reloadMember(t, db, inv.Member.ID); m.Status != models.MemberInvited || m.PasswordHash != "" {
			t.Fatalf("a refused password changed the invitee: %+v", m)
		}
		if _, err := db.AcceptInvitation(ctx, anonymousFrom("198.51.100.4"), inv.Token, goodPassword, goodPassword); err != nil {
			t.Fatalf("a strong passphrase was refused: %v", err)
		}
	})
}

func TestCreateMember_AppliesThePasswordRuleWithTheEmail(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		for _, pw := range []string{"ops.lead@example.com", "opslead2024!", "aaaaaaaaaaaa"} {
			_, err := db.CreateMember(ctx, systemOrigin, models.NewMember{Email: "Ops.Lead@example.com", Role: models.RoleAdmin, Password: pw})
			e := domainError(t, err, models.KindInvalid)
			if e.Fields["password"] == "" || len(e.Advice["password"]) == 0 {
				t.Errorf("%q: fields %v, advice %v", pw, e.Fields, e.Advice)
			}
		}
		if n := countRows(t, db, "team_members"); n != 0 {
			t.Fatalf("%d members after refused creations", n)
		}
	})
}
