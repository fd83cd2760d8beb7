package models_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func strPtr(s string) *string { return &s }

func timePtr(t time.Time) *time.Time { return &t }

// plaidError is an item error as Plaid reports one.
func plaidError(code string) *models.ItemError {
	status := 400
	return &models.ItemError{ErrorType: "ITEM_ERROR", ErrorCode: code, ErrorMessage: "something went wrong",
		RequestID: "req-item", Causes: json.RawMessage("[]"), Status: &status,
		DocumentationURL: "https://plaid.com/docs/errors/item/"}
}

// addItem links an item to a user through AddItem, at First Platypus Bank.
func addItem(t testing.TB, db *models.DB, userID int64, itemErr *models.ItemError, consent *time.Time) *models.Item {
	t.Helper()
	return addItemAt(t, db, userID, "ins_109508", itemErr, consent)
}

func addItemAt(t testing.TB, db *models.DB, userID int64, institution string, itemErr *models.ItemError, consent *time.Time) *models.Item {
	t.Helper()
	it := &models.Item{EndUserID: userID, InstitutionID: strPtr(institution), InstitutionName: strPtr("Bank " + institution),
		Webhook: strPtr("https://example.com/hook"), Error: itemErr, ConsentExpirationTime: consent,
		AvailableProducts: models.StringList{"balance", "auth"}, BilledProducts: models.StringList{"identity", "transactions"},
		Products: models.StringList{"identity", "transactions"}, ConsentedProducts: models.StringList{"transactions"}}
	if err := db.AddItem(ctx, adminOrigin, it); err != nil {
		t.Fatalf("add item to user %d: %v", userID, err)
	}
	return it
}

func TestItemHealthAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		err     *models.ItemError
		consent *time.Time
		want    models.Health
	}{
		{"no error, no consent expiry", nil, nil, models.Health{Kind: models.HealthOK}},
		{"consent far away", nil, timePtr(now.AddDate(0, 6, 0)), models.Health{Kind: models.HealthOK}},
		{"consent in 8 days", nil, timePtr(now.Add(8 * 24 * time.Hour)), models.Health{Kind: models.HealthOK}},
		{"consent in 7 days and a second", nil, timePtr(now.Add(models.ConsentWarning + time.Second)), models.Health{Kind: models.HealthOK}},
		{"consent in exactly 7 days", nil, timePtr(now.Add(models.ConsentWarning)), models.Health{Kind: models.HealthExpiring}},
		{"consent in 3 days", nil, timePtr(now.Add(72 * time.Hour)), models.Health{Kind: models.HealthExpiring}},
		{"consent in a second", nil, timePtr(now.Add(time.Second)), models.Health{Kind: models.HealthExpiring}},
		{"consent expiring now", nil, timePtr(now), models.Health{Kind: models.HealthExpired}},
		{"consent expired yesterday", nil, timePtr(now.Add(-24 * time.Hour)), models.Health{Kind: models.HealthExpired}},
		{"consent expiry in another zone", nil, timePtr(now.Add(-time.Hour).In(time.FixedZone("UTC+10", 10*3600))), models.Health{Kind: models.HealthExpired}},
		{"error", plaidError("ITEM_LOGIN_REQUIRED"), nil, models.Health{Kind: models.HealthError, Code: "ITEM_LOGIN_REQUIRED"}},
		{"error beats expired consent", plaidError("INSTITUTION_DOWN"), timePtr(now.Add(-time.Hour)),
			models.Health{Kind: models.HealthError, Code: "INSTITUTION_DOWN"}},
		{"error beats expiring consent", plaidError("INSTITUTION_NOT_RESPONDING"), timePtr(now.Add(time.Hour)),
			models.Health{Kind: models.HealthError, Code: "INSTITUTION_NOT_RESPONDING"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			it := models.Item{Error: tc.err, ConsentExpirationTime: tc.consent}
			if got := it.HealthAt(now); got != tc.want {
				t.Errorf("HealthAt = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestAddItem_StoresEveryFieldAndAudits(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "linker", nil)
		consent := models.Now().Add(90 * 24 * time.Hour)
		in := addItem(t, db, c.User.ID, plaidError("INSTITUTION_DOWN"), &consent)
		in2 := &models.Item{EndUserID: c.User.ID, AuthMethod: strPtr("SAME_DAY_MICRODEPOSITS"), UpdateType: "user_present_required"}
		if err := db.AddItem(ctx, adminOrigin, in2); err != nil {
			t.Fatal(err)
		}
		items, err := db.ItemsOfUser(ctx, c.User.ID)
		if err != nil || len(items) != 2 {
			t.Fatalf("items = %d, %v", len(items), err)
		}
		got := items[0]
		if len(got.ItemID) != 37 || got.ItemID != in.ItemID || items[1].ItemID == got.ItemID {
			t.Errorf("item_ids %q %q", got.ItemID, items[1].ItemID)
		}
		if *got.InstitutionID != "ins_109508" || *got.Webhook != "https://example.com/hook" || got.UpdateType != "background" {
			t.Errorf("item = %+v", got)
		}
		if !reflect.DeepEqual(got.AvailableProducts, models.StringList{"balance", "auth"}) ||
			!reflect.DeepEqual(got.BilledProducts, models.StringList{"identity", "transactions"}) ||
			!reflect.DeepEqual(got.ConsentedProducts, models.StringList{"transactions"}) {
			t.Errorf("products = %v / %v / %v", got.AvailableProducts, got.BilledProducts, got.ConsentedProducts)
		}
		if got.Error == nil || got.Error.ErrorCode != "INSTITUTION_DOWN" || got.ErrorCode == nil || *got.ErrorCode != "INSTITUTION_DOWN" ||
			got.Error.Status == nil || *got.Error.Status != 400 || string(got.Error.Causes) != "[]" {
			t.Errorf("error object = %+v", got.Error)
		}
		if got.ConsentExpirationTime == nil || !got.ConsentExpirationTime.Equal(consent) {
			t.Errorf("consent_expiration_time = %v, want %v", got.ConsentExpirationTime, consent)
		}
		bare := items[1]
		if bare.InstitutionID != nil || bare.InstitutionName != nil || bare.Error != nil || bare.ErrorCode != nil ||
			*bare.AuthMethod != "SAME_DAY_MICRODEPOSITS" || bare.UpdateType != "user_present_required" ||
			len(bare.Products) != 0 || bare.ConsentExpirationTime != nil {
			t.Errorf("item without institution = %+v", bare)
		}
		if h := bare.HealthAt(models.Now()); h.Kind != models.HealthOK {
			t.Errorf("bare item health %+v", h)
		}
		if es := entriesWithAction(t, db, "item.create"); len(es) != 2 || es[0].TargetID != fmt.Sprint(c.User.ID) {
			t.Errorf("item.create entries: %+v", es)
		}
	})
}

func TestAddItem_RefusesRemovedAndMissingUsers(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "tombstone", nil)
		if err := db.RemoveEndUser(ctx, adminOrigin, c.User.ID, "tombstone"); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, db)
		err := db.AddItem(ctx, adminOrigin, &models.Item{EndUserID: c.User.ID})
		domainError(t, err, models.KindConflict)
		err = db.AddItem(ctx, adminOrigin, &models.Item{EndUserID: c.User.ID + 1000})
		domainError(t, err, models.KindNotFound)
		assertUnchanged(t, db, before, "adding items to a removed or missing user")
		if u := reloadUser(t, db, c.User.ID); u.ItemCount != 0 {
			t.Errorf("tombstone has item_count %d", u.ItemCount)
		}
	})
}

