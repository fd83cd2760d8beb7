package web_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// identityJSON is the seed's example identity.
func identityJSON() map[string]any {
	return map[string]any{
		"first_name": "Carmen", "last_name": "Berzatto",
		"phone_numbers": []string{"+13125551212"}, "emails": []string{"carmy@example.com", "bear@example.com"},
		"ssn_last_4": "1234", "date_of_birth": "1987-01-31",
		"primary_address": map[string]any{"city": "Chicago", "region": "IL", "street": "3200 W Armitage Ave",
			"postal_code": "60657", "country": "US"},
	}
}

func TestAPIUserCreate_ReturnsTokenOnceAndAuditsTheKey(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeWrite)
		cuid := newClientUserID()
		r := plaid(t, h.Client(t), "/user/create", key.creds(map[string]any{
			"client_user_id": cuid, "consumer_report_user_identity": identityJSON()}))
		wantOK(t, r)
		token, _ := r.JSON["user_token"].(string)
		webtest.Sensitive(token)
		if !strings.HasPrefix(token, "user-sandbox-") || r.JSON["user_id"] == "" || r.JSON["request_id"] != r.Header.Get("X-Request-Id") {
			t.Fatalf("create answer: %s", r.Body)
		}
		u := userByClientUserID(t, db, cuid)
		if u == nil || u.UserID != r.JSON["user_id"] || u.UserTokenHash != models.HashToken(token) {
			t.Fatalf("stored user %+v does not match the answer", u)
		}
		if ident := identityOf(t, db, u.ID); ident == nil || ident.SSNLast4 != "1234" || ident.Address.City != "Chicago" {
			t.Fatalf("identity not stored: %+v", ident)
		}
		entries := auditForUser(t, db, u.ID, "user.create")
		if len(entries) != 1 || entries[0].ActorType != models.ActorAPIKey || entries[0].ActorID != strconv.FormatInt(key.Key.ID, 10) ||
			entries[0].RequestID != r.Header.Get("X-Request-Id") {
			t.Fatalf("user.create entry: %+v", entries)
		}

		// The same client_user_id again: refused, naming the field.
		before := stateOf(t, db)
		again := plaid(t, h.Client(t), "/user/create", key.creds(map[string]any{"client_user_id": cuid}))
		if msg := wantPlaidError(t, again, 400, "INVALID_REQUEST", "INVALID_FIELD"); !strings.HasPrefix(msg, "client_user_id:") {
			t.Fatalf("message %q does not name client_user_id", msg)
		}
		wantUnchanged(t, db, before)
	})
}

func TestAPIUserCreate_RefusesAClientUserIDOfARemovedUser(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeWrite)
		c := createUser(t, db, nil)
		wantOK(t, plaid(t, h.Client(t), "/user/remove", key.creds(map[string]any{"user_token": c.UserToken})))
		before := stateOf(t, db)
		r := plaid(t, h.Client(t), "/user/create", key.creds(map[string]any{"client_user_id": c.User.ClientUserID}))
		if msg := wantPlaidError(t, r, 400, "INVALID_REQUEST", "INVALID_FIELD"); !strings.Contains(msg, "removed") {
			t.Fatalf("message %q does not say the id belonged to a removed user", msg)
		}
		wantUnchanged(t, db, before)
	})
}

func TestAPIUserCreate_CredentialsInHeaders(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeWrite)
		r := plaid(t, h.Client(t), "/user/create", map[string]any{"client_user_id": newClientUserID()},
			"PLAID-CLIENT-ID", key.Key.ClientID, "PLAID-SECRET", key.Secret)
		wantOK(t, r)
		webtest.Sensitive(r.JSON["user_token"].(string))
	})
}

