package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/web/webtest"
)

// testKey is an API key and its secret, as an admin copied them.
type testKey struct {
	Key    *models.APIKey
	Secret string
}

// newKey creates an API key with scope.
func newKey(t *testing.T, db *models.DB, scope models.APIScope) testKey {
	t.Helper()
	created, err := db.CreateAPIKey(context.Background(), system, models.NewAPIKey{Name: "test " + string(scope), Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	webtest.Sensitive(created.Secret)
	return testKey{Key: created.Key, Secret: created.Secret}
}

// creds returns body with the key's client_id and secret added.
func (k testKey) creds(body map[string]any) map[string]any {
	out := map[string]any{"client_id": k.Key.ClientID, "secret": k.Secret}
	for name, v := range body {
		out[name] = v
	}
	return out
}

// apiResponse is a JSON API answer, decoded.
type apiResponse struct {
	*webtest.Response
	JSON map[string]any
}

// sendAPI sends one request to the API with a fresh client (no cookies
// unless client is given) and decodes the JSON it answers.
func sendAPI(t *testing.T, client *webtest.Client, method, path, contentType string, body []byte, headers ...string) *apiResponse {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	r := client.Do(req)
	out := &apiResponse{Response: r}
	if r.StatusCode != http.StatusNoContent {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %s: Content-Type %q, want JSON; status %d, body:\n%s", method, path, ct, r.StatusCode, r.Body)
		}
		if err := json.Unmarshal([]byte(r.Body), &out.JSON); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, path, err, r.Body)
		}
	}
	return out
}

// plaid posts body as JSON to a Plaid-style endpoint.
func plaid(t *testing.T, client *webtest.Client, path string, body map[string]any, headers ...string) *apiResponse {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return sendAPI(t, client, http.MethodPost, path, "application/json", b, headers...)
}

// powens sends a Powens-style request with a Bearer token ("" for none).
func powens(t *testing.T, client *webtest.Client, method, path, bearer string) *apiResponse {
	t.Helper()
	var headers []string
	if bearer != "" {
		headers = []string{"Authorization", "Bearer " + bearer}
	}
	return sendAPI(t, client, method, path, "", nil, headers...)
}

// wantPlaidError checks a Plaid error object: status, type, code, every
// field the seed lists, and the request id the response header carries.
func wantPlaidError(t *testing.T, r *apiResponse, status int, typ, code string) string {
	t.Helper()
	if r.StatusCode != status || r.JSON["error_type"] != typ || r.JSON["error_code"] != code {
		t.Fatalf("want %d %s/%s, got %d:\n%s", status, typ, code, r.StatusCode, r.Body)
	}
	for _, f := range []string{"error_type", "error_code", "error_code_reason", "error_message", "display_message",
		"request_id", "causes", "status", "documentation_url", "suggested_action"} {
		if _, ok := r.JSON[f]; !ok {
			t.Fatalf("Plaid error without %s:\n%s", f, r.Body)
		}
	}
	if id := r.JSON["request_id"]; id == "" || id != r.Header.Get("X-Request-Id") {
		t.Fatalf("request_id %v, header %q", id, r.Header.Get("X-Request-Id"))
	}
	msg, _ := r.JSON["error_message"].(string)
	return msg
}

// wantPowensError checks a Powens-style error.
func wantPowensError(t *testing.T, r *apiResponse, status int, code string) {
	t.Helper()
	if r.StatusCode != status || r.JSON["code"] != code {
		t.Fatalf("want %d %s, got %d:\n%s", status, code, r.StatusCode, r.Body)
	}
	if id := r.JSON["request_id"]; id == "" || id != r.Header.Get("X-Request-Id") {
		t.Fatalf("request_id %v, header %q", id, r.Header.Get("X-Request-Id"))
	}
}

// wantOK checks a 200 with a request_id.
func wantOK(t *testing.T, r *apiResponse) {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("want 200, got %d:\n%s", r.StatusCode, r.Body)
	}
}

// dbState is what a refused request must leave as it was.
type dbState struct {
	AuditSeq                    int64
	Users, Items, Keys, Removed int64
	UsersUpdated, ItemsUpdated  string
	UserTokens                  string
}

// stateOf reads the database's state: the audit chain head (every change
// appends to it) and the tables the API writes.
func stateOf(t *testing.T, db *models.DB) dbState {
	t.Helper()
	head, err := db.AuditHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := dbState{AuditSeq: head.Seq, Users: countTable(t, db, "end_users"), Items: countTable(t, db, "items"),
		Keys: countTable(t, db, "api_keys")}
	g := db.Gorm()
	if err := g.Table("end_users").Where("removed_at IS NOT NULL").Count(&s.Removed).Error; err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		V string
	}
	for _, q := range []struct {
		sql  string
		into *string
	}{
		{"SELECT CAST(MAX(updated_at) AS TEXT) AS v FROM end_users", &s.UsersUpdated},
		{"SELECT CAST(MAX(updated_at) AS TEXT) AS v FROM items", &s.ItemsUpdated},
		{"SELECT CAST(COUNT(DISTINCT user_token_hash) AS TEXT) AS v FROM end_users", &s.UserTokens},
	} {
		rows = nil
		if err := g.Raw(q.sql).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) > 0 {
			*q.into = rows[0].V
		}
	}
	return s
}

// wantUnchanged fails if anything was written since before.
func wantUnchanged(t *testing.T, db *models.DB, before dbState) {
	t.Helper()
	if after := stateOf(t, db); after != before {
		t.Fatalf("a refused request wrote to the database:\nbefore %+v\nafter  %+v", before, after)
	}
}