// summary is what the users list filters on.
type summary struct {
	items, errors int
	next          *time.Time
}

func userSummary(t testing.TB, db *models.DB, id int64) summary {
	t.Helper()
	u := reloadUser(t, db, id)
	return summary{u.ItemCount, u.ErrorItemCount, u.NextConsentExpiration}
}

func assertSummary(t testing.TB, db *models.DB, id int64, want summary, when string) {
	t.Helper()
	got := userSummary(t, db, id)
	sameNext := (got.next == nil) == (want.next == nil) && (got.next == nil || got.next.Equal(*want.next))
	if got.items != want.items || got.errors != want.errors || !sameNext {
		t.Errorf("%s: summary = %d items, %d errors, next %v; want %d, %d, %v", when,
			got.items, got.errors, got.next, want.items, want.errors, want.next)
	}
}

func TestItemSummary_FollowsAddResetAndRemove(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "summarized", nil)
		assertSummary(t, db, c.User.ID, summary{}, "no items")
		now := models.Now()
		soon, later := now.Add(3*24*time.Hour), now.Add(30*24*time.Hour)
		addItem(t, db, c.User.ID, nil, &later)
		assertSummary(t, db, c.User.ID, summary{1, 0, &later}, "one healthy item")
		addItem(t, db, c.User.ID, plaidError("INSTITUTION_DOWN"), nil)
		assertSummary(t, db, c.User.ID, summary{2, 1, &later}, "plus an item in error")
		addItem(t, db, c.User.ID, nil, &soon)
		assertSummary(t, db, c.User.ID, summary{3, 1, &soon}, "plus an item expiring soon")
		addItem(t, db, c.User.ID, nil, nil)
		assertSummary(t, db, c.User.ID, summary{4, 1, &soon}, "plus an item without expiry")

		if n, err := db.ResetLogin(ctx, adminOrigin, c.User.ID); err != nil || n != 4 {
			t.Fatalf("reset login = %d, %v", n, err)
		}
		assertSummary(t, db, c.User.ID, summary{4, 4, &soon}, "after reset login")

		if err := db.RemoveEndUser(ctx, adminOrigin, c.User.ID, "summarized"); err != nil {
			t.Fatal(err)
		}
		assertSummary(t, db, c.User.ID, summary{}, "after removal")
	})
}

