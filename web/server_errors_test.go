package web_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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

// rawResponse is what a client that writes a whole raw request, then reads,
// gets back: the status, headers and body, and how reading ended.
type rawResponse struct {
	status  int
	header  http.Header
	body    string
	readErr error
}

// sendRaw serves the app on a real socket, through web.Listener as
// `serve` does, and sends request bytes exactly as given.
func sendRaw(t *testing.T, h *webtest.Harness, request string) rawResponse {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h.App.Listener(web.Listener(ln))
	t.Cleanup(func() { h.App.Shutdown() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(conn, request)
	raw, readErr := io.ReadAll(conn)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("no HTTP response (%d bytes read, read ended with %v): %v", len(raw), readErr, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(body), readErr: readErr}
}

func TestServerErrors_OnTheAPIPathsAreJSONInTheSeedsShape(t *testing.T) {
	big := strings.Repeat("a", 20<<10)
	chunk := strings.Repeat("b", 1<<20)
	chunked := fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", len(chunk), chunk, len(chunk), chunk)
	cases := []struct {
		name, request string
		status        int
		plaidCode     string // "" for a Powens path
		powensCode    string
	}{
		{"headers too large", "POST /user/create HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
			http.StatusRequestHeaderFieldsTooLarge, "INVALID_HEADERS", ""},
		{"headers too large, Powens", "GET /2.0/users HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, "", "headersTooLarge"},
		{"a Content-Length that is not a number", "POST /user/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}",
			http.StatusBadRequest, "INVALID_BODY", ""},
		{"broken chunking", "POST /user/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
			http.StatusBadRequest, "INVALID_BODY", ""},
		{"a chunked body over the limit", "POST /user/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
			http.StatusRequestEntityTooLarge, "INVALID_BODY", ""},
		{"a chunked body over the limit, Powens", "DELETE /2.0/users/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
			http.StatusRequestEntityTooLarge, "", "requestTooLarge"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := webtest.New(t, testdb.SQLite(t))
			r := sendRaw(t, h, tc.request)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if r.readErr != nil {
				t.Fatalf("the answer ended with %v, not a clean close", r.readErr)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q, want JSON; body %.300s", ct, r.body)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, r.body)
			}
			if got["request_id"] == "" || got["request_id"] == nil {
				t.Errorf("no request_id: %s", r.body)
			}
			if tc.plaidCode != "" && (got["error_code"] != tc.plaidCode || got["error_type"] != "INVALID_REQUEST") {
				t.Errorf("Plaid error %v/%v, want INVALID_REQUEST/%s", got["error_type"], got["error_code"], tc.plaidCode)
			}
			if tc.powensCode != "" && got["code"] != tc.powensCode {
				t.Errorf("Powens code %v, want %s", got["code"], tc.powensCode)
			}
			if strings.Contains(r.body, "contents") || strings.Contains(r.body, "aaaa") {
				t.Errorf("the answer echoes the request: %.300s", r.body)
			}
		})
	}
}

func TestServerErrors_OnPortalPathsAreAnErrorPage(t *testing.T) {
	h := webtest.New(t, testdb.SQLite(t))
	r := sendRaw(t, h, "GET /users HTTP/1.1\r\nHost: x\r\nCookie: "+strings.Repeat("c", 20<<10)+"\r\n\r\n")
	if r.status != http.StatusRequestHeaderFieldsTooLarge || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	if !strings.Contains(r.body, "cookies") {
		t.Fatalf("the page does not say what to do:\n%.500s", r.body)
	}
}

func TestSessionLoadFailure_TheLogNamesTheRoute(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		var logged bytes.Buffer
		h := webtest.New(t, db, func(c *web.Config) { c.Logger = slog.New(slog.NewJSONHandler(&logged, nil)) })
		c, _ := h.SignIn(t, models.RoleAdmin)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		r := c.Get("/users/42")
		if r.StatusCode < 500 {
			t.Fatalf("status %d with the database closed", r.StatusCode)
		}
		var failed map[string]any
		for _, line := range strings.Split(logged.String(), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "request failed" {
				failed = entry
			}
		}
		if failed == nil {
			t.Fatalf("no failure logged:\n%s", logged.String())
		}
		if failed["route"] != "/users/:id<int>" {
			t.Fatalf("the failure is logged under route %v, want /users/:id<int>", failed["route"])
		}
	})
}