// TestAPI_RequestErrors_WriteNothing sends every malformed request to
// every Plaid-style endpoint and checks the error and that nothing changed.
func TestAPI_RequestErrors_WriteNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		write := newKey(t, db, models.ScopeWrite)
		read := newKey(t, db, models.ScopeRead)
		revoked := newKey(t, db, models.ScopeWrite)
		if _, err := db.RevokeAPIKey(context.Background(), system, revoked.Key.ID); err != nil {
			t.Fatal(err)
		}
		live := createUser(t, db, sampleIdentity())
		addItem(t, db, live.User.ID, nil)
		gone := createUser(t, db, nil)
		if err := db.RemoveEndUser(context.Background(), system, gone.User.ID, gone.User.ClientUserID); err != nil {
			t.Fatal(err)
		}
		writes := []string{"/user/create", "/user/update", "/user/remove", "/sandbox/user/reset_login"}
		all := append([]string{"/user/items/get", "/dashboard_user/get", "/dashboard_user/list"}, writes...)
		client := h.Client(t)

		for _, path := range all {
			t.Run(path, func(t *testing.T) {
				before := stateOf(t, db)
				body := `{"client_id":"` + write.Key.ClientID + `","secret":"` + write.Secret + `"`

				r := sendAPI(t, client, "POST", path, "application/json", []byte(body))
				if path != "/dashboard_user/list" {
					// Malformed: an object never closed.
					wantPlaidError(t, r, 400, "INVALID_REQUEST", "INVALID_BODY")
				}
				r = sendAPI(t, client, "POST", path, "application/x-www-form-urlencoded", []byte("client_id=x&secret=y"))
				wantPlaidError(t, r, 400, "INVALID_REQUEST", "INVALID_BODY")
				r = sendAPI(t, client, "POST", path, "text/plain", []byte(body+"}"))
				wantPlaidError(t, r, 400, "INVALID_REQUEST", "INVALID_BODY")
				r = sendAPI(t, client, "POST", path, "application/json", []byte(`[1,2]`))
				wantPlaidError(t, r, 400, "INVALID_REQUEST", "INVALID_BODY")

				// Credentials: none, wrong secret (body and headers),
				// unknown client_id, revoked key, wrong type.
				r = plaid(t, client, path, map[string]any{})
				if msg := wantPlaidError(t, r, 400, "INVALID_REQUEST", "MISSING_FIELDS"); !strings.Contains(msg, "client_id") || !strings.Contains(msg, "secret") {
					t.Fatalf("missing credentials message %q", msg)
				}
				r = plaid(t, client, path, map[string]any{"client_id": write.Key.ClientID, "secret": "ldk_wrong"})
				wantPlaidError(t, r, 400, "INVALID_INPUT", "INVALID_API_KEYS")
				r = plaid(t, client, path, map[string]any{}, "PLAID-CLIENT-ID", write.Key.ClientID, "PLAID-SECRET", write.Secret+"x")
				wantPlaidError(t, r, 400, "INVALID_INPUT", "INVALID_API_KEYS")
				r = plaid(t, client, path, map[string]any{"client_id": "000000000000000000000000", "secret": write.Secret})
				wantPlaidError(t, r, 400, "INVALID_INPUT", "INVALID_API_KEYS")
				r = plaid(t, client, path, revoked.creds(nil))
				wantPlaidError(t, r, 400, "INVALID_INPUT", "INVALID_API_KEYS")
				r = plaid(t, client, path, map[string]any{"client_id": 42, "secret": write.Secret})
				if msg := wantPlaidError(t, r, 400, "INVALID_REQUEST", "INVALID_FIELD"); !strings.HasPrefix(msg, "client_id:") {
					t.Fatalf("message %q does not name client_id", msg)
				}

				// Read-only key on a write endpoint.
				if isWrite(path, writes) {
					r = plaid(t, client, path, read.creds(map[string]any{"client_user_id": newClientUserID(), "user_token": live.UserToken,
						"consumer_report_user_identity": identityJSON()}))
					wantPlaidError(t, r, 400, "INVALID_INPUT", "UNAUTHORIZED_ROUTE_ACCESS")
				}
				wantUnchanged(t, db, before)
			})
		}

		// Missing and invalid fields, unknown and removed users.
		cases := []struct {
			path  string
			body  map[string]any
			code  string
			field string // named in the message
		}{
			{"/user/create", map[string]any{}, "MISSING_FIELDS", "client_user_id"},
			{"/user/create", map[string]any{"client_user_id": 7}, "INVALID_FIELD", "client_user_id"},
			{"/user/create", map[string]any{"client_user_id": ""}, "INVALID_FIELD", "client_user_id"},
			{"/user/create", map[string]any{"client_user_id": strings.Repeat("x", 129)}, "INVALID_FIELD", "client_user_id"},
			{"/user/create", map[string]any{"client_user_id": newClientUserID(), "consumer_report_user_identity": "yes"}, "INVALID_FIELD", "consumer_report_user_identity"},
			{"/user/create", map[string]any{"client_user_id": newClientUserID(), "consumer_report_user_identity": map[string]any{"first_name": "A"}},
				"MISSING_FIELDS", "consumer_report_user_identity.primary_address"},
			{"/user/create", map[string]any{"client_user_id": newClientUserID(), "consumer_report_user_identity": withIdentity("ssn_full", "123456789")},
				"INVALID_FIELD", "consumer_report_user_identity.ssn_full"},
			{"/user/create", map[string]any{"client_user_id": newClientUserID(), "consumer_report_user_identity": withAddress("country", "FR")},
				"INVALID_FIELD", "consumer_report_user_identity.primary_address.country"},
			{"/user/create", map[string]any{"client_user_id": newClientUserID(), "consumer_report_user_identity": withIdentity("phone_numbers", []string{"555"})},
				"INVALID_FIELD", "consumer_report_user_identity.phone_numbers"},
			{"/user/update", map[string]any{"user_token": live.UserToken}, "MISSING_FIELDS", "consumer_report_user_identity"},
			{"/user/update", map[string]any{"consumer_report_user_identity": identityJSON()}, "MISSING_FIELDS", "user_token"},
			{"/user/update", map[string]any{"user_token": live.UserToken, "consumer_report_user_identity": withIdentity("date_of_birth", "1987-02-30")},
				"INVALID_FIELD", "consumer_report_user_identity.date_of_birth"},
			{"/user/remove", map[string]any{}, "MISSING_FIELDS", "user_token"},
			{"/user/remove", map[string]any{"user_token": 12}, "INVALID_FIELD", "user_token"},
			{"/user/items/get", map[string]any{}, "MISSING_FIELDS", "user_token"},
			{"/sandbox/user/reset_login", map[string]any{"user_token": live.UserToken, "item_ids": []string{"nope"}}, "INVALID_FIELD", "item_ids"},
			{"/sandbox/user/reset_login", map[string]any{"user_token": live.UserToken, "item_ids": "all"}, "INVALID_FIELD", "item_ids"},
			{"/dashboard_user/get", map[string]any{}, "MISSING_FIELDS", "dashboard_user_id"},
			{"/dashboard_user/get", map[string]any{"dashboard_user_id": "ffffffffffffffffffffffff"}, "INVALID_FIELD", "dashboard_user_id"},
			{"/dashboard_user/list", map[string]any{"cursor": "not-a-cursor"}, "INVALID_FIELD", "cursor"},
		}
		for _, tc := range cases {
			before := stateOf(t, db)
			r := plaid(t, client, tc.path, write.creds(tc.body))
			msg := wantPlaidError(t, r, 400, "INVALID_REQUEST", tc.code)
			if !strings.Contains(msg, tc.field) {
				t.Fatalf("%s %v: message %q does not name %s", tc.path, tc.body, msg, tc.field)
			}
			wantUnchanged(t, db, before)
		}

		for _, path := range []string{"/user/update", "/user/remove", "/user/items/get", "/sandbox/user/reset_login"} {
			for _, who := range []map[string]any{
				{"user_token": "user-sandbox-00000000-0000-4000-8000-000000000000"},
				{"user_id": "nobody"},
				{"user_token": gone.UserToken},
				{"user_id": gone.User.UserID},
				{"user_token": live.UserToken, "user_id": gone.User.UserID},
			} {
				before := stateOf(t, db)
				body := write.creds(who)
				body["consumer_report_user_identity"] = identityJSON()
				r := plaid(t, client, path, body)
				wantPlaidError(t, r, 404, "USER_ERROR", "USER_NOT_FOUND")
				wantUnchanged(t, db, before)
			}
		}
	})
}

