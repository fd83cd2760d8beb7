package models_test

import (
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestCreateAPIKey_StoresOnlyTheHashAndAudits(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		created, err := db.CreateAPIKey(ctx, systemOrigin, models.NewAPIKey{Name: "  billing  ", Scope: models.ScopeWrite})
		if err != nil {
			t.Fatal(err)
		}
		k := created.Key
		if k.Name != "billing" || len(k.ClientID) != 24 || !strings.HasPrefix(created.Secret, "ldk_") || len(created.Secret) != 36 {
			t.Fatalf("key %+v, secret length %d", k, len(created.Secret))
		}
		stored, err := db.APIKeyByID(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.SecretHash != models.HashToken(created.Secret) || stored.SecretHint != created.Secret[len(created.Secret)-4:] {
			t.Fatalf("stored %+v", stored)
		}
		e := entriesWithAction(t, db, "api_key.create")
		if len(e) != 1 || e[0].TargetType != "api_key" || strings.Contains(e[0].Diff, created.Secret) || !strings.Contains(e[0].Diff, "billing") {
			t.Fatalf("entries %+v", e)
		}
		// Two keys never share a client_id or a secret.
		other, err := db.CreateAPIKey(ctx, systemOrigin, models.NewAPIKey{Name: "other", Scope: models.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		if other.Key.ClientID == k.ClientID || other.Secret == created.Secret {
			t.Fatal("keys collide")
		}
	})
}

func TestCreateAPIKey_RefusesBadInputAndWritesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		for _, in := range []models.NewAPIKey{
			{Name: "", Scope: models.ScopeRead},
			{Name: "   ", Scope: models.ScopeRead},
			{Name: strings.Repeat("é", models.MaxAPIKeyName+1), Scope: models.ScopeRead},
			{Name: "ok", Scope: "admin"},
			{Name: "nul\x00", Scope: models.ScopeRead},
		} {
			_, err := db.CreateAPIKey(ctx, systemOrigin, in)
			if models.ErrorKind(err) != models.KindInvalid {
				t.Fatalf("%+v: %v", in, err)
			}
		}
		if countRows(t, db, "api_keys") != 0 || head(t, db).Seq != 0 {
			t.Fatal("a refused key was written")
		}
	})
}

func TestAuthenticateAPIKey_RefusesEveryWrongCredentialAlike(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		created, err := db.CreateAPIKey(ctx, systemOrigin, models.NewAPIKey{Name: "k", Scope: models.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		id, secret := created.Key.ClientID, created.Secret
		if k, err := db.AuthenticateAPIKey(ctx, id, secret); err != nil || k.ID != created.Key.ID {
			t.Fatalf("right credentials: %v", err)
		}
		if k, err := db.AuthenticateAPISecret(ctx, secret); err != nil || k.ID != created.Key.ID {
			t.Fatalf("secret alone: %v", err)
		}
		for _, c := range [][2]string{{id, secret + "x"}, {id, ""}, {"", secret}, {strings.Repeat("0", 24), secret}, {id, strings.ToUpper(secret)}} {
			if _, err := db.AuthenticateAPIKey(ctx, c[0], c[1]); models.ErrorKind(err) != models.KindUnauthorized {
				t.Fatalf("%q/%q: %v", c[0], c[1], err)
			}
		}
		for _, s := range []string{"", "ldk_nope", id, "user-sandbox-x"} {
			if _, err := db.AuthenticateAPISecret(ctx, s); models.ErrorKind(err) != models.KindUnauthorized {
				t.Fatalf("%q: %v", s, err)
			}
		}
		if _, err := db.RevokeAPIKey(ctx, systemOrigin, created.Key.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AuthenticateAPIKey(ctx, id, secret); models.ErrorKind(err) != models.KindUnauthorized {
			t.Fatalf("revoked key: %v", err)
		}
		if _, err := db.AuthenticateAPISecret(ctx, secret); models.ErrorKind(err) != models.KindUnauthorized {
			t.Fatalf("revoked key by secret: %v", err)
		}
	})
}

func TestRevokeAPIKey_OnceAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		created, _ := db.CreateAPIKey(ctx, systemOrigin, models.NewAPIKey{Name: "k", Scope: models.ScopeWrite})
		k, err := db.RevokeAPIKey(ctx, systemOrigin, created.Key.ID)
		if err != nil || !k.Revoked() || k.RevokedBy != models.SystemActor.ID {
			t.Fatalf("revoke: %v %+v", err, k)
		}
		seq := head(t, db).Seq
		if _, err := db.RevokeAPIKey(ctx, systemOrigin, created.Key.ID); models.ErrorKind(err) != models.KindConflict {
			t.Fatalf("second revoke: %v", err)
		}
		if _, err := db.RevokeAPIKey(ctx, systemOrigin, 999999); models.ErrorKind(err) != models.KindNotFound {
			t.Fatalf("unknown key: %v", err)
		}
		if head(t, db).Seq != seq || len(entriesWithAction(t, db, "api_key.revoke")) != 1 {
			t.Fatal("refused revokes were audited")
		}
	})
}

