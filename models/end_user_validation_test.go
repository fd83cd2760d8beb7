package models_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// validationCase changes a valid input in one way; fields names the fields
// that must be refused (none: the input is accepted) and msg a word the
// first field's message must contain.
type validationCase struct {
	name   string
	change func(in *models.EndUserInput)
	fields []string
	msg    string
}

func clientID(id string) func(in *models.EndUserInput) {
	return func(in *models.EndUserInput) { in.ClientUserID, in.Identity = id, nil }
}

func identity(f func(id *models.Identity)) func(in *models.EndUserInput) {
	return func(in *models.EndUserInput) { f(in.Identity) }
}

func phones(p ...string) func(in *models.EndUserInput) {
	return identity(func(id *models.Identity) { id.PhoneNumbers = p })
}

func emails(e ...string) func(in *models.EndUserInput) {
	return identity(func(id *models.Identity) { id.Emails = e })
}

func ssnFull(s string) func(in *models.EndUserInput) {
	return identity(func(id *models.Identity) { id.SSNFull = s })
}

func ssnLast4(s string) func(in *models.EndUserInput) {
	return identity(func(id *models.Identity) { id.SSNFull, id.SSNLast4 = "", s })
}

func birth(d string) func(in *models.EndUserInput) {
	return identity(func(id *models.Identity) { id.DateOfBirth = d })
}

func address(f func(a *models.Address)) func(in *models.EndUserInput) {
	return identity(func(id *models.Identity) { f(&id.Address) })
}