func isWrite(path string, writes []string) bool {
	for _, w := range writes {
		if w == path {
			return true
		}
	}
	return false
}

// withIdentity is the example identity with one field replaced.
func withIdentity(field string, v any) map[string]any {
	id := identityJSON()
	id[field] = v
	return id
}

// withAddress is the example identity with one address field replaced.
func withAddress(field string, v any) map[string]any {
	id := identityJSON()
	id["primary_address"].(map[string]any)[field] = v
	return id
}

func TestAPIUserUpdate_ReplacesTheIdentity(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeWrite)
		c := createUser(t, db, nil)
		// By user_token, then by user_id.
		wantOK(t, plaid(t, h.Client(t), "/user/update", key.creds(map[string]any{
			"user_token": c.UserToken, "consumer_report_user_identity": identityJSON()})))
		if ident := identityOf(t, db, c.User.ID); ident == nil || ident.FirstName != "Carmen" || ident.DateOfBirth != "1987-01-31" {
			t.Fatalf("identity after update: %+v", ident)
		}
		wantOK(t, plaid(t, h.Client(t), "/user/update", key.creds(map[string]any{
			"user_id": c.User.UserID, "consumer_report_user_identity": withIdentity("first_name", "Sydney")})))
		if ident := identityOf(t, db, c.User.ID); ident.FirstName != "Sydney" {
			t.Fatalf("first name after update by user_id: %q", ident.FirstName)
		}
		entries := auditForUser(t, db, c.User.ID, "user.update")
		if len(entries) != 2 || entries[1].ActorType != models.ActorAPIKey || strings.Contains(entries[1].Diff, "Sydney") {
			t.Fatalf("user.update entries: %+v", entries)
		}
	})
}

