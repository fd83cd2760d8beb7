package web_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/version"
	"ledgerdesk/web/webtest"
)

func TestHealthz_AnswersOKAndTheBuildAndNothingElse(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		r := h.Client(t).Get("/healthz")
		wantStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("Content-Type %q, want JSON", ct)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		if _, set := r.Header["Set-Cookie"]; set {
			t.Fatal("a health check set a cookie")
		}
		// Anyone may ask: the answer holds the status and the build, and
		// no other field (no host, path, database or setting).
		var body map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatalf("body %q: %v", r.Body, err)
		}
		if got := slices.Sorted(maps.Keys(body)); !slices.Equal(got, []string{"status", "version"}) {
			t.Fatalf("fields %v, want status and version only: %s", got, r.Body)
		}
		if string(body["status"]) != `"ok"` {
			t.Fatalf("status %s", body["status"])
		}
		var build map[string]string
		if err := json.Unmarshal(body["version"], &build); err != nil {
			t.Fatalf("version %s: %v", body["version"], err)
		}
		want := version.Get()
		if !maps.Equal(build, map[string]string{"version": want.Version, "commit": want.Commit, "built": want.Built}) {
			t.Fatalf("version %v, want %+v", build, want)
		}
	})
}

func TestReadyz_200WithTheDatabaseAnd503WithoutIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c := h.Client(t)
		r := c.Get("/readyz")
		wantStatus(t, r, http.StatusOK)
		if r.Body != "ready" {
			t.Fatalf("body %q", r.Body)
		}

		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		r = c.Get("/readyz")
		wantStatus(t, r, http.StatusServiceUnavailable)
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("a 503 from /readyz without Retry-After")
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		// The process itself is still alive.
		wantStatus(t, c.Get("/healthz"), http.StatusOK)
	})
}

func TestHEAD_AnswersOnEveryGETRouteWithoutABody(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		anon := h.Client(t)
		for _, tc := range []struct {
			c    *webtest.Client
			path string
			want int
		}{
			{anon, "/healthz", http.StatusOK},
			{anon, "/readyz", http.StatusOK},
			{anon, "/login", http.StatusOK},
			{anon, "/users", http.StatusSeeOther},
			{admin, "/users", http.StatusOK},
			{admin, "/audit", http.StatusOK},
			{admin, "/static/js/app.js", http.StatusOK},
		} {
			get := tc.c.Get(tc.path)
			r := tc.c.Do(httptest.NewRequest(http.MethodHead, tc.path, nil))
			if r.StatusCode != tc.want || get.StatusCode != tc.want {
				t.Errorf("HEAD %s: %d (GET %d), want %d", tc.path, r.StatusCode, get.StatusCode, tc.want)
			}
			if r.Body != "" {
				t.Errorf("HEAD %s answered a body of %d bytes", tc.path, len(r.Body))
			}
			if got, want := r.Header.Get("Content-Type"), get.Header.Get("Content-Type"); got != want {
				t.Errorf("HEAD %s: Content-Type %q, GET says %q", tc.path, got, want)
			}
		}
	})
}
