package web_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// TestAPI_BodyOver1MiB_IsAJSONErrorAndWritesNothing runs a real listener:
// the body limit is enforced while the request is read, before any
// handler, which app.Test reports as an error of its own instead.
func TestAPI_BodyOver1MiB_IsAJSONErrorAndWritesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeWrite)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go h.App.Listener(ln)
		t.Cleanup(func() { _ = h.App.Shutdown() })
		addr := ln.Addr().String()

		for _, tc := range []struct{ method, path, style string }{
			{"POST", "/user/create", "plaid"}, {"POST", "/user/update", "plaid"}, {"POST", "/user/remove", "plaid"},
			{"POST", "/user/items/get", "plaid"}, {"POST", "/sandbox/user/reset_login", "plaid"},
			{"POST", "/dashboard_user/get", "plaid"}, {"POST", "/dashboard_user/list", "plaid"},
			{"DELETE", "/2.0/users/1", "powens"},
		} {
			before := stateOf(t, db)
			// The headers announce the size; the server answers before
			// reading any of the body, so the test sends none (writing it
			// would race the server closing the connection).
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: ledgerdesk\r\nContent-Type: application/json\r\n"+
				"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", tc.method, tc.path, key.Secret, 1<<20+1)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("%s: %v", tc.path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			conn.Close()
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("%s: %d %s\n%s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			if tc.style == "plaid" {
				if got["error_type"] != "INVALID_REQUEST" || got["error_code"] != "INVALID_BODY" ||
					!strings.Contains(got["error_message"].(string), "1 MiB") || got["request_id"] == "" {
					t.Fatalf("%s: %s", tc.path, b)
				}
			} else if got["code"] != "requestTooLarge" || got["request_id"] == "" {
				t.Fatalf("%s: %s", tc.path, b)
			}
			wantUnchanged(t, db, before)
		}
	})
}

// TestAPI_TimeoutIsAJSONError: a request whose database work outlives the
// request timeout is answered in the seed's shape, and nothing is written.
func TestAPI_TimeoutIsAJSONError(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		key := newKey(t, db, models.ScopeWrite)
		h := webtest.New(t, db, func(c *web.Config) { c.RequestTimeout = time.Nanosecond })
		before := stateOf(t, db)
		r := plaid(t, h.Client(t), "/user/create", key.creds(map[string]any{"client_user_id": newClientUserID()}))
		wantPlaidError(t, r, http.StatusServiceUnavailable, "API_ERROR", "PLANNED_MAINTENANCE")
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		wantPowensError(t, powens(t, h.Client(t), "GET", "/2.0/users", key.Secret), http.StatusServiceUnavailable, "unavailable")
		wantUnchanged(t, db, before)
	})
}