func TestAPIUserUpdate_TheSameIdentityAnswersOKAndWritesNoAuditEntry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeWrite)
		c := createUser(t, db, nil)
		update := key.creds(map[string]any{"user_token": c.UserToken, "consumer_report_user_identity": identityJSON()})
		wantOK(t, plaid(t, h.Client(t), "/user/update", update))
		before := countTable(t, db, "audit_entries")

		update = key.creds(map[string]any{"user_token": c.UserToken, "consumer_report_user_identity": identityJSON()})
		r := plaid(t, h.Client(t), "/user/update", update)
		wantOK(t, r)
		if _, ok := r.JSON["request_id"]; !ok || len(r.JSON) != 1 {
			t.Fatalf("an update with no change answers %s, want only request_id", r.Body)
		}
		if n := countTable(t, db, "audit_entries"); n != before {
			t.Fatalf("%d audit entries after an update with no change, want %d", n, before)
		}
		if e := auditForUser(t, db, c.User.ID, "user.update"); len(e) != 1 {
			t.Fatalf("%d user.update entries, want 1", len(e))
		}
	})
}

func TestAPIUserRemove_ThenTheUserIsNotFound(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeWrite)
		c := createUser(t, db, sampleIdentity())
		addItem(t, db, c.User.ID, nil)
		r := plaid(t, h.Client(t), "/user/remove", key.creds(map[string]any{"user_token": c.UserToken}))
		wantOK(t, r)
		if len(r.JSON) != 1 {
			t.Fatalf("remove answers only request_id: %s", r.Body)
		}
		u := reloadUser(t, db, c.User.ID)
		if !u.Removed() || u.HasIdentity || countTable(t, db, "items") != 0 {
			t.Fatalf("user after remove: %+v", u)
		}
		if e := auditForUser(t, db, c.User.ID, "user.remove"); len(e) != 1 || e[0].ActorType != models.ActorAPIKey {
			t.Fatalf("user.remove entries: %+v", e)
		}
		wantPlaidError(t, plaid(t, h.Client(t), "/user/items/get", key.creds(map[string]any{"user_token": c.UserToken})),
			404, "USER_ERROR", "USER_NOT_FOUND")
	})
}

func TestAPIUserItemsGet_ListsItemsInTheSeedShape(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeRead)
		c := createUser(t, db, nil)
		first := addItem(t, db, c.User.ID, atInstitution("ins_109508", "First Platypus Bank"))
		addItem(t, db, c.User.ID, all(inError("ITEM_LOCKED"), func(it *models.Item) { it.AuthMethod = ptr("INSTANT_AUTH") }))
		r := plaid(t, h.Client(t), "/user/items/get", key.creds(map[string]any{"user_token": c.UserToken}))
		wantOK(t, r)
		items, _ := r.JSON["items"].([]any)
		if len(items) != 2 {
			t.Fatalf("items: %s", r.Body)
		}
		it0 := items[0].(map[string]any)
		if it0["item_id"] != first.ItemID || it0["institution_name"] != "First Platypus Bank" || it0["error"] != nil ||
			it0["auth_method"] != nil || it0["consent_expiration_time"] != nil || it0["update_type"] != "background" {
			t.Fatalf("first item: %v", it0)
		}
		it1 := items[1].(map[string]any)
		if it1["institution_id"] != nil || it1["auth_method"] != "INSTANT_AUTH" || it1["error"].(map[string]any)["error_code"] != "ITEM_LOCKED" {
			t.Fatalf("second item: %v", it1)
		}
		// By user_id too, and a read-only key suffices.
		wantOK(t, plaid(t, h.Client(t), "/user/items/get", key.creds(map[string]any{"user_id": c.User.UserID})))
	})
}