func TestResetLogin_PutsEveryItemOfTheUserIntoLoginRequired(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "reset-me", nil)
		other := createUser(t, db, "leave-me", nil)
		expired := models.Now().Add(-time.Hour)
		addItem(t, db, c.User.ID, nil, nil)
		addItem(t, db, c.User.ID, plaidError("INSTITUTION_DOWN"), nil)
		addItem(t, db, c.User.ID, nil, &expired)
		theirs := addItem(t, db, other.User.ID, nil, nil)
		theirsBroken := addItem(t, db, other.User.ID, plaidError("INSTITUTION_DOWN"), nil)

		origin := adminOrigin
		origin.RequestID = "req-reset-login"
		n, err := db.ResetLogin(ctx, origin, c.User.ID)
		if err != nil || n != 3 {
			t.Fatalf("reset login = %d, %v", n, err)
		}
		items, _ := db.ItemsOfUser(ctx, c.User.ID)
		for _, it := range items {
			e := it.Error
			if e == nil || e.ErrorType != "ITEM_ERROR" || e.ErrorCode != "ITEM_LOGIN_REQUIRED" || e.RequestID != "req-reset-login" ||
				e.ErrorMessage == "" || e.DocumentationURL == "" || it.ErrorCode == nil || *it.ErrorCode != "ITEM_LOGIN_REQUIRED" {
				t.Errorf("item %s after reset: error %+v code %v", it.ItemID, e, it.ErrorCode)
			}
			if h := it.HealthAt(models.Now()); h != (models.Health{Kind: models.HealthError, Code: "ITEM_LOGIN_REQUIRED"}) {
				t.Errorf("item %s health %+v", it.ItemID, h)
			}
		}
		others, _ := db.ItemsOfUser(ctx, other.User.ID)
		if len(others) != 2 || others[0].ItemID != theirs.ItemID || others[0].Error != nil || others[0].ErrorCode != nil {
			t.Errorf("other user's healthy item changed: %+v", others)
		}
		if len(others) == 2 && (others[1].ItemID != theirsBroken.ItemID || others[1].Error.ErrorCode != "INSTITUTION_DOWN") {
			t.Errorf("other user's broken item changed: %+v", others[1].Error)
		}
		assertSummary(t, db, other.User.ID, summary{2, 1, nil}, "other user")

		es := entriesWithAction(t, db, "item.reset_login")
		if len(es) != 1 {
			t.Fatalf("%d item.reset_login entries, want 1", len(es))
		}
		if es[0].TargetType != "end_user" || es[0].TargetID != fmt.Sprint(c.User.ID) || es[0].RequestID != "req-reset-login" {
			t.Errorf("entry = %+v", es[0])
		}
		d := es[0].DecodeDiff()
		if list, _ := d.After["items"].([]any); len(list) != 3 {
			t.Errorf("diff items = %v", d.After["items"])
		}
	})
}

func TestResetLogin_RefusesRemovedAndMissingUsers(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "gone", nil)
		addItem(t, db, c.User.ID, nil, nil)
		if err := db.RemoveEndUser(ctx, adminOrigin, c.User.ID, "gone"); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, db)
		_, err := db.ResetLogin(ctx, adminOrigin, c.User.ID)
		domainError(t, err, models.KindConflict)
		_, err = db.ResetLogin(ctx, adminOrigin, c.User.ID+1000)
		domainError(t, err, models.KindNotFound)
		assertUnchanged(t, db, before, "reset login of removed or missing users")
	})
}

func TestAddItem_RacingARemovalLeavesNoItemOnTheTombstoneOnPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	const adders = 8
	warmPool(t, db, adders+1)
	for r := 0; r < 5; r++ {
		c := createUser(t, db, fmt.Sprintf("racing-%d", r), nil)
		addItem(t, db, c.User.ID, nil, nil)
		errs := race(adders+1, func(i int) error {
			if i == 0 {
				return db.RemoveEndUser(ctx, adminOrigin, c.User.ID, c.User.ClientUserID)
			}
			return db.AddItem(ctx, adminOrigin, &models.Item{EndUserID: c.User.ID})
		})
		if errs[0] != nil {
			t.Fatalf("round %d: remove: %v", r, errs[0])
		}
		for i, err := range errs[1:] {
			if err != nil && models.ErrorKind(err) != models.KindConflict {
				t.Errorf("round %d: add %d: want success or a conflict, got %v", r, i, err)
			}
		}
		if items, _ := db.ItemsOfUser(ctx, c.User.ID); len(items) != 0 {
			t.Errorf("round %d: %d items left on the removed user", r, len(items))
		}
		assertSummary(t, db, c.User.ID, summary{}, fmt.Sprintf("round %d", r))
	}
}
