package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// hostile are values the text rule refuses in a single-line field, with
// what the message beside the field names and how the value is shown
// back.
var hostile = []struct {
	name, value, mentions, shown string
}{
	{"NUL", "Car\x00men", "U+0000", "Car\uFFFDmen"},
	{"invalid UTF-8", "Car\xffmen", "UTF-8", "Car\uFFFDmen"},
	{"right-to-left override", "Car\u202Enem", "U+202E", "Car\u202Enem"},
	{"zero-width space", "Car\u200Bmen", "U+200B", "Car\u200Bmen"},
}

func TestUserCreate_BadBytesInAFieldAre422BesideItWithWhatWasTypedKept(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		for _, field := range []string{models.FieldClientUserID, models.FieldFirstName, models.FieldLastName,
			models.FieldStreet, models.FieldCity, models.FieldRegion, models.FieldPostalCode, models.FieldEmails} {
			for _, bad := range hostile {
				form := identityForm(sampleIdentity())
				form.Set(models.FieldClientUserID, newClientUserID())
				form.Set(field, bad.value)
				if field == models.FieldEmails {
					form.Set(field, "carmy"+bad.value+"@example.com")
				}
				before := stateOf(t, db)
				for _, headers := range [][]string{nil, webtest.HTMX} {
					r := c.Post("/users", form, headers...)
					wantStatus(t, r, http.StatusUnprocessableEntity)
					if !utf8.ValidString(r.Body) {
						t.Fatalf("%s %s: the page is not valid UTF-8", field, bad.name)
					}
					msg := byTestID(r.Doc, "error-"+field).Text()
					if !strings.Contains(msg, bad.mentions) {
						t.Errorf("%s %s: message beside the field %q, want one naming %s", field, bad.name, msg, bad.mentions)
					}
					kept := byTestID(r.Doc, "field-"+field).Find("input, textarea")
					got := kept.AttrOr("value", kept.Text())
					want := strings.Replace(form.Get(field), bad.value, bad.shown, 1)
					if got != want {
						t.Errorf("%s %s: the field shows %q, want %q", field, bad.name, got, want)
					}
				}
				wantUnchanged(t, db, before)
			}
		}
	})
}

func TestUserList_BadBytesInTheSearchAre422BesideTheBox(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		for _, bad := range hostile {
			q := url.Values{"q": {bad.value}}.Encode()
			r := c.Get("/users?" + q)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if msg := byTestID(r.Doc, "error-q").Text(); !strings.Contains(msg, bad.mentions) {
				t.Errorf("%s: message beside the search %q", bad.name, msg)
			}
			if got := byTestID(r.Doc, "user-search").AttrOr("value", ""); got != bad.shown {
				t.Errorf("%s: the search box shows %q, want %q", bad.name, got, bad.shown)
			}
			if byTestID(r.Doc, "user-filter-invalid").Length() != 1 || byTestID(r.Doc, "user-row").Length() != 0 {
				t.Errorf("%s: results shown for a refused search", bad.name)
			}
			// Search as you type: the results fragment, the message out of
			// band beside the box.
			r = c.Get("/users?"+q, "HX-Request", "true", "HX-Target", "user-results")
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if !isFragment(r.Body) || !strings.Contains(byTestID(r.Doc, "error-q").Text(), bad.mentions) ||
				byTestID(r.Doc, "error-q").AttrOr("hx-swap-oob", "") != "true" {
				t.Errorf("%s: htmx answer %s", bad.name, r.Body)
			}
		}
		r := c.Get("/users?institution=" + url.QueryEscape("ins_\x00"))
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if byTestID(r.Doc, "error-institution").Text() == "" {
			t.Error("no message beside the institution filter")
		}
		// A good search still works, and clears the message.
		r = c.Get("/users?q=ada", "HX-Request", "true", "HX-Target", "user-results")
		wantStatus(t, r, http.StatusOK)
		if byTestID(r.Doc, "error-q").Text() != "" {
			t.Error("message left beside a good search")
		}
	})
}

func TestTeamAndAuditLists_BadBytesInAFilterAre422BesideIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		for _, bad := range hostile {
			r := c.Get("/team?" + url.Values{"q": {bad.value}}.Encode())
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if !strings.Contains(byTestID(r.Doc, "error-q").Text(), bad.mentions) || byTestID(r.Doc, "team-filter-invalid").Length() != 1 {
				t.Errorf("team %s: %s", bad.name, byTestID(r.Doc, "error-q").Text())
			}
			if got := byTestID(r.Doc, "team-search").AttrOr("value", ""); got != bad.shown {
				t.Errorf("team %s: the search box shows %q", bad.name, got)
			}
			r = c.Get("/team?"+url.Values{"q": {bad.value}}.Encode(), "HX-Request", "true", "HX-Target", "team-results")
			wantStatus(t, r, http.StatusUnprocessableEntity)
			for _, field := range []string{"actor", "target_id", "request_id", "ip"} {
				r := c.Get("/audit?" + url.Values{field: {bad.value}, "target_type": {"end_user"}}.Encode())
				wantStatus(t, r, http.StatusUnprocessableEntity)
				if !strings.Contains(byTestID(r.Doc, "error-"+field).Text(), bad.mentions) {
					t.Errorf("audit %s %s: %q", field, bad.name, byTestID(r.Doc, "error-"+field).Text())
				}
				if got := byTestID(r.Doc, "filter-"+field).AttrOr("value", ""); got != bad.shown {
					t.Errorf("audit %s %s: the box shows %q", field, bad.name, got)
				}
			}
			r = c.Post("/audit/export", url.Values{"format": {"csv"}, "actor": {bad.value}})
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("export with %s in the filter: %d", bad.name, r.StatusCode)
			}
		}
	})
}

