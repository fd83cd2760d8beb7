package models_test

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// The end user, item and field-cipher tests run in parallel (t.Parallel):
// each has a database of its own. The races that hold many connections at
// once stay sequential, so parallel runs stay well under PostgreSQL's
// connection limit.

// adminOrigin is a signed-in admin acting from the portal.
var adminOrigin = models.Origin{Actor: models.Actor{Type: models.ActorMember, ID: "0123456789abcdef01234567"},
	RequestID: "req-users", IP: "192.0.2.7", UserAgent: "models-test"}

// carmen is the seed's consumer-report identity, with a full SSN instead
// of the last 4 so that the sealed value is the most sensitive one.
func carmen() *models.Identity {
	return &models.Identity{
		FirstName: "Carmen", LastName: "Berzatto",
		PhoneNumbers: []string{"+13125551212"},
		Emails:       []string{"carmy@example.com", "bear@example.com"},
		SSNFull:      "123-45-6789", DateOfBirth: "1987-01-31",
		Address: models.Address{Street: "3200 W Armitage Ave", City: "Chicago", Region: "IL",
			PostalCode: "60657", Country: "US"},
	}
}

// personalValues are carmen's values that must never be stored in clear
// outside the identity columns, nor in any audit diff.
var personalValues = []string{"123-45-6789", "123456789", "1987-01-31", "Carmen", "Berzatto", "carmen", "berzatto",
	"+13125551212", "3125551212", "carmy@example.com", "bear@example.com", "3200 W Armitage", "60657"}

func createUser(t testing.TB, db *models.DB, clientUserID string, ident *models.Identity) *models.Created {
	t.Helper()
	c, err := db.CreateEndUser(ctx, adminOrigin, models.EndUserInput{ClientUserID: clientUserID, Identity: ident})
	if err != nil {
		t.Fatalf("create end user %q: %v", clientUserID, err)
	}
	return c
}

func reloadUser(t testing.TB, db *models.DB, id int64) *models.EndUser {
	t.Helper()
	u, err := db.EndUserByID(ctx, id)
	if err != nil {
		t.Fatalf("load end user %d: %v", id, err)
	}
	return u
}

func openIdentity(t testing.TB, db *models.DB, u *models.EndUser) *models.Identity {
	t.Helper()
	id, err := db.Identity(u)
	if err != nil {
		t.Fatalf("open identity of %d: %v", u.ID, err)
	}
	return id
}

// domainError asserts err is a *models.Error of kind k and returns it.
func domainError(t testing.TB, err error, k models.Kind) *models.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error of kind %d, got none", k)
	}
	var e *models.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *models.Error of kind %d, got %T: %v", k, err, err)
	}
	if models.ErrorKind(err) != k {
		t.Fatalf("want kind %d, got %d: %v", k, e.Kind, err)
	}
	return e
}

// rawRows reads a table as the database holds it, one map per row.
func rawRows(t testing.TB, db *models.DB, query string, args ...any) []map[string]any {
	t.Helper()
	var rows []map[string]any
	if err := db.Gorm().Raw(query, args...).Scan(&rows).Error; err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return rows
}

// text renders a raw column value as the text a reader of the database sees.
func text(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(t)
	case string:
		return t
	}
	return fmt.Sprint(v)
}

// dbState is what a refused write must leave exactly as it was.
type dbState struct {
	users, items, entries int64
	headSeq               int64
	headHash              string
}

func snapshot(t testing.TB, db *models.DB) dbState {
	t.Helper()
	h := head(t, db)
	return dbState{users: countRows(t, db, "end_users"), items: countRows(t, db, "items"),
		entries: countRows(t, db, "audit_entries"), headSeq: h.Seq, headHash: h.Hash}
}

func assertUnchanged(t testing.TB, db *models.DB, before dbState, what string) {
	t.Helper()
	if after := snapshot(t, db); after != before {
		t.Errorf("%s wrote something: before %+v, after %+v", what, before, after)
	}
}

func TestCreateEndUser_ClientUserIDIsRefusedWhileTaken(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		first := createUser(t, db, "c0e2c4ee-b763-4af5-cfe9-46a46bce883d", carmen())
		before := snapshot(t, db)
		_, err := db.CreateEndUser(ctx, adminOrigin, models.EndUserInput{ClientUserID: "c0e2c4ee-b763-4af5-cfe9-46a46bce883d"})
		e := domainError(t, err, models.KindConflict)
		if msg := e.Fields[models.FieldClientUserID]; !strings.Contains(msg, "already used") {
			t.Errorf("client_user_id message = %q, want it to say the id is already used", msg)
		}
		assertUnchanged(t, db, before, "a duplicate create")
		// The same id with different case or spacing is a different id.
		createUser(t, db, "C0E2C4EE-B763-4AF5-CFE9-46A46BCE883D", nil)
		if n := len(entriesWithAction(t, db, "user.create")); n != 2 {
			t.Errorf("%d user.create entries, want 2", n)
		}
		if u := reloadUser(t, db, first.User.ID); u.ClientUserID != "c0e2c4ee-b763-4af5-cfe9-46a46bce883d" {
			t.Errorf("first user's client_user_id became %q", u.ClientUserID)
		}
	})
}

