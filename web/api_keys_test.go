package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

func TestAPIKeyCreate_ShowsTheSecretOnceAndStoresItsHash(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, member := h.SignIn(t, models.RoleAdmin)
		r := admin.Post("/api-keys", url.Values{"name": {"billing service"}, "scope": {"write"}}, webtest.HTMX...)
		wantStatus(t, r, http.StatusCreated)
		wantFragment(t, r)
		secret := strings.TrimSpace(byTestID(r.Doc, "api-key-secret").Text())
		clientID := strings.TrimSpace(byTestID(r.Doc, "api-key-secret-panel").Find(`[data-testid="api-key-client-id"]`).Text())
		webtest.Sensitive(secret)
		if !strings.HasPrefix(secret, "ldk_") || len(secret) < 30 || len(clientID) != 24 {
			t.Fatalf("secret %q, client_id %q", secret, clientID)
		}
		var k models.APIKey
		if err := db.Gorm().Where("client_id = ?", clientID).Take(&k).Error; err != nil {
			t.Fatal(err)
		}
		if k.SecretHash != models.HashToken(secret) || strings.Contains(k.SecretHash+k.SecretHint, secret) || k.Scope != models.ScopeWrite {
			t.Fatalf("stored key %+v", k)
		}
		// The secret works, and is never shown again.
		got := plaid(t, h.Client(t), "/dashboard_user/list", map[string]any{"client_id": clientID, "secret": secret})
		wantOK(t, got)
		for _, page := range []string{"/api-keys", "/api-keys/" + strconv.FormatInt(k.ID, 10)} {
			if body := admin.Get(page).Body; strings.Contains(body, secret) {
				t.Fatalf("%s shows the secret", page)
			}
		}
		var entries []models.AuditEntry
		db.Gorm().Where("action = ? AND target_id = ?", "api_key.create", strconv.FormatInt(k.ID, 10)).Find(&entries)
		if len(entries) != 1 || entries[0].ActorID != member.ID || strings.Contains(entries[0].Diff, secret) {
			t.Fatalf("api_key.create entries: %+v", entries)
		}
	})
}

func TestAPIKeyCreate_TheListShowsTheNewKeyBesideItsSecret(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		if empty := admin.Get("/api-keys"); byTestID(empty.Doc, "api-keys-empty").Length() != 1 {
			t.Fatal("a new portal lists API keys")
		}
		for i, headers := range [][]string{webtest.HTMX, nil} {
			name := "billing service " + strconv.Itoa(i)
			r := admin.Post("/api-keys", url.Values{"name": {name}, "scope": {"read"}}, headers...)
			wantStatus(t, r, http.StatusCreated)
			secret := strings.TrimSpace(byTestID(r.Doc, "api-key-secret").Text())
			webtest.Sensitive(secret)
			if !strings.HasPrefix(secret, "ldk_") {
				t.Fatalf("no secret in the answer:\n%s", r.Body)
			}
			list := r.Doc.Find("#api-key-list")
			if headers != nil {
				wantFragment(t, r)
				if oob, _ := list.Attr("hx-swap-oob"); oob != "true" {
					t.Fatalf("the list is not swapped out of band: hx-swap-oob=%q", oob)
				}
			} else {
				wantPage(t, r)
			}
			if list.Find(`[data-testid="api-keys-empty"]`).Length() != 0 {
				t.Fatal("the answer still says there are no API keys")
			}
			rows := list.Find(`[data-testid="api-key-row"]`)
			if rows.Length() != i+1 || strings.TrimSpace(rows.First().Find(`[data-testid="api-key-name"]`).Text()) != name {
				t.Fatalf("%d rows, first %q; want %d with %q first", rows.Length(),
					strings.TrimSpace(rows.First().Find(`[data-testid="api-key-name"]`).Text()), i+1, name)
			}
			if strings.Contains(list.Text(), secret) {
				t.Fatal("the list shows the secret")
			}
		}
	})
}

func TestAPIKeyCreate_InvalidInputIs422WithValuesKept(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		before := stateOf(t, db)
		r := admin.Post("/api-keys", url.Values{"name": {strings.Repeat("n", 101)}, "scope": {"admin"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantPage(t, r)
		if byTestID(r.Doc, "error-name").Length() != 1 || byTestID(r.Doc, "error-scope").Length() != 1 {
			t.Fatalf("field errors missing:\n%s", r.Body)
		}
		if v, _ := r.Doc.Find(`input[name="name"]`).Attr("value"); v != strings.Repeat("n", 101) {
			t.Fatalf("typed name not kept: %q", v)
		}
		hx := admin.Post("/api-keys", url.Values{"name": {""}, "scope": {"read"}}, webtest.HTMX...)
		wantStatus(t, hx, http.StatusUnprocessableEntity)
		wantFragment(t, hx)
		if hx.Doc.Find(`input[value="read"][checked]`).Length() != 1 {
			t.Fatalf("chosen scope not kept:\n%s", hx.Body)
		}
		if after := stateOf(t, db); after.Keys != before.Keys || after.AuditSeq != before.AuditSeq {
			t.Fatal("an invalid key was stored")
		}
	})
}

func TestAPIKeyList_ShowsScopeLastUseAndStatus(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		used, unused := newKey(t, db, models.ScopeRead), newKey(t, db, models.ScopeWrite)
		wantOK(t, plaid(t, h.Client(t), "/dashboard_user/list", used.creds(nil)))
		r := admin.Get("/api-keys")
		wantStatus(t, r, http.StatusOK)
		rows := byTestID(r.Doc, "api-key-row")
		if rows.Length() != 2 {
			t.Fatalf("%d rows", rows.Length())
		}
		lastUsed := map[string]string{}
		rows.Each(func(_ int, s *goquery.Selection) {
			id, _ := s.Attr("data-api-key-id")
			lastUsed[id] = strings.TrimSpace(s.Find(`[data-testid="api-key-last-used"]`).Text())
		})
		if lastUsed[strconv.FormatInt(unused.Key.ID, 10)] != "Never" || lastUsed[strconv.FormatInt(used.Key.ID, 10)] == "Never" {
			t.Fatalf("last used: %v", lastUsed)
		}
		if byTestID(r.Doc, "nav-/api-keys").Length() != 1 {
			t.Fatal("no API keys link in the navigation")
		}
	})
}