func TestPathKeys_BadBytesAre404(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		m, _ := h.Member(t, models.RoleAuditor)
		for _, bad := range hostile {
			key := url.PathEscape(bad.value)
			for _, path := range []string{
				"/account/sessions/" + key + "/end",
				"/team/" + m.ID + "/sessions/" + key + "/end",
			} {
				before := stateOf(t, db)
				wantStatus(t, c.Post(path, nil), http.StatusNotFound)
				wantUnchanged(t, db, before)
			}
			wantStatus(t, h.Client(t).Get("/invite/"+key), http.StatusNotFound)
			wantStatus(t, c.Get("/team/"+key+strings.Repeat("0", 24-len(key))), http.StatusNotFound)
		}
	})
}

func TestAPI_BadBytesInAFieldAreInvalidFieldNamingIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeWrite)
		u := newEndUser(t, h)
		send := func(path string, body map[string]any, raw string) *apiResponse {
			b, err := json.Marshal(key.creds(body))
			if err != nil {
				t.Fatal(err)
			}
			// The bad bytes go in raw: json.Marshal would have replaced them.
			b = []byte(strings.Replace(string(b), `"@BAD@"`, raw, 1))
			return sendAPI(t, h.Client(t), http.MethodPost, path, "application/json", b)
		}
		for _, tc := range []struct {
			path, field string
			body        map[string]any
		}{
			{"/user/create", "client_user_id", map[string]any{"client_user_id": "@BAD@"}},
			{"/user/create", "consumer_report_user_identity.primary_address.city", map[string]any{"client_user_id": newClientUserID(),
				"consumer_report_user_identity": func() map[string]any {
					id := identityJSON()
					addr := id["primary_address"].(map[string]any)
					addr["city"] = "@BAD@"
					return id
				}()}},
			{"/user/items/get", "user_id", map[string]any{"user_id": "@BAD@"}},
			{"/user/remove", "user_token", map[string]any{"user_token": "@BAD@"}},
			{"/sandbox/user/reset_login", "item_ids", map[string]any{"user_id": u.UserID, "item_ids": []string{"@BAD@"}}},
			{"/dashboard_user/get", "dashboard_user_id", map[string]any{"dashboard_user_id": "@BAD@"}},
			{"/dashboard_user/list", "cursor", map[string]any{"cursor": "@BAD@"}},
		} {
			for _, raw := range []struct{ name, literal, mentions string }{
				{"invalid UTF-8", "\"Chi\xffcago\"", "UTF-8"},
				{"unpaired surrogate", `"Chi\ud800cago"`, "UTF-8"},
				{"NUL", `"Chi\u0000cago"`, "U+0000"},
				{"right-to-left override", `"Chi\u202ecago"`, "U+202E"},
				{"zero-width space", `"Chi\u200bcago"`, "U+200B"},
			} {
				before := stateOf(t, db)
				r := send(tc.path, tc.body, raw.literal)
				msg := wantPlaidError(t, r, http.StatusBadRequest, "INVALID_REQUEST", "INVALID_FIELD")
				if !strings.HasPrefix(msg, tc.field+": ") || !strings.Contains(msg, raw.mentions) {
					t.Errorf("%s %s in %s: %q", tc.path, raw.name, tc.field, msg)
				}
				wantUnchanged(t, db, before)
			}
		}
	})
}

func TestAPI_BadBytesInACredentialAreInvalidAPIKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeRead)
		for _, bad := range hostile {
			// In the body.
			for _, field := range []string{"client_id", "secret"} {
				body := key.creds(nil)
				body[field] = "@BAD@"
				b, _ := json.Marshal(body)
				lit := `"` + strings.ReplaceAll(bad.value, "\x00", `\u0000`) + `"`
				b = []byte(strings.Replace(string(b), `"@BAD@"`, lit, 1))
				r := sendAPI(t, h.Client(t), http.MethodPost, "/dashboard_user/list", "application/json", b)
				wantPlaidError(t, r, http.StatusBadRequest, "INVALID_INPUT", "INVALID_API_KEYS")
			}
			// In the headers.
			for _, header := range []string{"PLAID-CLIENT-ID", "PLAID-SECRET"} {
				values := map[string]string{"PLAID-CLIENT-ID": key.Key.ClientID, "PLAID-SECRET": key.Secret}
				values[header] += bad.value
				r := sendAPI(t, h.Client(t), http.MethodPost, "/dashboard_user/list", "application/json", []byte("{}"),
					"PLAID-CLIENT-ID", values["PLAID-CLIENT-ID"], "PLAID-SECRET", values["PLAID-SECRET"])
				wantPlaidError(t, r, http.StatusBadRequest, "INVALID_INPUT", "INVALID_API_KEYS")
			}
			// Powens' Bearer token.
			wantPowensError(t, powens(t, h.Client(t), http.MethodGet, "/2.0/users", key.Secret+bad.value), http.StatusUnauthorized, "invalidToken")
		}
	})
}