func TestCreateEndUser_ClientUserIDOfRemovedUserIsNeverReused(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "gone-forever", carmen())
		if err := db.RemoveEndUser(ctx, adminOrigin, c.User.ID, "gone-forever"); err != nil {
			t.Fatalf("remove: %v", err)
		}
		before := snapshot(t, db)
		_, err := db.CreateEndUser(ctx, adminOrigin, models.EndUserInput{ClientUserID: "gone-forever", Identity: carmen()})
		e := domainError(t, err, models.KindConflict)
		msg := e.Fields[models.FieldClientUserID]
		if !strings.Contains(msg, "removed") {
			t.Errorf("client_user_id message = %q, want it to say the id belonged to a removed user", msg)
		}
		assertUnchanged(t, db, before, "reusing a removed user's client_user_id")
	})
}

// warmPool opens n connections at once and leaves them idle, so that
// goroutines started next race each other instead of queuing behind
// connection setup.
func warmPool(t testing.TB, db *models.DB, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := db.Gorm().Exec("SELECT pg_sleep(0.05)").Error; err != nil {
				t.Errorf("warm pool: %v", err)
			}
		}()
	}
	wg.Wait()
}

// race runs fn(i) for i < n, all released at once, and returns the errors.
func race(n int, fn func(i int) error) []error {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}(i)
	}
	close(start)
	wg.Wait()
	return errs
}

func TestCreateEndUser_ConcurrentCreatesOfOneClientUserIDOnPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	const n = 20
	warmPool(t, db, n)
	// Several rounds: each is one race of n creates of a fresh id.
	const rounds = 3
	for r := 0; r < rounds; r++ {
		id := fmt.Sprintf("same-id-%d", r)
		errs := race(n, func(int) error {
			_, err := db.CreateEndUser(ctx, adminOrigin, models.EndUserInput{ClientUserID: id, Identity: carmen()})
			return err
		})
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
				continue
			}
			var e *models.Error
			if !errors.As(err, &e) || e.Kind != models.KindConflict || e.Fields[models.FieldClientUserID] == "" {
				t.Errorf("round %d, create %d: want a conflict on client_user_id, got %T: %v", r, i, err, err)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d creates succeeded, want exactly 1", r, ok)
		}
	}
	if got := countRows(t, db, "end_users"); got != rounds {
		t.Errorf("%d end_users rows, want %d", got, rounds)
	}
	es := entriesWithAction(t, db, "user.create")
	if len(es) != rounds {
		t.Errorf("%d user.create entries, want %d", len(es), rounds)
	}
	if h := head(t, db); h.Seq != int64(len(entries(t, db))) {
		t.Errorf("chain head at seq %d with %d entries", h.Seq, len(entries(t, db)))
	}
}

var (
	userTokenPattern = regexp.MustCompile(`^user-sandbox-([0-9a-f-]{36})$`)
	userIDPattern    = regexp.MustCompile(`^[0-9A-Za-z]{29}$`)
)

func TestCreateEndUser_TokenIsReturnedOnceAndStoredAsItsHash(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "token-owner", carmen())
		m := userTokenPattern.FindStringSubmatch(c.UserToken)
		if m == nil {
			t.Fatalf("user_token %q is not user-sandbox-<uuid>", c.UserToken)
		}
		if _, err := uuid.Parse(m[1]); err != nil {
			t.Errorf("user_token %q does not end in a uuid: %v", c.UserToken, err)
		}
		rows := rawRows(t, db, "SELECT * FROM end_users WHERE id = ?", c.User.ID)
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		if got := text(rows[0]["user_token_hash"]); got != models.HashToken(c.UserToken) {
			t.Errorf("user_token_hash = %q, want the SHA-256 of the token", got)
		}
		for col, v := range rows[0] {
			if strings.Contains(text(v), m[1]) {
				t.Errorf("column %s holds the user_token in clear: %q", col, text(v))
			}
		}
		for _, e := range entries(t, db) {
			if strings.Contains(e.Diff, m[1]) {
				t.Errorf("audit entry %d (%s) holds the user_token: %s", e.Seq, e.Action, e.Diff)
			}
		}
		found, err := db.EndUserByToken(ctx, c.UserToken)
		if err != nil || found.ID != c.User.ID {
			t.Fatalf("EndUserByToken = %+v, %v; want user %d", found, err, c.User.ID)
		}
		_, err = db.EndUserByToken(ctx, "user-sandbox-"+uuid.NewString())
		domainError(t, err, models.KindNotFound)
	})
}

