package demo_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/demo"
	"ledgerdesk/models/testdb"
)

var seedOrigin = models.Origin{Actor: models.SystemActor, RequestID: "req-seed", UserAgent: "models-test"}

// seeded loads every user and item of the database, oldest first.
func seeded(t *testing.T, db *models.DB) ([]models.EndUser, []models.Item) {
	t.Helper()
	var users []models.EndUser
	if err := db.Gorm().Order("id").Find(&users).Error; err != nil {
		t.Fatal(err)
	}
	var items []models.Item
	if err := db.Gorm().Order("id").Find(&items).Error; err != nil {
		t.Fatal(err)
	}
	return users, items
}

// seedOrFail seeds as `ledgerdesk seed` does: as the tables' owner, who may
// rebuild their indexes.
func seedOrFail(t *testing.T, db *models.DB, users int, seed uint64) demo.Result {
	t.Helper()
	res, err := demo.Seed(context.Background(), testdb.Owner(t, db), seedOrigin, demo.Options{Users: users, Seed: seed}, nil)
	if err != nil {
		t.Fatalf("seed %d users: %v", users, err)
	}
	return res
}

func TestSeed_MakesRealisticConsistentData(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		res := seedOrFail(t, db, 500, 42)
		users, items := seeded(t, db)
		if res.Users != 500 || len(users) != 500 {
			t.Fatalf("seeded %d users, the table has %d; want 500", res.Users, len(users))
		}
		if res.Items != len(items) {
			t.Fatalf("the result says %d items, the table has %d", res.Items, len(items))
		}
		// 0-5 items each, about 2.5 on average.
		if avg := float64(len(items)) / 500; avg < 2.1 || avg > 2.9 {
			t.Errorf("%.2f items per user on average, want about 2.5", avg)
		}

		// The summary columns agree with the items, by the database's
		// own count and by the items read back.
		var mismatched int64
		err := db.Gorm().Raw(`SELECT COUNT(*) FROM end_users u LEFT JOIN (
				SELECT end_user_id, COUNT(*) AS n, SUM(CASE WHEN error_code IS NOT NULL THEN 1 ELSE 0 END) AS e
				FROM items GROUP BY end_user_id) s ON s.end_user_id = u.id
			WHERE u.item_count <> COALESCE(s.n, 0) OR u.error_item_count <> COALESCE(s.e, 0)`).Scan(&mismatched).Error
		if err != nil {
			t.Fatal(err)
		}
		if mismatched != 0 {
			t.Fatalf("%d users' item_count or error_item_count disagree with their items", mismatched)
		}
		byUser := map[int64][]models.Item{}
		for _, it := range items {
			byUser[it.EndUserID] = append(byUser[it.EndUserID], it)
		}
		now := models.Now()
		var errorItems, expiring, expired, noIdentity, ssnFull, ssnLast4, withDOB, zeroItems int
		codes := map[string]int{}
		for i := range users {
			u := &users[i]
			its := byUser[u.ID]
			if len(its) > 5 {
				t.Fatalf("user %d has %d items, want at most 5", u.ID, len(its))
			}
			if len(its) == 0 {
				zeroItems++
			}
			var next *models.Item
			errs := 0
			for j := range its {
				it := &its[j]
				if it.ConsentExpirationTime != nil && (next == nil || it.ConsentExpirationTime.Before(*next.ConsentExpirationTime)) {
					next = it
				}
				switch h := it.HealthAt(now); h.Kind {
				case models.HealthError:
					errs++
					codes[h.Code]++
				case models.HealthExpiring:
					expiring++
				case models.HealthExpired:
					expired++
				}
				checkSeededItem(t, it)
			}
			errorItems += errs
			if int(u.ErrorItemCount) != errs || u.ItemCount != len(its) {
				t.Fatalf("user %d: item_count %d, error_item_count %d; its items: %d, %d in error", u.ID, u.ItemCount, u.ErrorItemCount, len(its), errs)
			}
			switch {
			case next == nil && u.NextConsentExpiration != nil:
				t.Fatalf("user %d: next_consent_expiration %v, but no item has a consent expiry", u.ID, u.NextConsentExpiration)
			case next != nil && (u.NextConsentExpiration == nil || !u.NextConsentExpiration.Equal(*next.ConsentExpirationTime)):
				t.Fatalf("user %d: next_consent_expiration %v, want the earliest item's %v", u.ID, u.NextConsentExpiration, next.ConsentExpirationTime)
			}

			if !strings.HasPrefix(u.ClientUserID, "cust_") || len(u.UserID) != 29 || len(u.UserTokenHash) != 64 {
				t.Fatalf("user %d: client_user_id %q, user_id %q, token hash of %d characters", u.ID, u.ClientUserID, u.UserID, len(u.UserTokenHash))
			}
			if i > 0 && !u.CreatedAt.After(users[i-1].CreatedAt) {
				t.Fatalf("user %d created at %v, not after user %d at %v", u.ID, u.CreatedAt, users[i-1].ID, users[i-1].CreatedAt)
			}
			ident, err := db.Identity(u)
			if err != nil {
				t.Fatalf("open the identity of user %d: %v", u.ID, err)
			}
			if ident == nil {
				noIdentity++
				continue
			}
			fields := models.FieldErrors{}
			ident.Validate(fields, now)
			if len(fields) > 0 {
				t.Fatalf("user %d's identity %+v fails validation: %v", u.ID, ident, fields)
			}
			if ident.SSNFull != "" {
				ssnFull++
			}
			if ident.SSNLast4 != "" {
				ssnLast4++
			}
			if ident.DateOfBirth != "" {
				withDOB++
				if y := ident.DateOfBirth[:4]; y < "1940" || y > "2005" {
					t.Fatalf("user %d born %s, want 1940-2005", u.ID, ident.DateOfBirth)
				}
			}
			// Sealed at rest: neither value is anywhere in the raw row. The
			// sealed columns are random base64 (a fresh nonce each), in
			// which four digits turn up by chance about once in a thousand
			// runs of this test: only the longer values are looked for there.
			raw := strings.Join([]string{u.UserID, u.FirstName, u.LastName, strings.Join(u.PhoneNumbers, " "),
				strings.Join(u.Emails, " "), u.AddressStreet, u.SearchText}, "|")
			sealed := u.SSNCipher + "|" + u.DOBCipher
			for _, secret := range []string{ident.SSNFull, ident.SSNLast4, ident.DateOfBirth} {
				if secret != "" && (strings.Contains(raw, secret) || len(secret) > 4 && strings.Contains(sealed, secret)) {
					t.Fatalf("user %d: %q is stored in clear", u.ID, secret)
				}
			}
			if u.SearchText == "" || !strings.Contains(u.SearchText, strings.ToLower(ident.LastName)) || !strings.Contains(u.SearchText, ident.PhoneNumbers[0]) {
				t.Fatalf("user %d: search_text %q lacks the name or phone", u.ID, u.SearchText)
			}
		}

		share := func(n, of int) float64 { return float64(n) / float64(of) }
		withIdentity := 500 - noIdentity
		checks := []struct {
			what     string
			got      float64
			low, top float64
		}{
			{"items in error", share(errorItems, len(items)), 0.025, 0.08},
			{"items with consent expiring within 7 days (not in error)", share(expiring, len(items)), 0.01, 0.06},
			{"users without identity", share(noIdentity, 500), 0.05, 0.16},
			{"identities with a full SSN", share(ssnFull, withIdentity), 0.52, 0.68},
			{"identities with the SSN's last 4", share(ssnLast4, withIdentity), 0.14, 0.27},
			{"identities with a date of birth", share(withDOB, withIdentity), 0.78, 0.92},
			{"users without items", share(zeroItems, 500), 0.06, 0.19},
		}
		for _, c := range checks {
			if c.got < c.low || c.got > c.top {
				t.Errorf("%s: %.1f%%, want %.0f%%-%.0f%%", c.what, 100*c.got, 100*c.low, 100*c.top)
			}
		}
		if expired == 0 {
			t.Error("no item's consent has expired")
		}
		if codes["ITEM_LOGIN_REQUIRED"] == 0 || len(codes) < 3 {
			t.Errorf("error codes %v: want ITEM_LOGIN_REQUIRED and a few others", codes)
		}
		if res.ErrorItems != errorItems {
			t.Errorf("the result says %d items in error, the table has %d", res.ErrorItems, errorItems)
		}

		// The items' institutions are in the institutions table.
		insts, err := db.Institutions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(insts) < 25 {
			t.Fatalf("%d institutions, want about 30", len(insts))
		}
		known := map[string]string{}
		for _, in := range insts {
			known[in.ID] = in.Name
		}
		for _, it := range items {
			if it.InstitutionID != nil && known[*it.InstitutionID] != *it.InstitutionName {
				t.Fatalf("item %s: institution %s %q is not in the institutions table", it.ItemID, *it.InstitutionID, *it.InstitutionName)
			}
		}

		// One audit entry for the whole seed, with counts and no people.
		entries, err := db.AuditHistory(context.Background(), models.FilterForActor(models.SystemActor), 10)
		if err != nil {
			t.Fatal(err)
		}
		var seeds []models.AuditEntry
		for _, e := range entries {
			if e.Action == "system.seed" {
				seeds = append(seeds, e)
			}
		}
		if len(seeds) != 1 {
			t.Fatalf("%d system.seed entries, want 1", len(seeds))
		}
		diff := seeds[0].DecodeDiff()
		if diff.After["users"] != float64(500) || diff.After["items"] != float64(len(items)) {
			t.Fatalf("the seed's diff says %v, want 500 users and %d items", diff.After, len(items))
		}
		if seeds[0].TargetType != "end_user" {
			t.Fatalf("the seed's target type is %q, want end_user", seeds[0].TargetType)
		}
		for _, u := range users[:50] {
			if u.HasIdentity && (strings.Contains(seeds[0].Diff, u.LastName) || strings.Contains(seeds[0].Diff, u.Emails[0])) {
				t.Fatalf("the seed's audit diff names a person: %s", seeds[0].Diff)
			}
		}
		vr, err := db.VerifyAuditChain(context.Background(), nil)
		if err != nil || !vr.OK() {
			t.Fatalf("audit chain after the seed: %+v, %v", vr, err)
		}

		// The portal's own queries see the data.
		page, err := db.ListEndUsers(context.Background(), models.UserPageRequest{Filter: models.UserFilter{Health: models.HealthError}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Users) == 0 {
			t.Fatal("the list filtered on items in error is empty")
		}
	})
}

