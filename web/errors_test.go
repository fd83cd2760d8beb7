package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// wantAlertFragment checks an htmx error answer: the alert for the flash
// area, not a page.
func wantAlertFragment(t *testing.T, r *webtest.Response, status int) {
	t.Helper()
	wantStatus(t, r, status)
	if !isFragment(r.Body) {
		t.Fatalf("htmx got a whole page:\n%s", r.Body)
	}
	if got := r.Header.Get("HX-Retarget"); got != "#flash" {
		t.Fatalf("HX-Retarget %q, want #flash", got)
	}
	if byTestID(r.Doc, "alert").Length() != 1 {
		t.Fatalf("no alert in:\n%s", r.Body)
	}
	if byTestID(r.Doc, "error-page").Length() != 0 {
		t.Fatal("the htmx answer holds the error page")
	}
}

func TestErrors_UnknownPathIs404Page(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		r := h.Client(t).Get("/no/such/page")
		wantStatus(t, r, http.StatusNotFound)
		if byTestID(r.Doc, "error-page").Length() != 1 {
			t.Fatalf("no error page:\n%s", r.Body)
		}
		if got := byTestID(r.Doc, "error-status").Text(); got != "404" {
			t.Fatalf("error status %q", got)
		}
		if got := byTestID(r.Doc, "error-title").Text(); got != "Not found" {
			t.Fatalf("title %q", got)
		}
		if !strings.Contains(r.Doc.Find("title").Text(), "Not found") {
			t.Fatalf("<title> %q", r.Doc.Find("title").Text())
		}
	})
}

func TestErrors_ForbiddenRoleGets403PageWithMessage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := newProbeHarness(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		r := c.Get("/probe/admins")
		wantStatus(t, r, http.StatusForbidden)
		if byTestID(r.Doc, "error-page").Length() != 1 {
			t.Fatalf("no error page:\n%s", r.Body)
		}
		if got := byTestID(r.Doc, "error-message").Text(); got != "Your role does not give access to this page or action." {
			t.Fatalf("403 page says %q", got)
		}
		if strings.Contains(r.Body, "probe ok") {
			t.Fatal("the handler ran for a forbidden role")
		}
		// Signed in: the page leads back to the overview, in the layout.
		if byTestID(r.Doc, "member").Length() != 1 {
			t.Fatal("the 403 page lost the signed-in layout")
		}
	})
}

func TestErrors_HTMXGets403And404AsAlertPartial(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := newProbeHarness(t, db)
		c, _ := h.SignIn(t, models.RoleCompliance)

		r := c.Get("/probe/admins", webtest.HTMX...)
		wantAlertFragment(t, r, http.StatusForbidden)
		if !strings.Contains(byTestID(r.Doc, "alert").Text(), "Your role does not give access") {
			t.Fatalf("alert says %q", byTestID(r.Doc, "alert").Text())
		}

		r = c.Get("/no/such/partial", webtest.HTMX...)
		wantAlertFragment(t, r, http.StatusNotFound)
		if !strings.Contains(byTestID(r.Doc, "alert").Text(), r.Header.Get("X-Request-Id")) {
			t.Fatal("the alert does not show the request id")
		}
	})
}

func TestErrors_PanicIs500PageWithRequestIDAndNoDetails(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		const detail = "panic-detail-do-not-show-7f3a"
		h.App.Get("/test-panic", func(*fiber.Ctx) error { panic(detail) })
		c := h.Client(t)

		r := c.Get("/test-panic")
		wantStatus(t, r, http.StatusInternalServerError)
		id := r.Header.Get("X-Request-Id")
		if id == "" {
			t.Fatal("the panic skipped the request id middleware")
		}
		if got := byTestID(r.Doc, "request-id").Text(); got != id {
			t.Fatalf("page shows request id %q, header says %q", got, id)
		}
		if strings.Contains(r.Body, detail) || strings.Contains(r.Body, "goroutine") {
			t.Fatalf("the page leaks the panic:\n%s", r.Body)
		}
		if got := byTestID(r.Doc, "error-title").Text(); got != "Something went wrong" {
			t.Fatalf("title %q", got)
		}
		wantSecurityHeaders(t, "500 page", r)

		hx := c.Get("/test-panic", webtest.HTMX...)
		wantAlertFragment(t, hx, http.StatusInternalServerError)
		if strings.Contains(hx.Body, detail) {
			t.Fatal("the htmx alert leaks the panic")
		}

		// The app keeps serving.
		wantStatus(t, c.Get("/login"), http.StatusOK)
	})
}

func TestRender_HTMXGetsTheFragmentOthersThePageAndVaryKeepsThemApart(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)

		varyHX := func(r *webtest.Response) bool {
			for _, v := range r.Header.Values("Vary") {
				for _, part := range strings.Split(v, ",") {
					if strings.EqualFold(strings.TrimSpace(part), "HX-Request") {
						return true
					}
				}
			}
			return false
		}

		page := c.Get("/")
		wantStatus(t, page, http.StatusOK)
		if isFragment(page.Body) || byTestID(page.Doc, "nav").Length() != 1 {
			t.Fatalf("a plain GET / did not get the full page:\n%s", page.Body)
		}
		if !varyHX(page) {
			t.Fatalf("page Vary %q lacks HX-Request", page.Header.Values("Vary"))
		}

		frag := c.Get("/", webtest.HTMX...)
		wantStatus(t, frag, http.StatusOK)
		if !isFragment(frag.Body) || byTestID(frag.Doc, "nav").Length() != 0 {
			t.Fatalf("htmx GET / got the whole page:\n%s", frag.Body)
		}
		if byTestID(frag.Doc, "home-title").Length() != 1 {
			t.Fatalf("the fragment lacks the overview:\n%s", frag.Body)
		}
		if !varyHX(frag) {
			t.Fatalf("fragment Vary %q lacks HX-Request", frag.Header.Values("Vary"))
		}

		restore := c.Get("/", "HX-Request", "true", "HX-History-Restore-Request", "true")
		wantStatus(t, restore, http.StatusOK)
		if isFragment(restore.Body) || byTestID(restore.Doc, "home-title").Length() != 1 {
			t.Fatalf("a history restore did not get the full page:\n%s", restore.Body)
		}

		notFound := c.Get("/missing")
		if !varyHX(notFound) {
			t.Fatalf("404 Vary %q lacks HX-Request", notFound.Header.Values("Vary"))
		}
	})
}