func TestCreateEndUser_UserIDsAreOpaqueBase62AndUnique(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		seen := map[string]bool{}
		tokens := map[string]bool{}
		for i := 0; i < 25; i++ {
			c := createUser(t, db, fmt.Sprintf("uid-%d", i), nil)
			if !userIDPattern.MatchString(c.User.UserID) {
				t.Errorf("user_id %q is not 29 base62 characters", c.User.UserID)
			}
			if seen[c.User.UserID] || tokens[c.UserToken] {
				t.Errorf("user_id %q or its token repeats", c.User.UserID)
			}
			seen[c.User.UserID], tokens[c.UserToken] = true, true
			if c.User.Version != 1 || c.User.Removed() || c.User.CreatedAt.IsZero() {
				t.Errorf("new user = version %d removed %v created %v", c.User.Version, c.User.Removed(), c.User.CreatedAt)
			}
			byUID, err := db.EndUserByUserID(ctx, c.User.UserID)
			if err != nil || byUID.ID != c.User.ID {
				t.Errorf("EndUserByUserID(%q) = %v, %v", c.User.UserID, byUID, err)
			}
		}
	})
}

func TestCreateEndUser_WithoutIdentityHasNone(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		for i, ident := range []*models.Identity{nil, {}, {PhoneNumbers: []string{}, Emails: []string{}}} {
			c := createUser(t, db, fmt.Sprintf("bare-%d", i), ident)
			u := reloadUser(t, db, c.User.ID)
			if u.HasIdentity || u.SSNCipher != "" || u.DOBCipher != "" || u.PIIKeyID != "" || u.SearchText != "" {
				t.Errorf("identity-less user %d stored an identity: %+v", i, u)
			}
			if id := openIdentity(t, db, u); id != nil {
				t.Errorf("identity-less user %d opens to %+v", i, id)
			}
			// Such a user is returned as inserted, not read back: it
			// must be the stored row exactly (compared as printed, so a
			// time's location pointer does not count).
			if fmt.Sprintf("%+v", c.User) != fmt.Sprintf("%+v", u) {
				t.Errorf("identity-less user %d returned as\n%+v\nstored as\n%+v", i, c.User, u)
			}
		}
	})
}

func TestCreateEndUser_StoresTheNormalizedIdentity(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		in := &models.Identity{FirstName: "  Carmen ", LastName: "Berzatto ",
			PhoneNumbers: []string{" +13125551212 ", ""}, Emails: []string{" Carmy@Example.COM ", "", "bear@example.com"},
			SSNLast4: " 1234 ", DateOfBirth: " 1987-01-31 ",
			Address: models.Address{Street: " 3200 W Armitage Ave ", City: " Chicago", Region: "IL ", PostalCode: " 60657", Country: " us "}}
		c := createUser(t, db, "normalized", in)
		got := openIdentity(t, db, reloadUser(t, db, c.User.ID))
		want := &models.Identity{FirstName: "Carmen", LastName: "Berzatto",
			PhoneNumbers: []string{"+13125551212"}, Emails: []string{"carmy@example.com", "bear@example.com"},
			SSNLast4: "1234", DateOfBirth: "1987-01-31",
			Address: models.Address{Street: "3200 W Armitage Ave", City: "Chicago", Region: "IL", PostalCode: "60657", Country: "US"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("stored identity\n got %+v\nwant %+v", got, want)
		}
		if u := reloadUser(t, db, c.User.ID); u.SSNKind != "last4" || !u.HasIdentity {
			t.Errorf("ssn_kind %q has_identity %v", u.SSNKind, u.HasIdentity)
		}
	})
}

// ssnLooking finds anything shaped like carmen's SSN, with or without dashes.
var ssnLooking = regexp.MustCompile(`[0-9]{3}-?[0-9]{2}-?6789`)

func TestEndUser_SSNAndBirthDateAreSealedAtRest(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "sealed", carmen())
		rows := rawRows(t, db, "SELECT * FROM end_users")
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		for col, v := range rows[0] {
			s := text(v)
			for _, bad := range []string{"123-45-6789", "123456789", "1987-01-31", "19870131", "1987-01"} {
				if strings.Contains(s, bad) {
					t.Errorf("column %s holds %q in clear: %q", col, bad, s)
				}
			}
			if ssnLooking.MatchString(s) {
				t.Errorf("column %s holds an SSN-looking value: %q", col, s)
			}
		}
		row := rows[0]
		if text(row["ssn_cipher"]) == "" || text(row["dob_cipher"]) == "" {
			t.Fatalf("ssn_cipher %q dob_cipher %q: nothing sealed", text(row["ssn_cipher"]), text(row["dob_cipher"]))
		}
		if got := text(row["pii_key_id"]); got != models.KeyID(testdb.FieldKey) {
			t.Errorf("pii_key_id = %q, want the test key's id %q", got, models.KeyID(testdb.FieldKey))
		}
		if text(row["ssn_kind"]) != "full" {
			t.Errorf("ssn_kind = %q", text(row["ssn_kind"]))
		}
		id := openIdentity(t, db, reloadUser(t, db, c.User.ID))
		if id.SSNFull != "123-45-6789" || id.SSNLast4 != "" || id.DateOfBirth != "1987-01-31" {
			t.Errorf("opened ssn_full %q ssn_last_4 %q date_of_birth %q", id.SSNFull, id.SSNLast4, id.DateOfBirth)
		}
		if !reflect.DeepEqual(id, carmen()) {
			t.Errorf("identity round trip\n got %+v\nwant %+v", id, carmen())
		}
	})
}

