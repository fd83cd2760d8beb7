package web_test

import (
	"net/http"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

func TestSignIn_AdminSeesOverviewAndNavigation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, m := h.SignIn(t, models.RoleAdmin)
		r := c.Get("/")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET / = %d", r.StatusCode)
		}
		if got := r.Doc.Find(`[data-testid="member"]`).Text(); !strings.Contains(got, m.EmailAddress) {
			t.Fatalf("member block %q lacks %s", got, m.EmailAddress)
		}
		if r.Doc.Find(`[data-testid="nav"] a`).Length() == 0 {
			t.Fatal("no navigation")
		}
	})
}
