package models_test

import (
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/demo"
	"ledgerdesk/models/testdb"
)

func TestEachEndUser_ReadsEveryMatchOnceNewestFirstAcrossBatches(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		if _, err := demo.Seed(ctx, testdb.Owner(t, db), systemOrigin, demo.Options{Users: 2300, Seed: 7}, nil); err != nil {
			t.Fatal(err)
		}
		for _, f := range []models.UserFilter{{}, {Health: models.HealthError}, {Search: "ann"}} {
			var want []int64
			req := models.UserPageRequest{Filter: f, Limit: 100}
			for {
				p := listPage(t, db, req)
				for _, u := range p.Users {
					want = append(want, u.ID)
				}
				if p.Next == "" {
					break
				}
				req.Cursor = p.Next
			}
			var got []int64
			err := db.EachEndUser(ctx, models.UserSelection{ByFilter: true, Filter: f}, models.Now(), func(u *models.EndUser) error {
				got = append(got, u.ID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("filter %+v: export read %d users, the list pages %d", f, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("filter %+v: user %d is %d in the export, %d in the list", f, i, got[i], want[i])
				}
			}
			if f == (models.UserFilter{}) && len(got) != 2300 {
				t.Fatalf("the whole export has %d users, want 2300", len(got))
			}
		}
		// Users created after the export began are not in it.
		var n int
		err := db.EachEndUser(ctx, models.UserSelection{ByFilter: true}, models.Now().AddDate(-10, 0, 0), func(*models.EndUser) error { n++; return nil })
		if err != nil || n != 0 {
			t.Errorf("an export up to ten years ago read %d users (%v)", n, err)
		}
	})
}

func TestEachEndUser_ReadsTheTickedUsersInAnyState(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		a := createUser(t, db, "tick-a", nil).User
		b := createUser(t, db, "tick-b", nil).User
		createUser(t, db, "tick-c", nil)
		if err := db.RemoveEndUser(ctx, adminOrigin, a.ID, "tick-a"); err != nil {
			t.Fatal(err)
		}
		sel := models.UserSelection{IDs: []int64{a.ID, b.ID, 424242}}
		var got []int64
		if err := db.EachEndUser(ctx, sel, models.Now(), func(u *models.EndUser) error { got = append(got, u.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0] != b.ID || got[1] != a.ID {
			t.Fatalf("exported %v, want [%d %d]: the ticked users, newest first, the removed one too", got, b.ID, a.ID)
		}
		p, err := db.PreviewExport(ctx, sel)
		if err != nil || p.Count != 2 {
			t.Fatalf("export preview: %+v %v", p, err)
		}
		if err := db.EachEndUser(ctx, models.UserSelection{}, models.Now(), func(*models.EndUser) error { return nil }); err == nil {
			t.Fatal("an empty selection was read as everyone")
		}
	})
}