// assertNoPersonalValues checks every audit diff, as stored, for carmen's
// personal values.
func assertNoPersonalValues(t *testing.T, db *models.DB, extra ...string) {
	t.Helper()
	for _, row := range rawRows(t, db, "SELECT seq, action, diff, reason FROM audit_entries ORDER BY seq") {
		for _, col := range []string{"diff", "reason"} {
			s := text(row[col])
			for _, v := range append(append([]string{}, personalValues...), extra...) {
				if strings.Contains(s, v) {
					t.Errorf("audit entry %v (%v) %s holds %q: %s", row["seq"], text(row["action"]), col, v, s)
				}
			}
			if ssnLooking.MatchString(s) {
				t.Errorf("audit entry %v (%v) %s holds an SSN-looking value: %s", row["seq"], text(row["action"]), col, s)
			}
		}
	}
}

func TestEndUser_AuditDiffsNeverHoldPersonalValues(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "audited", carmen())
		changed := carmen()
		changed.FirstName, changed.PhoneNumbers = "Carmy", []string{"+13125550000"}
		changed.SSNFull, changed.SSNLast4, changed.DateOfBirth = "", "6789", "1988-02-29"
		if _, err := db.UpdateEndUser(ctx, adminOrigin, c.User.ID, 1, changed); err != nil {
			t.Fatalf("update: %v", err)
		}
		for _, f := range []string{models.RevealSSN, models.RevealDateOfBirth} {
			if _, err := db.RevealPII(ctx, adminOrigin, models.RoleAdmin, c.User.ID, f, "chargeback dispute #4411"); err != nil {
				t.Fatalf("reveal %s: %v", f, err)
			}
		}
		if err := db.RemoveEndUser(ctx, adminOrigin, c.User.ID, "audited"); err != nil {
			t.Fatalf("remove: %v", err)
		}
		if n := len(entries(t, db)); n != 5 {
			t.Fatalf("%d audit entries, want create, update, 2 reveals, remove", n)
		}
		assertNoPersonalValues(t, db, "Carmy", "+13125550000", "1988-02-29", `"6789"`, ":6789")
	})
}

func TestUpdateEndUser_ChangesIdentityAndAuditsOnlyChangedFields(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "to-update", carmen())
		next := carmen()
		next.LastName = "Berzatto-Jerimovich"
		next.Emails = []string{"carmy@example.com"}
		u, err := db.UpdateEndUser(ctx, adminOrigin, c.User.ID, c.User.Version, next)
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if u.Version != c.User.Version+1 {
			t.Errorf("version %d after update of version %d", u.Version, c.User.Version)
		}
		if u.UpdatedAt.Before(c.User.UpdatedAt) {
			t.Errorf("updated_at went back: %v < %v", u.UpdatedAt, c.User.UpdatedAt)
		}
		got := openIdentity(t, db, reloadUser(t, db, c.User.ID))
		if got.LastName != "Berzatto-Jerimovich" || !reflect.DeepEqual(got.Emails, []string{"carmy@example.com"}) ||
			got.SSNFull != "123-45-6789" || got.DateOfBirth != "1987-01-31" {
			t.Errorf("identity after update: %+v", got)
		}
		es := entriesWithAction(t, db, "user.update")
		if len(es) != 1 {
			t.Fatalf("%d user.update entries", len(es))
		}
		e := es[0]
		if e.TargetType != "end_user" || e.TargetID != fmt.Sprint(c.User.ID) || e.ActorID != adminOrigin.Actor.ID {
			t.Errorf("entry target %s/%s actor %s", e.TargetType, e.TargetID, e.ActorID)
		}
		d := e.DecodeDiff()
		if got, want := d.ChangedFields(), []string{"emails", "last_name"}; !reflect.DeepEqual(got, want) {
			t.Errorf("diff names %v, want %v: %s", got, want, e.Diff)
		}
		for _, side := range []map[string]any{d.Before, d.After} {
			for k, v := range side {
				if v != "[redacted]" {
					t.Errorf("diff value of %s = %v, want [redacted]", k, v)
				}
			}
		}
		for _, v := range []string{"Berzatto", "Jerimovich", "carmy@example.com", "bear@example.com"} {
			if strings.Contains(e.Diff, v) {
				t.Errorf("diff holds %q: %s", v, e.Diff)
			}
		}
	})
}