func TestListAPIKeys_KeysetPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		n := models.APIKeyPageSize + 3
		base := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
		for i := 0; i < n; i++ {
			k := &models.APIKey{ClientID: models.RandomHex(12), Name: "k", Scope: models.ScopeRead,
				SecretHash: models.HashToken(models.RandomHex(16)), CreatedAt: base.Add(time.Duration(i/2) * time.Second)}
			if err := db.Gorm().Create(k).Error; err != nil {
				t.Fatal(err)
			}
		}
		first, err := db.ListAPIKeys(ctx, "")
		if err != nil || len(first.Keys) != models.APIKeyPageSize || first.Next == "" {
			t.Fatalf("first page: %v %d %q", err, len(first.Keys), first.Next)
		}
		second, err := db.ListAPIKeys(ctx, first.Next)
		if err != nil || len(second.Keys) != 3 || second.Next != "" {
			t.Fatalf("second page: %v %d %q", err, len(second.Keys), second.Next)
		}
		seen := map[int64]bool{}
		for _, k := range append(first.Keys, second.Keys...) {
			if seen[k.ID] {
				t.Fatalf("key %d twice", k.ID)
			}
			seen[k.ID] = true
		}
		if first.Prev != "" || second.Prev == "" {
			t.Fatalf("Prev on the first page %q, on the second %q", first.Prev, second.Prev)
		}
		back, err := db.ListAPIKeys(ctx, second.Prev)
		if err != nil || len(back.Keys) != models.APIKeyPageSize || back.Keys[0].ID != first.Keys[0].ID ||
			back.Keys[len(back.Keys)-1].ID != first.Keys[len(first.Keys)-1].ID || back.Prev != "" || back.Next != first.Next {
			t.Fatalf("back to the first page: %v %d keys, cursors %+v", err, len(back.Keys), back.PageCursors)
		}
		if _, err := db.ListAPIKeys(ctx, "garbage"); models.ErrorKind(err) != models.KindInvalid {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}

func TestListDashboardUsers_KeysetPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		n := models.DashboardUserPageSize + 2
		for i := 0; i < n; i++ {
			insertMember(t, db, "m"+models.RandomHex(4)+"@example.com", models.MemberActive, "")
		}
		first, err := db.ListDashboardUsers(ctx, "")
		if err != nil || len(first.Members) != models.DashboardUserPageSize || first.Next == "" {
			t.Fatalf("first page: %v", err)
		}
		second, err := db.ListDashboardUsers(ctx, first.Next)
		if err != nil || len(second.Members) != 2 || second.Next != "" {
			t.Fatalf("second page: %v %d", err, len(second.Members))
		}
		for _, m := range second.Members {
			for _, f := range first.Members {
				if f.ID == m.ID {
					t.Fatalf("member %s on both pages", m.ID)
				}
			}
			if m.PasswordHash != "" {
				t.Fatal("the list read password hashes")
			}
		}
		if _, err := db.ListDashboardUsers(ctx, "eyJ0IjoiIn0"); models.ErrorKind(err) != models.KindInvalid {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}

func TestEndUsersAfter_SkipsRemovedUsers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		var ids []int64
		for i := 0; i < 4; i++ {
			c, err := db.CreateEndUser(ctx, systemOrigin, models.EndUserInput{ClientUserID: "after-" + models.RandomHex(4)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.User.ID)
			if i == 1 {
				if err := db.RemoveEndUser(ctx, systemOrigin, c.User.ID, c.User.ClientUserID); err != nil {
					t.Fatal(err)
				}
			}
		}
		got, err := db.EndUsersAfter(ctx, ids[0], 10)
		if err != nil || len(got) != 2 || got[0].ID != ids[2] || got[1].ID != ids[3] {
			t.Fatalf("after %d: %v %+v", ids[0], err, got)
		}
	})
}

func TestResetLoginItems_NamedItemsOnlyOrNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c, err := db.CreateEndUser(ctx, systemOrigin, models.EndUserInput{ClientUserID: "reset-" + models.RandomHex(4)})
		if err != nil {
			t.Fatal(err)
		}
		var items []*models.Item
		for i := 0; i < 2; i++ {
			it := &models.Item{EndUserID: c.User.ID}
			if err := db.AddItem(ctx, systemOrigin, it); err != nil {
				t.Fatal(err)
			}
			items = append(items, it)
		}
		seq := head(t, db).Seq
		if _, err := db.ResetLoginItems(ctx, systemOrigin, c.User.ID, []string{items[0].ItemID, "other"}); models.ErrorKind(err) != models.KindInvalid {
			t.Fatalf("unknown item: %v", err)
		}
		if head(t, db).Seq != seq {
			t.Fatal("a refused reset was audited")
		}
		n, err := db.ResetLoginItems(ctx, systemOrigin, c.User.ID, []string{items[1].ItemID})
		if err != nil || n != 1 {
			t.Fatalf("reset one: %d %v", n, err)
		}
		got, _ := db.ItemsOfUser(ctx, c.User.ID)
		if got[0].Error != nil || got[1].Error == nil || got[1].Error.ErrorCode != "ITEM_LOGIN_REQUIRED" {
			t.Fatalf("items after: %+v / %+v", got[0].Error, got[1].Error)
		}
		u, _ := db.EndUserByID(ctx, c.User.ID)
		if u.ErrorItemCount != 1 {
			t.Fatalf("error_item_count %d", u.ErrorItemCount)
		}
	})
}
