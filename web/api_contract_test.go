package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// seedSpecs are the seeds' OpenAPI documents (testdata/seeds), by the API
// path templates each one defines.
var (
	specsOnce sync.Once
	seedSpecs map[string]*openapi3.T
	served    *openapi3.T
	specsErr  error
)

func loadSpecs(t *testing.T) {
	t.Helper()
	specsOnce.Do(func() {
		seedSpecs = map[string]*openapi3.T{}
		for _, name := range []string{"plaid-dashboard-user.yml", "plaid-user.yml", "powens-users.yml"} {
			doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("testdata", "seeds", name))
			if err == nil {
				err = doc.Validate(context.Background())
			}
			if err != nil {
				specsErr = err
				return
			}
			for path := range doc.Paths.Map() {
				seedSpecs[path] = doc
			}
		}
		served, specsErr = openapi3.NewLoader().LoadFromData(apijson.OpenAPI)
		if specsErr == nil {
			specsErr = served.Validate(context.Background())
		}
	})
	if specsErr != nil {
		t.Fatal(specsErr)
	}
}

// template is the OpenAPI path template of a request path.
func template(path string) (string, map[string]string) {
	path, _, _ = strings.Cut(path, "?")
	if rest, ok := strings.CutPrefix(path, "/2.0/users/"); ok {
		return "/2.0/users/{userId}", map[string]string{"userId": rest}
	}
	return path, nil
}

// validateAgainst checks one response against doc's schema for it, with
// formats (date-time, email) checked and undocumented statuses refused.
func validateAgainst(t *testing.T, doc *openapi3.T, method, path string, r *apiResponse) {
	t.Helper()
	tmpl, params := template(path)
	item := doc.Paths.Find(tmpl)
	if item == nil || item.GetOperation(method) == nil {
		t.Fatalf("%s %s is not in the document %q", method, tmpl, doc.Info.Title)
	}
	route := &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: method, Operation: item.GetOperation(method)}
	email := openapi3.NewCallbackValidator(func(s string) error { _, err := mail.ParseAddress(s); return err })
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: httptest.NewRequest(method, path, nil), PathParams: params, Route: route},
		Status: r.StatusCode,
		Header: r.Header,
		Body:   io.NopCloser(bytes.NewReader([]byte(r.Body))),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.EnableFormatValidation(), openapi3.WithStringFormatValidator("email", email)}},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		t.Fatalf("%s %s → %d does not match %q:\n%v\nbody: %s", method, path, r.StatusCode, doc.Info.Title, err, r.Body)
	}
}

// checkContract validates a response against its seed's schema and
// against the document the portal serves.
func checkContract(t *testing.T, method, path string, r *apiResponse) *apiResponse {
	t.Helper()
	loadSpecs(t)
	tmpl, _ := template(path)
	doc, ok := seedSpecs[tmpl]
	if !ok {
		t.Fatalf("no seed document defines %s", tmpl)
	}
	validateAgainst(t, doc, method, path, r)
	validateAgainst(t, served, method, path, r)
	return r
}