func TestUpdateEndUser_CanAddAndClearTheIdentity(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "bare-then-full", nil)
		u, err := db.UpdateEndUser(ctx, adminOrigin, c.User.ID, 1, carmen())
		if err != nil {
			t.Fatalf("add identity: %v", err)
		}
		if !u.HasIdentity || !reflect.DeepEqual(openIdentity(t, db, u), carmen()) {
			t.Errorf("identity not added: %+v", u)
		}
		u, err = db.UpdateEndUser(ctx, adminOrigin, c.User.ID, 2, nil)
		if err != nil {
			t.Fatalf("clear identity: %v", err)
		}
		if u.HasIdentity || u.SSNCipher != "" || u.DOBCipher != "" || u.FirstName != "" || len(u.Emails) != 0 ||
			u.AddressStreet != "" || u.SearchText != "" || u.Version != 3 {
			t.Errorf("identity not cleared: %+v", u)
		}
		assertNoPersonalValues(t, db)
	})
}

func TestUpdateEndUser_StaleVersionIsRefusedWithWhatChanged(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "contended", carmen())
		// Someone else renames the user first.
		theirs := carmen()
		theirs.FirstName = "Carmy"
		if _, err := db.UpdateEndUser(ctx, adminOrigin, c.User.ID, 1, theirs); err != nil {
			t.Fatalf("first update: %v", err)
		}
		before := snapshot(t, db)
		// Our form was opened at version 1 and changes the phone number.
		ours := carmen()
		ours.PhoneNumbers = []string{"+13125550000"}
		_, err := db.UpdateEndUser(ctx, adminOrigin, c.User.ID, 1, ours)
		domainError(t, err, models.KindConflict)
		var stale *models.StaleUpdateError
		if !errors.As(err, &stale) {
			t.Fatalf("error %T does not unwrap to *StaleUpdateError: %v", err, err)
		}
		if stale.Current == nil || stale.Current.ID != c.User.ID || stale.Current.Version != 2 || stale.Current.FirstName != "Carmy" {
			t.Errorf("Current = %+v, want the user at version 2", stale.Current)
		}
		if want := []string{"first_name", "phone_numbers"}; !reflect.DeepEqual(stale.Changed, want) {
			t.Errorf("Changed = %v, want %v", stale.Changed, want)
		}
		assertUnchanged(t, db, before, "a stale update")
		u := reloadUser(t, db, c.User.ID)
		if u.Version != 2 || !reflect.DeepEqual(u.PhoneNumbers, models.StringList{"+13125551212"}) || u.FirstName != "Carmy" {
			t.Errorf("user after refused update: version %d phones %v first %q", u.Version, u.PhoneNumbers, u.FirstName)
		}
	})
}

func TestUpdateEndUser_ConcurrentUpdatesOfOneVersionOnPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	const n = 10
	warmPool(t, db, n)
	for r := 0; r < 3; r++ {
		c := createUser(t, db, fmt.Sprintf("raced-%d", r), carmen())
		errs := race(n, func(i int) error {
			id := carmen()
			id.FirstName = fmt.Sprintf("Carmen%d", i)
			_, err := db.UpdateEndUser(ctx, adminOrigin, c.User.ID, 1, id)
			return err
		})
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
			} else if models.ErrorKind(err) != models.KindConflict {
				t.Errorf("update %d: want a conflict, got %v", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d of %d updates of version 1 succeeded, want 1", r, ok, n)
		}
		if u := reloadUser(t, db, c.User.ID); u.Version != 2 {
			t.Errorf("round %d: version %d, want 2", r, u.Version)
		}
	}
	if got := len(entriesWithAction(t, db, "user.update")); got != 3 {
		t.Errorf("%d user.update entries, want 3", got)
	}
}

func TestUpdateEndUser_RefusesInvalidMissingAndRemovedUsers(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "to-refuse", carmen())
		before := snapshot(t, db)
		bad := carmen()
		bad.PhoneNumbers = []string{"3125551212"}
		_, err := db.UpdateEndUser(ctx, adminOrigin, c.User.ID, 1, bad)
		if e := domainError(t, err, models.KindInvalid); e.Fields[models.FieldPhoneNumbers] == "" {
			t.Errorf("invalid update fields = %v, want phone_numbers", e.Fields)
		}
		_, err = db.UpdateEndUser(ctx, adminOrigin, c.User.ID+1000, 1, carmen())
		domainError(t, err, models.KindNotFound)
		assertUnchanged(t, db, before, "refused updates")

		if err := db.RemoveEndUser(ctx, adminOrigin, c.User.ID, "to-refuse"); err != nil {
			t.Fatal(err)
		}
		removed := reloadUser(t, db, c.User.ID)
		before = snapshot(t, db)
		_, err = db.UpdateEndUser(ctx, adminOrigin, c.User.ID, removed.Version, carmen())
		domainError(t, err, models.KindConflict)
		assertUnchanged(t, db, before, "updating a removed user")
		if u := reloadUser(t, db, c.User.ID); u.HasIdentity || u.Version != removed.Version {
			t.Errorf("removed user changed: identity %v version %d", u.HasIdentity, u.Version)
		}
	})
}