// checkSeededItem checks what an item holds is what Plaid would send.
func checkSeededItem(t *testing.T, it *models.Item) {
	t.Helper()
	if len(it.ItemID) != 37 {
		t.Fatalf("item_id %q has %d characters, want 37", it.ItemID, len(it.ItemID))
	}
	if len(it.Products) == 0 || len(it.BilledProducts) == 0 || len(it.ConsentedProducts) == 0 {
		t.Fatalf("item %s: products %v, billed %v, consented %v", it.ItemID, it.Products, it.BilledProducts, it.ConsentedProducts)
	}
	for _, p := range it.AvailableProducts {
		if slices.Contains(it.Products, p) {
			t.Fatalf("item %s: %s is both a product and available", it.ItemID, p)
		}
	}
	if it.AuthMethod != nil && !slices.Contains(models.AuthMethods, *it.AuthMethod) {
		t.Fatalf("item %s: auth_method %q", it.ItemID, *it.AuthMethod)
	}
	if (it.Error == nil) != (it.ErrorCode == nil) {
		t.Fatalf("item %s: error %v but error_code %v", it.ItemID, it.Error, it.ErrorCode)
	}
	if e := it.Error; e != nil {
		if e.ErrorCode != *it.ErrorCode || e.ErrorType == "" || e.ErrorMessage == "" || e.DisplayMessage == nil ||
			e.RequestID == "" || !strings.HasPrefix(e.DocumentationURL, "https://plaid.com/docs/errors/") {
			t.Fatalf("item %s: incomplete error %+v", it.ItemID, e)
		}
	}
	if it.UpdatedAt.Before(it.CreatedAt) {
		t.Fatalf("item %s updated %v before it was created %v", it.ItemID, it.UpdatedAt, it.CreatedAt)
	}
}