func validationCases(today time.Time) []validationCase {
	day := func(d int) string { return today.AddDate(0, 0, d).Format("2006-01-02") }
	ok := []string(nil)
	elevenPhones := make([]string, 11)
	elevenEmails := make([]string, 11)
	for i := range elevenPhones {
		elevenPhones[i] = fmt.Sprintf("+1312555%04d", i)
		elevenEmails[i] = fmt.Sprintf("carmy%d@example.com", i)
	}
	f := models.FieldClientUserID
	return []validationCase{
		// client_user_id: 1 to 128 characters (not bytes), storable.
		{"client_user_id alone", clientID("only-an-id"), ok, ""},
		{"client_user_id of 1 character", clientID("x"), ok, ""},
		{"client_user_id of 128 characters", clientID(strings.Repeat("a", 128)), ok, ""},
		{"client_user_id of 128 two-byte characters", clientID(strings.Repeat("é", 128)), ok, ""},
		{"client_user_id of 128 four-byte characters", clientID(strings.Repeat("🏦", 128)), ok, ""},
		{"client_user_id empty", clientID(""), []string{f}, "client_user_id"},
		{"client_user_id blank", clientID("   "), []string{f}, "client_user_id"},
		{"client_user_id of 129 characters", clientID(strings.Repeat("b", 129)), []string{f}, "129"},
		{"client_user_id of 129 two-byte characters", clientID(strings.Repeat("é", 129)), []string{f}, "129"},
		{"client_user_id with a NUL", clientID("abc\x00def"), []string{f}, "U+0000"},
		{"client_user_id not UTF-8", clientID("abc\xff\xfe"), []string{f}, "UTF-8"},
		{"client_user_id refused with a full identity", func(in *models.EndUserInput) { in.ClientUserID = "" }, []string{f}, ""},

		{"full identity", identity(func(*models.Identity) {}), ok, ""},
		{"first name missing", identity(func(id *models.Identity) { id.FirstName = " " }), []string{models.FieldFirstName}, "first name"},
		{"last name missing", identity(func(id *models.Identity) { id.LastName = "" }), []string{models.FieldLastName}, "last name"},
		{"first name of 201 characters", identity(func(id *models.Identity) { id.FirstName = strings.Repeat("é", 201) }), []string{models.FieldFirstName}, "200"},
		{"names of 200 characters", identity(func(id *models.Identity) {
			id.FirstName, id.LastName = strings.Repeat("ñ", 200), strings.Repeat("z", 200)
		}), ok, ""},

		// Phone numbers: E.164, at least one, at most 10.
		{"phone E.164", phones("+13125551212"), ok, ""},
		{"phone E.164 from the UK and Chicago", phones("+442071838750", "+13125551212"), ok, ""},
		{"phone with spaces around", phones("  +13125551212  "), ok, ""},
		{"phone without +", phones("3125551212"), []string{models.FieldPhoneNumbers}, "E.164"},
		{"phone with inner spaces", phones("+1 312 555 1212"), []string{models.FieldPhoneNumbers}, "E.164"},
		{"phone with dashes", phones("+1-312-555-1212"), []string{models.FieldPhoneNumbers}, "E.164"},
		{"phone with country code 0", phones("+0123"), []string{models.FieldPhoneNumbers}, "E.164"},
		{"phone of 16 digits", phones("+1234567890123456"), []string{models.FieldPhoneNumbers}, "E.164"},
		{"phone with a letter", phones("+1312555121a"), []string{models.FieldPhoneNumbers}, "E.164"},
		{"second phone bad", phones("+13125551212", "555-1212"), []string{models.FieldPhoneNumbers}, "555-1212"},
		{"no phone", phones(), []string{models.FieldPhoneNumbers}, "at least one"},
		{"only blank phones", phones(" ", ""), []string{models.FieldPhoneNumbers}, "at least one"},
		{"eleven phones", phones(elevenPhones...), []string{models.FieldPhoneNumbers}, "at most"},

		// Emails.
		{"email", emails("carmy@example.com"), ok, ""},
		{"email with capitals and spaces", emails(" Carmy@Example.COM "), ok, ""},
		{"email plus-addressed", emails("carmy+beef@sub.example.co.uk"), ok, ""},
		{"email without @", emails("carmy"), []string{models.FieldEmails}, "email"},
		{"email without a dot in the domain", emails("carmy@example"), []string{models.FieldEmails}, "email"},
		{"email with two @", emails("carmy@@example.com"), []string{models.FieldEmails}, "email"},
		{"email with a display name", emails("Carmy <carmy@example.com>"), []string{models.FieldEmails}, "email"},
		{"email with a space inside", emails("car my@example.com"), []string{models.FieldEmails}, "email"},
		{"second email bad", emails("carmy@example.com", "bear"), []string{models.FieldEmails}, "bear"},
		{"no email", emails(), []string{models.FieldEmails}, "at least one"},
		{"eleven emails", emails(elevenEmails...), []string{models.FieldEmails}, "at most"},

		// SSN: ddd-dd-dddd or exactly 4 digits, never both, or none.
		{"ssn_full", ssnFull("123-45-6789"), ok, ""},
		{"no ssn", ssnFull(""), ok, ""},
		{"ssn_full without dashes", ssnFull("123456789"), []string{models.FieldSSNFull}, "ddd-dd-dddd"},
		{"ssn_full too short", ssnFull("123-45-678"), []string{models.FieldSSNFull}, "ddd-dd-dddd"},
		{"ssn_full grouped wrong", ssnFull("1234-5-6789"), []string{models.FieldSSNFull}, "ddd-dd-dddd"},
		{"ssn_full with letters", ssnFull("abc-de-fghi"), []string{models.FieldSSNFull}, "ddd-dd-dddd"},
		{"ssn_full with full-width digits", ssnFull("１２３-45-6789"), []string{models.FieldSSNFull}, "ddd-dd-dddd"},
		{"ssn_last_4", ssnLast4("6789"), ok, ""},
		{"ssn_last_4 of 3 digits", ssnLast4("678"), []string{models.FieldSSNLast4}, "4 digits"},
		{"ssn_last_4 of 5 digits", ssnLast4("67890"), []string{models.FieldSSNLast4}, "4 digits"},
		{"ssn_last_4 with a letter", ssnLast4("67a9"), []string{models.FieldSSNLast4}, "4 digits"},
		{"ssn_last_4 with a dash", ssnLast4("-789"), []string{models.FieldSSNLast4}, "4 digits"},
		{"both ssn forms", identity(func(id *models.Identity) { id.SSNFull, id.SSNLast4 = "123-45-6789", "6789" }),
			[]string{models.FieldSSNFull, models.FieldSSNLast4}, "not both"},

		// Date of birth: a real, past date written YYYY-MM-DD.
		{"birth date", birth("1987-01-31"), ok, ""},
		{"birth date yesterday", birth(day(-1)), ok, ""},
		{"birth date on a leap day", birth("2000-02-29"), ok, ""},
		{"no birth date", birth(""), ok, ""},
		{"birth date February 30", birth("2023-02-30"), []string{models.FieldDateOfBirth}, "real date"},
		{"birth date February 29 of a common year", birth("2023-02-29"), []string{models.FieldDateOfBirth}, "real date"},
		{"birth date month 13", birth("2023-13-01"), []string{models.FieldDateOfBirth}, "real date"},
		{"birth date two-digit year", birth("87-01-31"), []string{models.FieldDateOfBirth}, "YYYY-MM-DD"},
		{"birth date unpadded", birth("1987-1-31"), []string{models.FieldDateOfBirth}, "YYYY-MM-DD"},
		{"birth date day first", birth("31/01/1987"), []string{models.FieldDateOfBirth}, "YYYY-MM-DD"},
		{"birth date with a time", birth("1987-01-31T00:00:00Z"), []string{models.FieldDateOfBirth}, "YYYY-MM-DD"},
		{"birth date today", birth(day(0)), []string{models.FieldDateOfBirth}, "past"},
		{"birth date tomorrow", birth(day(1)), []string{models.FieldDateOfBirth}, "past"},
		{"birth date next year", birth(day(365)), []string{models.FieldDateOfBirth}, "past"},
		{"birth date before 1900", birth("1899-12-31"), []string{models.FieldDateOfBirth}, "1900"},

		// Address: complete, country ISO 3166-1 alpha-2, and US.
		{"street missing", address(func(a *models.Address) { a.Street = "" }), []string{models.FieldStreet}, "street"},
		{"city missing", address(func(a *models.Address) { a.City = "  " }), []string{models.FieldCity}, "city"},
		{"region missing", address(func(a *models.Address) { a.Region = "" }), []string{models.FieldRegion}, "state"},
		{"postal code missing", address(func(a *models.Address) { a.PostalCode = "" }), []string{models.FieldPostalCode}, "ZIP code"},
		{"country missing", address(func(a *models.Address) { a.Country = "" }), []string{models.FieldCountry}, "country"},
		{"address missing entirely", address(func(a *models.Address) { *a = models.Address{} }),
			[]string{models.FieldStreet, models.FieldCity, models.FieldRegion, models.FieldPostalCode, models.FieldCountry}, "street"},
		{"country lower-case us", address(func(a *models.Address) { a.Country = "us" }), ok, ""},
		{"country ZZ", address(func(a *models.Address) { a.Country = "ZZ" }), []string{models.FieldCountry}, "ISO 3166"},
		{"country USA", address(func(a *models.Address) { a.Country = "USA" }), []string{models.FieldCountry}, "ISO 3166"},
		{"country FR", address(func(a *models.Address) { a.Country = "FR" }), []string{models.FieldCountry}, "US-based"},
		{"country CA", address(func(a *models.Address) { a.Country = "ca" }), []string{models.FieldCountry}, "US-based"},
		{"region DC", address(func(a *models.Address) { a.Region = "DC" }), ok, ""},
		{"region lower-case il", address(func(a *models.Address) { a.Region = " il " }), ok, ""},
		{"region Puerto Rico", address(func(a *models.Address) { a.Region = "PR" }), ok, ""},
		{"region spelled out", address(func(a *models.Address) { a.Region = "Illinois" }), []string{models.FieldRegion}, "state code"},
		{"region not a state", address(func(a *models.Address) { a.Region = "ZZ" }), []string{models.FieldRegion}, "state code"},
		{"ZIP+4", address(func(a *models.Address) { a.PostalCode = "60657-1234" }), ok, ""},
		{"ZIP of 4 digits", address(func(a *models.Address) { a.PostalCode = "6065" }), []string{models.FieldPostalCode}, "ZIP"},
		{"ZIP of 9 digits without a hyphen", address(func(a *models.Address) { a.PostalCode = "606571234" }), []string{models.FieldPostalCode}, "ZIP"},
		{"ZIP in letters", address(func(a *models.Address) { a.PostalCode = "SW1A 1AA" }), []string{models.FieldPostalCode}, "ZIP"},
		{"ZIP in Arabic-Indic digits", address(func(a *models.Address) { a.PostalCode = "٦٠٦٥٧" }), []string{models.FieldPostalCode}, "ZIP"},

		{"several fields at once", identity(func(id *models.Identity) {
			id.FirstName, id.PhoneNumbers, id.DateOfBirth, id.Address.Country = "", []string{"312"}, "1987-02-30", "FR"
		}), []string{models.FieldFirstName, models.FieldPhoneNumbers, models.FieldDateOfBirth, models.FieldCountry}, ""},
	}
}

