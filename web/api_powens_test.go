package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

func usersPath(id int64) string { return "/2.0/users/" + strconv.FormatInt(id, 10) }

func TestPowensUsers_ListPagesByIDWithAnAPIKey(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeRead)
		users := createUsers(t, db, 5)
		if err := db.RemoveEndUser(context.Background(), system, users[2].ID, users[2].ClientUserID); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		next := "/2.0/users?limit=2"
		for next != "" {
			r := powens(t, h.Client(t), "GET", next, key.Secret)
			wantOK(t, r)
			for _, u := range r.JSON["users"].([]any) {
				m := u.(map[string]any)
				ids = append(ids, int64(m["id"].(float64)))
				if _, ok := m["signin"].(string); !ok {
					t.Fatalf("user without signin: %v", m)
				}
			}
			next = ""
			if links, ok := r.JSON["_links"].(map[string]any); ok {
				next = links["next"].(map[string]any)["href"].(string)
			}
		}
		want := []int64{users[0].ID, users[1].ID, users[3].ID, users[4].ID}
		if len(ids) != len(want) {
			t.Fatalf("listed %v, want %v (removed user left out)", ids, want)
		}
		for i := range want {
			if ids[i] != want[i] {
				t.Fatalf("listed %v, want %v", ids, want)
			}
		}
		wantPowensError(t, powens(t, h.Client(t), "GET", "/2.0/users?limit=0", key.Secret), 400, "invalidValue")
		wantPowensError(t, powens(t, h.Client(t), "GET", "/2.0/users?after=x", key.Secret), 400, "invalidValue")
	})
}

func TestPowensUsers_GetByIDOrMe(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeRead)
		a, b := createUser(t, db, nil), createUser(t, db, nil)
		c := h.Client(t)

		r := powens(t, c, "GET", usersPath(a.User.ID), key.Secret)
		wantOK(t, r)
		if int64(r.JSON["id"].(float64)) != a.User.ID || r.JSON["signin"] != a.User.CreatedAt.UTC().Format("2006-01-02T15:04:05Z") {
			t.Fatalf("get: %s", r.Body)
		}
		// The user's own token: by id and as me; never another user.
		wantOK(t, powens(t, c, "GET", usersPath(a.User.ID), a.UserToken))
		me := powens(t, c, "GET", "/2.0/users/me", a.UserToken)
		wantOK(t, me)
		if int64(me.JSON["id"].(float64)) != a.User.ID {
			t.Fatalf("me resolved to %v, want %d", me.JSON["id"], a.User.ID)
		}
		wantPowensError(t, powens(t, c, "GET", usersPath(b.User.ID), a.UserToken), 403, "forbidden")
		// A user_token cannot list.
		wantPowensError(t, powens(t, c, "GET", "/2.0/users", a.UserToken), 403, "forbidden")
		// me with an API key names nobody.
		wantPowensError(t, powens(t, c, "GET", "/2.0/users/me", key.Secret), 400, "invalidValue")
		wantPowensError(t, powens(t, c, "GET", "/2.0/users/abc", key.Secret), 400, "invalidValue")
		wantPowensError(t, powens(t, c, "GET", "/2.0/users/999999", key.Secret), 404, "userNotFound")
		// An id has one spelling: a sign or a leading zero names nobody,
		// for reading or deleting.
		id := strconv.FormatInt(a.User.ID, 10)
		for _, other := range []string{"+" + id, "0" + id, id + ".0", " " + id} {
			wantPowensError(t, powens(t, c, "GET", "/2.0/users/"+url.PathEscape(other), key.Secret), 400, "invalidValue")
		}
		write := newKey(t, db, models.ScopeWrite)
		wantPowensError(t, powens(t, c, "DELETE", "/2.0/users/0"+id, write.Secret), 400, "invalidValue")
		wantOK(t, powens(t, c, "GET", usersPath(a.User.ID), key.Secret))
		// Bad credentials.
		for _, bearer := range []string{"", "ldk_wrong", "user-sandbox-00000000-0000-4000-8000-000000000000", key.Key.ClientID} {
			wantPowensError(t, powens(t, c, "GET", usersPath(a.User.ID), bearer), 401, "invalidToken")
		}
		r = sendAPI(t, c, "GET", usersPath(a.User.ID), "", nil, "Authorization", "Basic "+key.Secret)
		wantPowensError(t, r, 401, "invalidToken")
	})
}