// secondDB is a fresh database of the same kind as db.
func secondDB(t *testing.T, db *models.DB) *models.DB {
	if db.Dialect == models.Postgres {
		return testdb.Postgres(t)
	}
	return testdb.SQLite(t)
}

func TestSeed_SameSeedMakesSameData(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *models.DB) {
		b := secondDB(t, a)
		seedOrFail(t, a, 300, 7)
		seedOrFail(t, b, 300, 7)
		ua, ia := seeded(t, a)
		ub, ib := seeded(t, b)
		if len(ua) != len(ub) || len(ia) != len(ib) {
			t.Fatalf("same seed: %d users and %d items, then %d and %d", len(ua), len(ia), len(ub), len(ib))
		}
		for i := range ua {
			x, y := ua[i], ub[i]
			if x.ClientUserID != y.ClientUserID || x.UserID != y.UserID || x.FirstName != y.FirstName ||
				x.LastName != y.LastName || !slices.Equal(x.Emails, y.Emails) || x.AddressStreet != y.AddressStreet || x.ItemCount != y.ItemCount {
				t.Fatalf("user %d differs between two seeds with the same seed:\n%+v\n%+v", i, x, y)
			}
			if x.UserTokenHash == y.UserTokenHash {
				t.Fatalf("user %d has the same user_token hash in both databases: tokens must be random", i)
			}
		}
		for i := range ia {
			if ia[i].ItemID != ib[i].ItemID || ia[i].EndUserID != ib[i].EndUserID || ia[i].ErrorCode == nil != (ib[i].ErrorCode == nil) {
				t.Fatalf("item %d differs between two seeds with the same seed: %s / %s", i, ia[i].ItemID, ib[i].ItemID)
			}
		}

		// Another seed makes other people.
		c := secondDB(t, a)
		seedOrFail(t, c, 300, 8)
		uc, _ := seeded(t, c)
		same := 0
		for i := range ua {
			if ua[i].FirstName == uc[i].FirstName && ua[i].LastName == uc[i].LastName {
				same++
			}
		}
		if same > 10 {
			t.Fatalf("seeds 7 and 8 gave %d of 300 users the same name", same)
		}
	})
}