func TestAPISandboxResetLogin_AllOrNamedItems(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeWrite)
		c := createUser(t, db, nil)
		a := addItem(t, db, c.User.ID, nil)
		b := addItem(t, db, c.User.ID, nil)
		wantOK(t, plaid(t, h.Client(t), "/sandbox/user/reset_login", key.creds(map[string]any{"user_token": c.UserToken, "item_ids": []string{a.ItemID}})))
		items, _ := db.ItemsOfUser(context.Background(), c.User.ID)
		if items[0].Error == nil || items[0].Error.ErrorCode != "ITEM_LOGIN_REQUIRED" || items[1].Error != nil {
			t.Fatalf("after resetting %s only: %+v %+v", a.ItemID, items[0].Error, items[1].Error)
		}
		wantOK(t, plaid(t, h.Client(t), "/sandbox/user/reset_login", key.creds(map[string]any{"user_token": c.UserToken})))
		items, _ = db.ItemsOfUser(context.Background(), c.User.ID)
		if items[1].Error == nil || items[1].ItemID != b.ItemID {
			t.Fatalf("after resetting all: %+v", items[1])
		}
		if e := auditForUser(t, db, c.User.ID, "item.reset_login"); len(e) != 2 || e[0].ActorType != models.ActorAPIKey {
			t.Fatalf("item.reset_login entries: %+v", e)
		}
	})
}

func TestAPIDashboardUsers_GetAndListByCursor(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeRead)
		var made []*models.TeamMember
		for i := 0; i < models.DashboardUserPageSize+5; i++ {
			// Inserted directly: a password hash each would make this slow,
			// and the list does not read it.
			now := models.Now().Add(-time.Duration(i%7) * time.Second)
			m := &models.TeamMember{ID: models.NewMemberID(), EmailAddress: "m-" + models.RandomHex(4) + "@example.com",
				Status: models.MemberActive, Role: models.RoleAuditor, CreatedAt: now, UpdatedAt: now}
			if err := db.Gorm().Create(m).Error; err != nil {
				t.Fatal(err)
			}
			made = append(made, m)
		}
		r := plaid(t, h.Client(t), "/dashboard_user/get", key.creds(map[string]any{"dashboard_user_id": made[0].ID}))
		wantOK(t, r)
		if r.JSON["id"] != made[0].ID || r.JSON["email_address"] != made[0].EmailAddress || r.JSON["status"] != "active" {
			t.Fatalf("get: %s", r.Body)
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			body := map[string]any{}
			if cursor != "" {
				body["cursor"] = cursor
			}
			r := plaid(t, h.Client(t), "/dashboard_user/list", key.creds(body))
			wantOK(t, r)
			for _, u := range r.JSON["dashboard_users"].([]any) {
				id := u.(map[string]any)["id"].(string)
				if seen[id] {
					t.Fatalf("member %s on two pages", id)
				}
				seen[id] = true
			}
			next, ok := r.JSON["next_cursor"].(string)
			if !ok {
				t.Fatalf("next_cursor missing or not a string: %s", r.Body)
			}
			if next == "" {
				if pages != 1 {
					t.Fatalf("%d pages, want 2", pages+1)
				}
				break
			}
			cursor = next
		}
		for _, m := range made {
			if !seen[m.ID] {
				t.Fatalf("member %s never listed", m.ID)
			}
		}
	})
}

// TestAPI_SessionCookieDoesNotAuthenticate: a signed-in admin's browser
// calling the API, cookies and CSRF token included, is refused like any
// caller without a key.
func TestAPI_SessionCookieDoesNotAuthenticate(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		admin.Get("/")
		before := stateOf(t, db)
		r := plaid(t, admin, "/user/create", map[string]any{"client_user_id": newClientUserID()}, "X-CSRF-Token", admin.CSRF)
		wantPlaidError(t, r, 400, "INVALID_REQUEST", "MISSING_FIELDS")
		wantPowensError(t, powens(t, admin, "GET", "/2.0/users", ""), 401, "invalidToken")
		wantUnchanged(t, db, before)
	})
}

func TestAPI_UnknownPathsAndMethodsAnswerJSON(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c := h.Client(t)
		r := sendAPI(t, c, "GET", "/user/create", "", nil)
		wantPlaidError(t, r, http.StatusMethodNotAllowed, "INVALID_REQUEST", "METHOD_NOT_ALLOWED")
		if r.Header.Get("Allow") != "POST" {
			t.Fatalf("Allow %q", r.Header.Get("Allow"))
		}
		wantPlaidError(t, plaid(t, c, "/user/nothing", map[string]any{}), 404, "INVALID_REQUEST", "NOT_FOUND")
		wantPowensError(t, powens(t, c, "POST", "/2.0/users", ""), 405, "methodNotAllowed")
		wantPowensError(t, powens(t, c, "GET", "/2.0/nothing", ""), 404, "notFound")
	})
}