func TestPowensUsers_DeleteIs204AndAuditedAsTheKey(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		write, read := newKey(t, db, models.ScopeWrite), newKey(t, db, models.ScopeRead)
		a := createUser(t, db, sampleIdentity())
		addItem(t, db, a.User.ID, nil)
		c := h.Client(t)

		before := stateOf(t, db)
		wantPowensError(t, powens(t, c, "DELETE", usersPath(a.User.ID), read.Secret), 403, "forbidden")
		wantUnchanged(t, db, before)

		r := powens(t, c, "DELETE", usersPath(a.User.ID), write.Secret)
		if r.StatusCode != http.StatusNoContent || r.Body != "" {
			t.Fatalf("delete: %d %q", r.StatusCode, r.Body)
		}
		if u := reloadUser(t, db, a.User.ID); !u.Removed() {
			t.Fatal("user not removed")
		}
		e := auditForUser(t, db, a.User.ID, "user.remove")
		if len(e) != 1 || e[0].ActorType != models.ActorAPIKey || e[0].ActorID != strconv.FormatInt(write.Key.ID, 10) {
			t.Fatalf("user.remove entries: %+v", e)
		}
		// Removed: not found, and deleting again writes nothing.
		before = stateOf(t, db)
		wantPowensError(t, powens(t, c, "GET", usersPath(a.User.ID), write.Secret), 404, "userNotFound")
		wantPowensError(t, powens(t, c, "DELETE", usersPath(a.User.ID), write.Secret), 404, "userNotFound")
		wantUnchanged(t, db, before)
	})
}

func TestPowensUsers_DeleteMeWithTheUsersOwnToken(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		a := createUser(t, db, nil)
		r := powens(t, h.Client(t), "DELETE", "/2.0/users/me", a.UserToken)
		if r.StatusCode != http.StatusNoContent {
			t.Fatalf("delete me: %d %s", r.StatusCode, r.Body)
		}
		e := auditForUser(t, db, a.User.ID, "user.remove")
		if len(e) != 1 || e[0].ActorType != models.ActorEndUser || e[0].ActorID != strconv.FormatInt(a.User.ID, 10) {
			t.Fatalf("user.remove entries: %+v", e)
		}
		// The token died with the user.
		wantPowensError(t, powens(t, h.Client(t), "GET", "/2.0/users/me", a.UserToken), 401, "invalidToken")
	})
}

// TestAPI_ChangeShowsInTheUsersHistoryWithTheKeyAsActor: what the API did
// is on the user's page, attributed to the key.
func TestAPI_ChangeShowsInTheUsersHistoryWithTheKeyAsActor(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeWrite)
		cuid := newClientUserID()
		r := plaid(t, h.Client(t), "/user/create", key.creds(map[string]any{"client_user_id": cuid}))
		wantOK(t, r)
		webtest.Sensitive(r.JSON["user_token"].(string))
		u := userByClientUserID(t, db, cuid)
		admin, _ := h.SignIn(t, models.RoleAuditor)
		page := admin.Get(userPath(u.ID))
		wantStatus(t, page, http.StatusOK)
		actor := byTestID(page.Doc, "history-actor").First().Text()
		if !strings.Contains(actor, key.Key.Name) || !strings.Contains(actor, key.Key.ClientID) {
			t.Fatalf("history actor %q does not name the key", actor)
		}
	})
}
