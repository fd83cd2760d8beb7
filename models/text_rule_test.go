package models_test

import (
	"errors"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// badKeys break the text rule; PostgreSQL would refuse the first two in
// a query, SQLite would look them up.
var badKeys = []string{"ab\x00cd", "ab\xffcd", "ab\u202Ecd", "ab\u200Bcd", strings.Repeat("a", 300)}

func TestLookups_AKeyThatBreaksTheTextRuleFindsNothingOnBothDatabases(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		key, err := db.CreateAPIKey(ctx, systemOrigin, models.NewAPIKey{Name: "lookups", Scope: models.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range badKeys {
			if _, err := db.MemberByID(ctx, k); models.ErrorKind(err) != models.KindNotFound {
				t.Errorf("MemberByID(%q): %v", k, err)
			}
			if _, err := db.EndUserByUserID(ctx, k); models.ErrorKind(err) != models.KindNotFound {
				t.Errorf("EndUserByUserID(%q): %v", k, err)
			}
			if _, err := db.EndUserByToken(ctx, k); models.ErrorKind(err) != models.KindNotFound {
				t.Errorf("EndUserByToken(%q): %v", k, err)
			}
			if _, err := db.AuthenticateAPIKey(ctx, k, key.Secret); models.ErrorKind(err) != models.KindUnauthorized {
				t.Errorf("AuthenticateAPIKey(%q, secret): %v", k, err)
			}
			if _, err := db.AuthenticateAPIKey(ctx, key.Key.ClientID, key.Secret+k); models.ErrorKind(err) != models.KindUnauthorized {
				t.Errorf("AuthenticateAPIKey(client_id, %q): %v", k, err)
			}
			if _, err := db.AuthenticateAPISecret(ctx, "secret-"+k); models.ErrorKind(err) != models.KindUnauthorized {
				t.Errorf("AuthenticateAPISecret(%q): %v", k, err)
			}
			if _, err := db.ListDashboardUsers(ctx, k); models.ErrorKind(err) != models.KindInvalid {
				t.Errorf("ListDashboardUsers(cursor %q): %v", k, err)
			}
			if _, err := db.EndSession(ctx, systemOrigin, models.SessionEnd{MemberID: models.NewMemberID(), Handle: k}); models.ErrorKind(err) != models.KindNotFound {
				t.Errorf("EndSession(handle %q): %v", k, err)
			}
		}
	})
}

func TestSignIn_AnAddressThatBreaksTheTextRuleIsRefusedUncounted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "rule-"+strings.ToLower(models.RandomHex(4))+"@example.com")
		before, err := db.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"\x00" + m.EmailAddress, m.EmailAddress + "\xff", "\u202E" + m.EmailAddress, strings.Repeat("a", 300) + "@example.com"} {
			_, err := db.SignIn(ctx, anonymousFrom("192.0.2.9"), bad, testPassword, newSessionRow())
			if !errors.Is(err, models.ErrBadCredentials) {
				t.Errorf("SignIn(%q): %v, want bad credentials", bad, err)
			}
		}
		after, err := db.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var failures int64
		if err := db.Gorm().Model(&models.LoginFailure{}).Count(&failures).Error; err != nil {
			t.Fatal(err)
		}
		if after.Seq != before.Seq || failures != 0 {
			t.Errorf("refused addresses were recorded: audit %d → %d, %d failures counted", before.Seq, after.Seq, failures)
		}
	})
}

func TestUpdateEndUser_InvalidBytesInAnEmailOrCountryAreRefusedNotReplaced(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "fold-"+models.RandomHex(4), person("Ada", "Lovelace", "+13125551212", "ada@example.com"))
		for field, change := range map[string]func(*models.Identity){
			models.FieldEmails:  func(id *models.Identity) { id.Emails = []string{"ADA\xff@example.com"} },
			models.FieldCountry: func(id *models.Identity) { id.Address.Country = "u\xffs" },
		} {
			id := person("Ada", "Lovelace", "+13125551212", "ada@example.com")
			change(id)
			_, err := db.UpdateEndUser(ctx, systemOrigin, c.User.ID, c.User.Version, id)
			var merr *models.Error
			if !errors.As(err, &merr) || !strings.Contains(merr.Fields[field], "UTF-8") {
				t.Errorf("%s with invalid UTF-8: %v", field, err)
			}
		}
	})
}