func TestAPIKey_LastUsedIsWrittenAtMostOnceAMinute(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		key := newKey(t, db, models.ScopeRead)
		k, err := db.AuthenticateAPIKey(ctx, key.Key.ClientID, key.Secret)
		if err != nil || k.LastUsedAt == nil {
			t.Fatalf("first use: %v %+v", err, k)
		}
		first := *k.LastUsedAt
		for i := 0; i < 3; i++ {
			if _, err := db.AuthenticateAPISecret(ctx, key.Secret); err != nil {
				t.Fatal(err)
			}
		}
		stored, _ := db.APIKeyByID(ctx, key.Key.ID)
		if !stored.LastUsedAt.Equal(first) {
			t.Fatalf("last_used_at moved within the minute: %v -> %v", first, stored.LastUsedAt)
		}
		// A minute later, the next use moves it.
		old := first.Add(-2 * 60e9)
		db.Gorm().Model(&models.APIKey{}).Where("id = ?", key.Key.ID).Update("last_used_at", old)
		if _, err := db.AuthenticateAPIKey(ctx, key.Key.ClientID, key.Secret); err != nil {
			t.Fatal(err)
		}
		stored, _ = db.APIKeyByID(ctx, key.Key.ID)
		if !stored.LastUsedAt.After(old) {
			t.Fatalf("last_used_at not updated after a minute: %v", stored.LastUsedAt)
		}
	})
}

func TestAPIKeyRevoke_StopsTheKeyAtOnceAndShowsInItsHistory(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, member := h.SignIn(t, models.RoleAdmin)
		key := newKey(t, db, models.ScopeWrite)
		wantOK(t, plaid(t, h.Client(t), "/dashboard_user/list", key.creds(nil)))
		path := "/api-keys/" + strconv.FormatInt(key.Key.ID, 10)

		r := admin.Post(path+"/revoke", nil)
		wantRedirect(t, r, path)
		wantPlaidError(t, plaid(t, h.Client(t), "/dashboard_user/list", key.creds(nil)), 400, "INVALID_INPUT", "INVALID_API_KEYS")
		wantPowensError(t, powens(t, h.Client(t), "GET", "/2.0/users", key.Secret), 401, "invalidToken")

		page := admin.Get(path)
		wantStatus(t, page, http.StatusOK)
		if s, _ := byTestID(page.Doc, "api-key-status").Attr("data-status"); s != "revoked" {
			t.Fatalf("status %q", s)
		}
		if byTestID(page.Doc, "api-key-revoke").Length() != 0 {
			t.Fatal("a revoked key still offers revoke")
		}
		var actions []string
		byTestID(page.Doc, "history-action").Each(func(_ int, s *goquery.Selection) { actions = append(actions, s.Text()) })
		if strings.Join(actions, ",") != "api_key.revoke,api_key.create" {
			t.Fatalf("history: %v", actions)
		}
		if actor := byTestID(page.Doc, "history-actor").First().Text(); actor != member.EmailAddress {
			t.Fatalf("revoke actor %q", actor)
		}

		// Revoking twice: a conflict, nothing written.
		before := stateOf(t, db)
		again := admin.Post(path+"/revoke", nil)
		wantStatus(t, again, http.StatusConflict)
		wantUnchanged(t, db, before)
	})
}

func TestAPIPage_ShowsBaseURLKeysAndExamples(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		newKey(t, db, models.ScopeRead)
		r := admin.Get("/api")
		wantStatus(t, r, http.StatusOK)
		if base := byTestID(r.Doc, "api-base-url").Text(); !strings.HasPrefix(base, "http") {
			t.Fatalf("base URL %q", base)
		}
		if href, _ := byTestID(r.Doc, "api-keys-link").Attr("href"); href != "/api-keys" {
			t.Fatalf("keys link %q", href)
		}
		if !strings.Contains(byTestID(r.Doc, "api-keys-link").Text(), "1 active") {
			t.Fatalf("keys link text %q", byTestID(r.Doc, "api-keys-link").Text())
		}
		if n := byTestID(r.Doc, "api-example").Length(); n < 4 {
			t.Fatalf("%d examples", n)
		}
	})
}
