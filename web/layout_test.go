package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

func TestNavigation_InOrderOfUseWithTheAPIPageForAdmins(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		want := map[models.Role][]string{
			models.RoleAdmin:      {"/", "/users", "/audit", "/approvals", "/team", "/api-keys", "/webhooks", "/settings", "/api"},
			models.RoleCompliance: {"/", "/users", "/audit"},
			models.RoleAuditor:    {"/", "/users", "/audit"},
		}
		for _, role := range models.Roles {
			c, _ := h.SignIn(t, role)
			r := c.Get("/")
			wantStatus(t, r, http.StatusOK)
			var got []string
			r.Doc.Find(`[data-testid="nav"] a`).Each(func(_ int, a *goquery.Selection) {
				got = append(got, a.AttrOr("href", ""))
			})
			if !slices.Equal(got, want[role]) {
				t.Errorf("%s's navigation is %q, want %q", role, got, want[role])
			}
			// Every link is one the role may follow.
			for _, path := range got {
				wantStatus(t, c.Get(path), http.StatusOK)
			}
		}
	})
}

func TestNavigation_FoldsIntoAMenuButton(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		r := c.Get("/users")
		wantStatus(t, r, http.StatusOK)
		toggle := byTestID(r.Doc, "nav-toggle")
		if goquery.NodeName(toggle) != "button" || toggle.AttrOr("type", "") != "button" || toggle.AttrOr("aria-expanded", "") != "false" {
			t.Fatalf("the menu button is %s", goquery.NodeName(toggle))
		}
		menu := r.Doc.Find("#" + toggle.AttrOr("aria-controls", "-"))
		if menu.Length() != 1 || menu.Find(`[data-testid="nav"]`).Length() != 1 || menu.Find(`[data-testid="logout"]`).Length() != 1 {
			t.Fatal("the menu button does not control the navigation and the sign-out")
		}
		if cur := byTestID(r.Doc, "nav-/users").AttrOr("aria-current", ""); cur != "page" {
			t.Errorf("the current page's link has aria-current %q", cur)
		}
	})
}

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

// Flash messages are announced: they sit in one polite status region that
// every page has, empty or not, and an htmx answer changes what the region
// holds instead of replacing it (a new live region is not announced).
func TestFlash_MessagesAreInALiveStatusRegionOnEveryPageAndSwappedIntoIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		u := createUser(t, db, nil).User

		wantRegion := func(what string, r *webtest.Response) *goquery.Selection {
			t.Helper()
			region := r.Doc.Find("#flash")
			if region.Length() != 1 || region.AttrOr("role", "") != "status" || region.AttrOr("aria-live", "") != "polite" {
				t.Fatalf("%s: the flash area is not one polite status region:\n%s", what, r.Body)
			}
			return region
		}
		if region := wantRegion("a page without messages", c.Get(userPath(u.ID))); region.Children().Length() != 0 {
			t.Fatal("a page without messages shows some")
		}

		wantRedirect(t, c.Post(userPath(u.ID, "/reset-login"), nil), userPath(u.ID))
		page := c.Get(userPath(u.ID))
		region := wantRegion("the page after a form", page)
		msg := byTestIDIn(region, "flash")
		if msg.Length() != 1 || !strings.Contains(text(msg), "0 items") {
			t.Fatalf("the message is not in the region:\n%s", page.Body)
		}
		// One live region: the message is not another one inside it.
		if _, nested := msg.Attr("role"); nested {
			t.Fatalf("the message has a role of its own: %s", msg.AttrOr("role", ""))
		}

		hx := c.Post(userPath(u.ID, "/reset-login"), nil, htmxTo("user-items")...)
		wantStatus(t, hx, http.StatusOK)
		oob := hx.Doc.Find(`#flash[hx-swap-oob]`)
		if oob.Length() != 1 || oob.AttrOr("hx-swap-oob", "") != "innerHTML" || byTestIDIn(oob, "flash").Length() != 1 {
			t.Fatalf("the htmx answer does not put its message into the region:\n%s", hx.Body)
		}
	})
}