func TestAPIContract_EveryResponseMatchesTheSeeds(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		write, read := newKey(t, db, models.ScopeWrite), newKey(t, db, models.ScopeRead)
		h.Member(t, models.RoleAdmin)
		var member models.TeamMember
		db.Gorm().First(&member)
		c := h.Client(t)
		post := func(path string, body map[string]any) *apiResponse {
			t.Helper()
			return checkContract(t, "POST", path, plaid(t, c, path, body))
		}
		pw := func(method, path, bearer string) *apiResponse {
			t.Helper()
			return checkContract(t, method, path, powens(t, c, method, path, bearer))
		}

		// Success, on every Plaid-style endpoint.
		created := post("/user/create", write.creds(map[string]any{"client_user_id": newClientUserID(), "consumer_report_user_identity": identityJSON()}))
		wantOK(t, created)
		token := created.JSON["user_token"].(string)
		webtest.Sensitive(token)
		var u *models.EndUser
		if err := db.Gorm().Where("user_id = ?", created.JSON["user_id"]).Take(&u).Error; err != nil {
			t.Fatal(err)
		}
		addItem(t, db, u.ID, atInstitution("ins_109508", "First Platypus Bank"))
		addItem(t, db, u.ID, all(inError("ITEM_LOCKED"), consentIn(72*3600e9), func(it *models.Item) {
			it.AuthMethod, it.Webhook = ptr("INSTANT_MATCH"), ptr("https://example.com/hook")
		}))
		wantOK(t, post("/user/items/get", read.creds(map[string]any{"user_token": token})))
		wantOK(t, post("/user/update", write.creds(map[string]any{"user_token": token, "consumer_report_user_identity": identityJSON()})))
		wantOK(t, post("/sandbox/user/reset_login", write.creds(map[string]any{"user_id": u.UserID})))
		items := post("/user/items/get", read.creds(map[string]any{"user_id": u.UserID}))
		if it := items.JSON["items"].([]any)[0].(map[string]any); it["error"] == nil {
			t.Fatal("reset login left an item without error")
		}
		wantOK(t, post("/dashboard_user/get", read.creds(map[string]any{"dashboard_user_id": member.ID})))
		wantOK(t, post("/dashboard_user/list", read.creds(nil)))

		// Powens-style, success.
		other := createUser(t, db, nil)
		wantOK(t, pw("GET", "/2.0/users", read.Secret))
		wantOK(t, pw("GET", "/2.0/users?limit=1", read.Secret))
		wantOK(t, pw("GET", usersPath(u.ID), read.Secret))
		wantOK(t, pw("GET", "/2.0/users/me", other.UserToken))
		if r := pw("DELETE", "/2.0/users/me", other.UserToken); r.StatusCode != http.StatusNoContent {
			t.Fatalf("delete me: %d", r.StatusCode)
		}

		// Errors of every kind.
		for _, tc := range []struct {
			path string
			body map[string]any
		}{
			{"/user/create", map[string]any{}},
			{"/user/create", write.creds(map[string]any{})},
			{"/user/create", write.creds(map[string]any{"client_user_id": 1})},
			{"/user/create", read.creds(map[string]any{"client_user_id": "x"})},
			{"/user/create", map[string]any{"client_id": write.Key.ClientID, "secret": "wrong"}},
			{"/user/update", write.creds(map[string]any{"user_token": "user-sandbox-00000000-0000-4000-8000-000000000000", "consumer_report_user_identity": identityJSON()})},
			{"/user/remove", write.creds(map[string]any{"user_id": "nobody"})},
			{"/user/items/get", read.creds(map[string]any{})},
			{"/sandbox/user/reset_login", write.creds(map[string]any{"user_id": u.UserID, "item_ids": []string{"x"}})},
			{"/dashboard_user/get", read.creds(map[string]any{"dashboard_user_id": "0"})},
			{"/dashboard_user/list", read.creds(map[string]any{"cursor": "?"})},
		} {
			if r := post(tc.path, tc.body); r.StatusCode < 400 {
				t.Fatalf("%s %v succeeded", tc.path, tc.body)
			}
		}
		checkContract(t, "POST", "/user/create", sendAPI(t, c, "POST", "/user/create", "text/plain", []byte("{")))
		for _, r := range []struct{ method, path, bearer string }{
			{"GET", "/2.0/users", ""}, {"GET", "/2.0/users", token}, {"GET", "/2.0/users?limit=0", read.Secret},
			{"GET", "/2.0/users/me", read.Secret}, {"GET", "/2.0/users/999999", read.Secret},
			{"DELETE", usersPath(u.ID), read.Secret}, {"DELETE", usersPath(other.User.ID), write.Secret},
		} {
			if got := pw(r.method, r.path, r.bearer); got.StatusCode < 400 {
				t.Fatalf("%s %s succeeded", r.method, r.path)
			}
		}

		// The removal, last: then the user is not found anywhere.
		wantOK(t, post("/user/remove", write.creds(map[string]any{"user_token": token})))
		wantPlaidError(t, post("/user/items/get", read.creds(map[string]any{"user_token": token})), 404, "USER_ERROR", "USER_NOT_FOUND")
	})
}

// TestOpenAPI_DocumentCoversEveryAPIRoute: the served document validates
// and describes exactly the API routes of the table.
func TestOpenAPI_DocumentCoversEveryAPIRoute(t *testing.T) {
	loadSpecs(t)
	want := map[string]bool{}
	for _, r := range web.Routes() {
		if !r.Access.IsAPI() {
			continue
		}
		tmpl, _ := template(strings.Replace(r.Path, ":id", "1", 1))
		want[r.Method+" "+tmpl] = true
		if item := served.Paths.Find(tmpl); item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s %s is not in /api/openapi.json", r.Method, tmpl)
		}
	}
	for path, item := range served.Paths.Map() {
		for method := range item.Operations() {
			if !want[method+" "+path] {
				t.Errorf("/api/openapi.json documents %s %s, which the API does not serve", method, path)
			}
		}
	}

	db := testdb.SQLite(t)
	h := webtest.New(t, db)
	r := h.Client(t).Get("/api/openapi.json")
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || r.Body != string(apijson.OpenAPI) {
		t.Fatalf("GET /api/openapi.json: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
}