func TestCreateEndUser_ValidatesEachRule(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		accepted := 0
		for i, tc := range validationCases(models.Now()) {
			in := models.EndUserInput{ClientUserID: fmt.Sprintf("validation-%d", i), Identity: carmen()}
			tc.change(&in)
			before := snapshot(t, db)
			c, err := db.CreateEndUser(ctx, adminOrigin, in)
			if tc.fields == nil {
				if err != nil {
					t.Errorf("%s: refused: %v", tc.name, err)
					continue
				}
				accepted++
				if c.User.ClientUserID != in.ClientUserID || c.User.HasIdentity != (in.Identity != nil) {
					t.Errorf("%s: created %q with identity %v", tc.name, c.User.ClientUserID, c.User.HasIdentity)
				}
				continue
			}
			if err == nil {
				t.Errorf("%s: accepted, want %v refused", tc.name, tc.fields)
				continue
			}
			e := domainError(t, err, models.KindInvalid)
			got := make([]string, 0, len(e.Fields))
			for k := range e.Fields {
				got = append(got, k)
			}
			sort.Strings(got)
			want := append([]string(nil), tc.fields...)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: messages on %v, want on %v (%v)", tc.name, got, want, e.Fields)
			}
			if msg := e.Fields[tc.fields[0]]; tc.msg != "" && !strings.Contains(msg, tc.msg) {
				t.Errorf("%s: %s message %q does not mention %q", tc.name, tc.fields[0], msg, tc.msg)
			}
			assertUnchanged(t, db, before, tc.name)
		}
		if n := len(entriesWithAction(t, db, "user.create")); n != accepted {
			t.Errorf("%d user.create entries for %d accepted creates", n, accepted)
		}
		if n := countRows(t, db, "end_users"); n != int64(accepted) {
			t.Errorf("%d end_users rows for %d accepted creates", n, accepted)
		}
	})
}

func TestUpdateEndUser_ValidatesLikeCreate(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "validated-update", carmen())
		for _, tc := range validationCases(models.Now()) {
			in := models.EndUserInput{ClientUserID: "validated-update", Identity: carmen()}
			tc.change(&in)
			if tc.fields == nil || in.Identity == nil || in.ClientUserID != "validated-update" {
				continue // accepted, or a rule about client_user_id, which an update does not take
			}
			before := snapshot(t, db)
			_, err := db.UpdateEndUser(ctx, adminOrigin, c.User.ID, 1, in.Identity)
			if err == nil {
				t.Errorf("%s: update accepted", tc.name)
				continue
			}
			if e := domainError(t, err, models.KindInvalid); e.Fields[tc.fields[0]] == "" {
				t.Errorf("%s: messages %v, want one on %s", tc.name, e.Fields, tc.fields[0])
			}
			assertUnchanged(t, db, before, tc.name)
		}
		if u := reloadUser(t, db, c.User.ID); u.Version != 1 {
			t.Errorf("version %d after refused updates", u.Version)
		}
	})
}
