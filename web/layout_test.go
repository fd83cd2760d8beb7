package web_test

import (
	"net/http"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

func TestLayout_FaviconIsLinkedAndServed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		anon := h.Client(t)
		member, _ := h.SignIn(t, models.RoleAuditor)
		for _, r := range []*webtest.Response{anon.Get("/login"), member.Get("/")} {
			href := r.Doc.Find(`link[rel="icon"]`).AttrOr("href", "")
			if !strings.HasPrefix(href, "/static/favicon.svg?v=") {
				t.Fatalf("%s links the icon %q", r.Request.URL.Path, href)
			}
			icon := anon.Get(href)
			wantStatus(t, icon, http.StatusOK)
			if ct := icon.Header.Get("Content-Type"); ct != "image/svg+xml" || !strings.Contains(icon.Body, "<svg") {
				t.Fatalf("the icon is served as %q", ct)
			}
		}
	})
}