func TestSeed_TwiceAddsUsersWithoutCollisions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		// A user created the ordinary way first: the seed starts after it.
		created, err := db.CreateEndUser(context.Background(), seedOrigin, models.EndUserInput{ClientUserID: "my-first-user"})
		if err != nil {
			t.Fatal(err)
		}
		r1 := seedOrFail(t, db, 200, 1)
		r2 := seedOrFail(t, db, 200, 1)
		if r1.FirstID != created.User.ID+1 || r2.FirstID != r1.LastID+1 || r2.LastID-r2.FirstID != 199 {
			t.Fatalf("seeded ids %d-%d then %d-%d after user %d", r1.FirstID, r1.LastID, r2.FirstID, r2.LastID, created.User.ID)
		}
		users, items := seeded(t, db)
		if len(users) != 401 {
			t.Fatalf("%d users after two seeds of 200 and one user, want 401", len(users))
		}
		if len(items) != r1.Items+r2.Items {
			t.Fatalf("%d items, want %d + %d", len(items), r1.Items, r2.Items)
		}
		// A user created after the seeds gets an id after them.
		after, err := db.CreateEndUser(context.Background(), seedOrigin, models.EndUserInput{ClientUserID: "after-the-seed"})
		if err != nil {
			t.Fatal(err)
		}
		if after.User.ID != r2.LastID+1 {
			t.Fatalf("the next user got id %d, want %d", after.User.ID, r2.LastID+1)
		}
		vr, err := db.VerifyAuditChain(context.Background(), nil)
		if err != nil || !vr.OK() || vr.Checked != 4 {
			t.Fatalf("audit chain: %+v, %v; want 4 entries intact", vr, err)
		}
	})
}

func TestSeed_FailedSeedLeavesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		// Someone already uses the client_user_id the seed's 3rd user
		// would get: the seed fails as a whole.
		first, err := db.CreateEndUser(context.Background(), seedOrigin, models.EndUserInput{ClientUserID: "x"})
		if err != nil {
			t.Fatal(err)
		}
		taken := fmt.Sprintf("cust_%07d", first.User.ID+3)
		if _, err := db.CreateEndUser(context.Background(), seedOrigin, models.EndUserInput{ClientUserID: taken}); err != nil {
			t.Fatal(err)
		}
		_, err = demo.Seed(context.Background(), testdb.Owner(t, db), seedOrigin, demo.Options{Users: 50, Seed: 1}, nil)
		if err == nil {
			t.Fatalf("a seed colliding with %s succeeded", taken)
		}
		users, items := seeded(t, db)
		if len(users) != 2 || len(items) != 0 {
			t.Fatalf("a failed seed left %d users and %d items, want the 2 created before it", len(users), len(items))
		}
		var n int64
		db.Gorm().Raw(`SELECT COUNT(*) FROM audit_entries WHERE action = 'system.seed'`).Scan(&n)
		if n != 0 {
			t.Fatalf("a failed seed left %d system.seed entries", n)
		}
		if vr, err := db.VerifyAuditChain(context.Background(), nil); err != nil || !vr.OK() {
			t.Fatalf("audit chain: %+v, %v", vr, err)
		}
	})
}

func TestSeed_CancelledSeedLeavesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := demo.Seed(ctx, testdb.Owner(t, db), seedOrigin, demo.Options{Users: 10001, Seed: 1}, func(done, total int) {
			if done > 0 {
				cancel() // after the first batch is written
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("a cancelled seed returned %v, want context.Canceled", err)
		}
		if ok, err := db.HasEndUsers(context.Background()); err != nil || ok {
			t.Fatalf("a cancelled seed left users (%v, %v)", ok, err)
		}
		if db.Dialect == models.Postgres {
			if shape := schemaShape(t, db); !strings.Contains(shape, "gin_trgm_ops") || !strings.Contains(shape, "FOREIGN KEY") {
				t.Fatalf("a cancelled bulk seed lost indexes or keys:\n%s", shape)
			}
		}
	})
}

