package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// walkAPIBody is a request body the API route accepts for the walk's user.
func walkAPIBody(r web.Route, h *webtest.Harness, u *models.EndUser) map[string]any {
	switch r.Path {
	case "/user/create":
		return map[string]any{"client_user_id": "walk-api-" + models.RandomHex(6)}
	case "/dashboard_user/get":
		var m models.TeamMember
		if err := h.DB.Gorm().Order("created_at").First(&m).Error; err != nil {
			panic(err)
		}
		return map[string]any{"dashboard_user_id": m.ID}
	case "/dashboard_user/list":
		return map[string]any{}
	case "/user/update":
		return map[string]any{"user_id": u.UserID, "consumer_report_user_identity": identityJSON()}
	}
	return map[string]any{"user_id": u.UserID}
}

// sendWalkAPI calls an API route the way its seed's clients do, with key
// (nil: no credentials at all) and extra headers.
func sendWalkAPI(t *testing.T, h *webtest.Harness, c *webtest.Client, r web.Route, path string, u *models.EndUser, key *testKey, headers ...string) *apiResponse {
	t.Helper()
	if strings.HasPrefix(r.Path, "/2.0/") {
		if key != nil {
			headers = append(headers, "Authorization", "Bearer "+key.Secret)
		}
		return sendAPI(t, c, r.Method, path, "", nil, headers...)
	}
	if u == nil {
		// A call refused before any lookup needs no real user.
		u = &models.EndUser{UserID: "walk-nobody"}
	}
	body := walkAPIBody(r, h, u)
	if key != nil {
		body = key.creds(body)
	}
	b, _ := json.Marshal(body)
	return sendAPI(t, c, r.Method, path, "application/json", b, headers...)
}

// wantAPIRefused checks the answer to a call without an API key.
func wantAPIRefused(t *testing.T, r web.Route, got *apiResponse) {
	t.Helper()
	if strings.HasPrefix(r.Path, "/2.0/") {
		wantPowensError(t, got, http.StatusUnauthorized, "invalidToken")
		return
	}
	wantPlaidError(t, got, http.StatusBadRequest, "INVALID_REQUEST", "MISSING_FIELDS")
}

// walkAPIKeys calls every API route with a read-only and a read-write
// key: a route the scope allows succeeds, any other is refused in the
// seed's shape and writes nothing.
func walkAPIKeys(t *testing.T, h *webtest.Harness, table []web.Route) {
	keys := map[models.APIScope]testKey{
		models.ScopeRead:  newKey(t, h.DB, models.ScopeRead),
		models.ScopeWrite: newKey(t, h.DB, models.ScopeWrite),
	}
	for _, r := range table {
		if !r.Access.IsAPI() {
			continue
		}
		for _, scope := range []models.APIScope{models.ScopeRead, models.ScopeWrite} {
			t.Run(string(scope)+" key "+r.Method+" "+r.Path, func(t *testing.T) {
				key := keys[scope]
				path, u := examplePath(t, h, r)
				if u == nil {
					u = newEndUser(t, h)
				}
				before := stateOf(t, h.DB)
				got := sendWalkAPI(t, h, h.Client(t), r, path, u, &key)
				if !scope.Allows(r.Access.Scope()) {
					if strings.HasPrefix(r.Path, "/2.0/") {
						wantPowensError(t, got, http.StatusForbidden, "forbidden")
					} else {
						wantPlaidError(t, got, http.StatusBadRequest, "INVALID_INPUT", "UNAUTHORIZED_ROUTE_ACCESS")
					}
					wantUnchanged(t, h.DB, before)
					return
				}
				if got.StatusCode != http.StatusOK && got.StatusCode != http.StatusNoContent {
					t.Fatalf("%s key on %s %s: %d\n%s", scope, r.Method, r.Path, got.StatusCode, got.Body)
				}
				if user, ok := got.JSON["user_token"].(string); ok {
					webtest.Sensitive(user)
				}
			})
		}
	}
}