func TestRemoveEndUser_WrongConfirmationChangesNothing(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "Keep-Me", carmen())
		addItem(t, db, c.User.ID, nil, nil)
		before := snapshot(t, db)
		for _, confirm := range []string{"", "keep-me", "Keep-Me ", "Keep", fmt.Sprint(c.User.ID), c.User.UserID} {
			err := db.RemoveEndUser(ctx, adminOrigin, c.User.ID, confirm)
			if e := domainError(t, err, models.KindInvalid); e.Fields["confirm"] == "" {
				t.Errorf("confirm %q: fields %v, want a message on confirm", confirm, e.Fields)
			}
		}
		assertUnchanged(t, db, before, "removals with a wrong confirmation")
		u := reloadUser(t, db, c.User.ID)
		if u.Removed() || !u.HasIdentity || u.ItemCount != 1 || u.Version != 1 {
			t.Errorf("user changed: %+v", u)
		}
		domainError(t, db.RemoveEndUser(ctx, adminOrigin, c.User.ID+1000, "Keep-Me"), models.KindNotFound)
	})
}

func TestRemoveEndUser_DeletesItemsErasesIdentityKeepsTombstone(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "leaving", carmen())
		other := createUser(t, db, "staying", carmen())
		for i := 0; i < 3; i++ {
			addItem(t, db, c.User.ID, nil, nil)
		}
		kept := addItem(t, db, other.User.ID, nil, nil)
		orig := reloadUser(t, db, c.User.ID)

		if err := db.RemoveEndUser(ctx, adminOrigin, c.User.ID, "leaving"); err != nil {
			t.Fatalf("remove: %v", err)
		}
		if items, _ := db.ItemsOfUser(ctx, c.User.ID); len(items) != 0 {
			t.Errorf("%d items left", len(items))
		}
		if items, _ := db.ItemsOfUser(ctx, other.User.ID); len(items) != 1 || items[0].ItemID != kept.ItemID {
			t.Errorf("other user's items: %+v", items)
		}
		u := reloadUser(t, db, c.User.ID)
		if !u.Removed() || u.RemovedAt.Before(orig.CreatedAt) {
			t.Errorf("removed_at = %v", u.RemovedAt)
		}
		if u.ID != orig.ID || u.UserID != orig.UserID || u.ClientUserID != "leaving" || !u.CreatedAt.Equal(orig.CreatedAt) {
			t.Errorf("tombstone lost its ids or created_at: %+v", u)
		}
		if u.ItemCount != 0 || u.ErrorItemCount != 0 || u.NextConsentExpiration != nil {
			t.Errorf("summary after removal: %d items, %d errors, next %v", u.ItemCount, u.ErrorItemCount, u.NextConsentExpiration)
		}
		row := rawRows(t, db, "SELECT * FROM end_users WHERE id = ?", c.User.ID)[0]
		for _, col := range []string{"first_name", "last_name", "ssn_kind", "ssn_cipher", "dob_cipher", "pii_key_id",
			"address_street", "address_city", "address_region", "address_postal_code", "address_country", "search_text"} {
			if s := text(row[col]); s != "" {
				t.Errorf("%s = %q after removal", col, s)
			}
		}
		for _, col := range []string{"phone_numbers", "emails"} {
			if s := text(row[col]); s != "[]" {
				t.Errorf("%s = %q after removal", col, s)
			}
		}
		if u.HasIdentity {
			t.Error("has_identity still true")
		}
		if id := openIdentity(t, db, u); id != nil {
			t.Errorf("tombstone opens to %+v", id)
		}
		if _, err := db.EndUserByToken(ctx, c.UserToken); models.ErrorKind(err) != models.KindNotFound {
			t.Errorf("token of a removed user: %v, want not found", err)
		}
		if found, err := db.EndUserByToken(ctx, other.UserToken); err != nil || found.ID != other.User.ID {
			t.Errorf("other user's token: %v", err)
		}
		es := entriesWithAction(t, db, "user.remove")
		if len(es) != 1 || es[0].TargetID != fmt.Sprint(c.User.ID) {
			t.Fatalf("user.remove entries: %+v", es)
		}
		if d := es[0].DecodeDiff(); fmt.Sprint(d.After["items_deleted"]) != "3" || d.After["removed"] != true {
			t.Errorf("user.remove diff: %s", es[0].Diff)
		}

		before := snapshot(t, db)
		domainError(t, db.RemoveEndUser(ctx, adminOrigin, c.User.ID, "leaving"), models.KindConflict)
		assertUnchanged(t, db, before, "removing twice")
	})
}