func TestSeed_ReportsProgressToTheEnd(t *testing.T) {
	db := testdb.SQLite(t)
	var calls [][2]int
	res, err := demo.Seed(context.Background(), db, seedOrigin, demo.Options{Users: 10001, Seed: 3}, func(done, total int) {
		calls = append(calls, [2]int{done, total})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) < 3 || calls[0] != [2]int{0, 10001} || calls[len(calls)-1] != [2]int{10001, 10001} {
		t.Fatalf("progress calls %v: want 0/10001 first, 10001/10001 last and some in between", calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] <= calls[i-1][0] {
			t.Fatalf("progress went from %d to %d", calls[i-1][0], calls[i][0])
		}
	}
	if res.Users != 10001 {
		t.Fatalf("seeded %d users", res.Users)
	}
}

func TestSeed_RefusesNoUsers(t *testing.T) {
	db := testdb.SQLite(t)
	if _, err := demo.Seed(context.Background(), db, seedOrigin, demo.Options{Users: 0}, nil); err == nil {
		t.Fatal("a seed of 0 users succeeded")
	}
}

// schemaShape lists the indexes and constraints of end_users and items on
// PostgreSQL, as the database would recreate them.
func schemaShape(t *testing.T, db *models.DB) string {
	t.Helper()
	var rows []string
	err := db.Gorm().Raw(`SELECT pg_get_indexdef(indexrelid) FROM pg_index
			WHERE indrelid IN ('end_users'::regclass, 'items'::regclass)
		UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated::text FROM pg_constraint
			WHERE conrelid IN ('end_users'::regclass, 'items'::regclass)
		ORDER BY 1`).Scan(&rows).Error
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(rows, "\n")
}

func TestSeed_BulkOnPostgresRebuildsIndexesAndKeys(t *testing.T) {
	db := testdb.Postgres(t)
	before := schemaShape(t, db)
	if !strings.Contains(before, "gin_trgm_ops") || !strings.Contains(before, "FOREIGN KEY") {
		t.Fatalf("unexpected schema before the seed:\n%s", before)
	}
	res := seedOrFail(t, db, 10000, 9)
	if after := schemaShape(t, db); after != before {
		t.Fatalf("a bulk seed changed the indexes or constraints:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	entries, err := db.AuditHistory(context.Background(), models.FilterForActor(models.SystemActor), 1)
	if err != nil || len(entries) != 1 || entries[0].DecodeDiff().After["bulk"] != true {
		t.Fatalf("the seed's entry %+v (%v) does not say it loaded in bulk", entries, err)
	}
	// The rebuilt indexes serve the portal's queries and enforce
	// uniqueness.
	var n int64
	db.Gorm().Raw(`SELECT COUNT(*) FROM end_users WHERE search_text LIKE '%smith%'`).Scan(&n)
	if n == 0 {
		t.Fatal("no seeded user is called Smith")
	}
	_, err = db.CreateEndUser(context.Background(), seedOrigin, models.EndUserInput{ClientUserID: fmt.Sprintf("cust_%07d", res.FirstID)})
	if err == nil {
		t.Fatal("a seeded client_user_id could be created again")
	}
	if err := db.Gorm().Exec(`INSERT INTO items (item_id, end_user_id, created_at, updated_at) VALUES ('x', 999999999, now(), now())`).Error; err == nil {
		t.Fatal("the foreign key from items to end_users is gone")
	}

	// A bulk seed whose unique index no longer builds fails whole, and
	// leaves the indexes as they were.
	other := testdb.Postgres(t)
	first, err := other.CreateEndUser(context.Background(), seedOrigin, models.EndUserInput{ClientUserID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.CreateEndUser(context.Background(), seedOrigin, models.EndUserInput{ClientUserID: fmt.Sprintf("cust_%07d", first.User.ID+9000)}); err != nil {
		t.Fatal(err)
	}
	shape := schemaShape(t, other)
	if _, err := demo.Seed(context.Background(), testdb.Owner(t, other), seedOrigin, demo.Options{Users: 10000, Seed: 1}, nil); err == nil {
		t.Fatal("a bulk seed with a colliding client_user_id succeeded")
	}
	if users, items := seeded(t, other); len(users) != 2 || len(items) != 0 {
		t.Fatalf("a failed bulk seed left %d users and %d items", len(users), len(items))
	}
	if after := schemaShape(t, other); after != shape {
		t.Fatalf("a failed bulk seed changed the indexes or constraints:\n%s", after)
	}
}
