package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers"
	"ledgerdesk/models"
	"ledgerdesk/web"
	"ledgerdesk/web/session"
	"ledgerdesk/web/webtest"
)

// probeRoutes are routes only some roles may use. The portal's table has
// none yet, so tests add these to see the 403 path through the real
// middleware.
func probeRoutes() []web.Route {
	ok := func(c *fiber.Ctx) error { return c.SendString("probe ok") }
	return []web.Route{
		{Method: fiber.MethodGet, Path: "/probe/admins", Access: web.Admins, Handler: ok},
		{Method: fiber.MethodGet, Path: "/probe/reviewers", Access: web.Reviewers, Handler: ok},
		{Method: fiber.MethodPost, Path: "/probe/admins", Access: web.Admins, Handler: ok},
	}
}

// newProbeHarness is webtest.New over the portal's routes plus probeRoutes.
func newProbeHarness(t *testing.T, db *models.DB) *webtest.Harness {
	t.Helper()
	cfg := webtest.Config()
	app, err := web.SetupWithRoutes(cfg, db, func(h *handlers.Handler) []web.Route {
		return append(web.RouteTable(h), probeRoutes()...)
	})
	if err != nil {
		t.Fatal(err)
	}
	return &webtest.Harness{App: app, DB: db, Config: cfg}
}

// byTestID finds the elements with data-testid id.
func byTestID(doc *goquery.Document, id string) *goquery.Selection {
	return doc.Find(`[data-testid="` + id + `"]`)
}

// isFragment reports whether body is an htmx fragment rather than a page.
// goquery adds <html> to anything it parses, so look at the bytes.
func isFragment(body string) bool {
	b := strings.ToLower(body)
	return !strings.Contains(b, "<html") && !strings.Contains(b, "<!doctype")
}

// responseCookie returns the Set-Cookie for name, or nil.
func responseCookie(r *webtest.Response, name string) *http.Cookie {
	for _, ck := range r.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// sessionRowsOf returns the member's session rows.
func sessionRowsOf(t *testing.T, db *models.DB, memberID string) []models.Session {
	t.Helper()
	rows, err := db.SessionsOfMember(context.Background(), memberID)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// sessionRow returns the row for a session id, or nil.
func sessionRow(t *testing.T, db *models.DB, id string) *models.Session {
	t.Helper()
	var rows []models.Session
	if err := db.Gorm().Where("id_hash = ?", models.HashToken(id)).Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return nil
	}
	return &rows[0]
}

// auditEntries returns the audit entries with action, oldest first.
func auditEntries(t *testing.T, db *models.DB, action string) []models.AuditEntry {
	t.Helper()
	var out []models.AuditEntry
	if err := db.Gorm().Where("action = ?", action).Order("seq").Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

// wantStatus fails the test when r's status is not want.
func wantStatus(t *testing.T, r *webtest.Response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body:\n%s", r.Request.Method, r.Request.URL, r.StatusCode, want, r.Body)
	}
}

// wantRedirect fails the test unless r is a 303 whose Location starts
// with prefix.
func wantRedirect(t *testing.T, r *webtest.Response, prefix string) {
	t.Helper()
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, prefix) {
		t.Fatalf("%s %s: redirected to %q, want %q…", r.Request.Method, r.Request.URL, loc, prefix)
	}
}

// sessionCookieName is the session cookie's name, spelled once.
const sessionCookieName = session.CookieName