func TestRevealPII_RequiresAReasonOfTenCharacters(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "private", carmen())
		before := snapshot(t, db)
		for _, reason := range []string{"", "         ", "why not", "123456789", "   123456789   "} {
			v, err := db.RevealPII(ctx, adminOrigin, models.RoleAdmin, c.User.ID, models.RevealSSN, reason)
			e := domainError(t, err, models.KindInvalid)
			if e.Fields["reason"] == "" {
				t.Errorf("reason %q: fields %v, want a message on reason", reason, e.Fields)
			}
			if v != "" {
				t.Errorf("reason %q revealed %q", reason, v)
			}
		}
		_, err := db.RevealPII(ctx, adminOrigin, models.RoleAdmin, c.User.ID, "first_name", "legitimate compliance review")
		domainError(t, err, models.KindInvalid)
		assertUnchanged(t, db, before, "refused reveals")
	})
}

func TestRevealPII_ReturnsValueAndAuditsReasonNotValue(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "revealed", carmen())
		last4 := carmen()
		last4.SSNFull, last4.SSNLast4 = "", "4321"
		c4 := createUser(t, db, "revealed-last4", last4)
		cases := []struct {
			id            int64
			field, reason string
			want          string
		}{
			{c.User.ID, models.RevealSSN, "KYC escalation ticket 981", "123-45-6789"},
			{c.User.ID, models.RevealDateOfBirth, "  identity check by phone  ", "1987-01-31"},
			{c4.User.ID, models.RevealSSN, "ten chars!", "4321"},
		}
		for _, tc := range cases {
			n := len(entries(t, db))
			got, err := db.RevealPII(ctx, adminOrigin, models.RoleAdmin, tc.id, tc.field, tc.reason)
			if err != nil || got != tc.want {
				t.Errorf("reveal %s of %d = %q, %v; want %q", tc.field, tc.id, got, err, tc.want)
				continue
			}
			es := entries(t, db)
			if len(es) != n+1 {
				t.Fatalf("%d entries written by one reveal", len(es)-n)
			}
			e := es[len(es)-1]
			if e.Action != "user.pii_reveal" || e.TargetID != fmt.Sprint(tc.id) || e.ActorID != adminOrigin.Actor.ID {
				t.Errorf("entry %s %s/%s by %s", e.Action, e.TargetType, e.TargetID, e.ActorID)
			}
			if e.Reason != strings.TrimSpace(tc.reason) {
				t.Errorf("reason %q, want %q", e.Reason, strings.TrimSpace(tc.reason))
			}
			if !strings.Contains(e.Diff, tc.field) || strings.Contains(e.Diff, tc.want) {
				t.Errorf("diff %s: want the field %s named and its value absent", e.Diff, tc.field)
			}
		}
		if n := len(entriesWithAction(t, db, "user.pii_reveal")); n != 3 {
			t.Errorf("%d user.pii_reveal entries, want 3", n)
		}
	})
}

func TestRevealPII_NothingToRevealIsNotFoundAndUnaudited(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		bare := createUser(t, db, "no-identity", nil)
		noSSN := carmen()
		noSSN.SSNFull = ""
		noDOB := carmen()
		noDOB.DateOfBirth = ""
		withoutSSN := createUser(t, db, "no-ssn", noSSN)
		withoutDOB := createUser(t, db, "no-dob", noDOB)
		removed := createUser(t, db, "removed", carmen())
		if err := db.RemoveEndUser(ctx, adminOrigin, removed.User.ID, "removed"); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, db)
		for _, tc := range []struct {
			id    int64
			field string
		}{
			{bare.User.ID, models.RevealSSN}, {bare.User.ID, models.RevealDateOfBirth},
			{withoutSSN.User.ID, models.RevealSSN}, {withoutDOB.User.ID, models.RevealDateOfBirth},
			{removed.User.ID, models.RevealSSN}, {removed.User.ID + 1000, models.RevealSSN},
		} {
			v, err := db.RevealPII(ctx, adminOrigin, models.RoleAdmin, tc.id, tc.field, "routine compliance sample")
			domainError(t, err, models.KindNotFound)
			if v != "" {
				t.Errorf("revealed %q", v)
			}
		}
		assertUnchanged(t, db, before, "reveals with nothing to reveal")
		if v, err := db.RevealPII(ctx, adminOrigin, models.RoleAdmin, withoutSSN.User.ID, models.RevealDateOfBirth, "routine compliance sample"); err != nil || v != "1987-01-31" {
			t.Errorf("date of birth of the user without SSN: %q, %v", v, err)
		}
	})
}

