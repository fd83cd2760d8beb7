package web_test

import (
	"net/http"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

func TestHealthz_AnswersOK(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		r := h.Client(t).Get("/healthz")
		wantStatus(t, r, http.StatusOK)
		if r.Body != "ok" {
			t.Fatalf("body %q", r.Body)
		}
		if _, set := r.Header["Set-Cookie"]; set {
			t.Fatal("a health check set a cookie")
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
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		// The process itself is still alive.
		wantStatus(t, c.Get("/healthz"), http.StatusOK)
	})
}