func TestRotateUserToken_OldTokenStopsWorking(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "rotating", nil)
		tok, err := db.RotateUserToken(ctx, adminOrigin, c.User.ID)
		if err != nil {
			t.Fatalf("rotate: %v", err)
		}
		if tok == c.UserToken || !userTokenPattern.MatchString(tok) {
			t.Errorf("new token %q (old %q)", tok, c.UserToken)
		}
		if _, err := db.EndUserByToken(ctx, c.UserToken); models.ErrorKind(err) != models.KindNotFound {
			t.Errorf("old token still works: %v", err)
		}
		if u, err := db.EndUserByToken(ctx, tok); err != nil || u.ID != c.User.ID {
			t.Errorf("new token: %v", err)
		}
		es := entriesWithAction(t, db, "user.token_rotate")
		if len(es) != 1 || strings.Contains(es[0].Diff, strings.TrimPrefix(tok, "user-sandbox-")) {
			t.Errorf("token_rotate entries: %+v", es)
		}
	})
}

// sortedIDs returns the users' ids in ascending order.
func sortedIDs(us []models.EndUser) []int64 {
	out := make([]int64, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func TestUpdateEndUserKeeping_KeepsSealedValuesTheFormDidNotCarry(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "kept", carmen())
		// A form never carries the clear SSN or date of birth back.
		form := carmen()
		form.SSNFull, form.DateOfBirth, form.Address.City = "", "", "Evanston"
		u, _, err := db.UpdateEndUserKeeping(ctx, adminOrigin, c.User.ID, 1, form, models.KeepPII{SSN: true, DateOfBirth: true})
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		got := openIdentity(t, db, u)
		if got.SSNFull != "123-45-6789" || got.DateOfBirth != "1987-01-31" || got.Address.City != "Evanston" {
			t.Errorf("after keeping update: ssn %q dob %q city %q", got.SSNFull, got.DateOfBirth, got.Address.City)
		}
		es := entriesWithAction(t, db, "user.update")
		if len(es) != 1 {
			t.Fatalf("%d user.update entries", len(es))
		}
		if fields := es[0].DecodeDiff().ChangedFields(); !reflect.DeepEqual(fields, []string{"city"}) {
			t.Errorf("diff names %v, want only city: %s", fields, es[0].Diff)
		}
		// Not keeping them clears them, and the diff says so.
		form = carmen()
		form.SSNFull, form.DateOfBirth, form.Address.City = "", "", "Evanston"
		u, _, err = db.UpdateEndUserKeeping(ctx, adminOrigin, c.User.ID, 2, form, models.KeepPII{})
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if got := openIdentity(t, db, u); got.SSNFull != "" || got.DateOfBirth != "" || u.SSNCipher != "" || u.DOBCipher != "" {
			t.Errorf("values not cleared: %+v", got)
		}
		es = entriesWithAction(t, db, "user.update")
		if fields := es[1].DecodeDiff().ChangedFields(); !reflect.DeepEqual(fields, []string{"date_of_birth", "ssn"}) {
			t.Errorf("diff names %v, want date_of_birth and ssn: %s", fields, es[1].Diff)
		}
		assertNoPersonalValues(t, db)
	})
}

func TestUpdateEndUserKeeping_SameIdentityWritesNothing(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "unchanged", carmen())
		before := len(entries(t, db))
		// The form sends back what it showed: no clear SSN or date of birth.
		form := carmen()
		form.SSNFull, form.DateOfBirth = "", ""
		u, changed, err := db.UpdateEndUserKeeping(ctx, adminOrigin, c.User.ID, 1, form, models.KeepPII{SSN: true, DateOfBirth: true})
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if changed {
			t.Error("an identity equal to the stored one reports a change")
		}
		if u.Version != 1 {
			t.Errorf("version %d, want 1: nothing was written", u.Version)
		}
		if n := len(entries(t, db)); n != before {
			t.Errorf("%d audit entries after saving no change, want %d", n, before)
		}
		// The API's update, with the identity as stored, writes nothing either.
		if _, err := db.UpdateEndUser(ctx, adminOrigin, c.User.ID, 1, carmen()); err != nil {
			t.Fatalf("update: %v", err)
		}
		if n := len(entries(t, db)); n != before {
			t.Errorf("%d audit entries after an API update with no change, want %d", n, before)
		}
		// A real change is still written and reported.
		form.Address.City = "Evanston"
		if _, changed, err = db.UpdateEndUserKeeping(ctx, adminOrigin, c.User.ID, 1, form, models.KeepPII{SSN: true, DateOfBirth: true}); err != nil || !changed {
			t.Fatalf("update with a change: changed %v, %v", changed, err)
		}
		if es := entriesWithAction(t, db, "user.update"); len(es) != 1 {
			t.Errorf("%d user.update entries, want 1", len(es))
		}
	})
}
