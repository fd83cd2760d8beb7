package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

func wantSecurityHeaders(t *testing.T, what string, r *webtest.Response) {
	t.Helper()
	csp := r.Header.Get("Content-Security-Policy")
	switch {
	case csp == "":
		t.Errorf("%s: no Content-Security-Policy", what)
	case strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval"):
		t.Errorf("%s: CSP allows inline code: %q", what, csp)
	case !strings.Contains(csp, "frame-ancestors 'none'"):
		t.Errorf("%s: CSP without frame-ancestors 'none': %q", what, csp)
	case !strings.Contains(csp, "script-src 'self'"):
		t.Errorf("%s: CSP without script-src 'self': %q", what, csp)
	}
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", what, got)
	}
	if got := r.Header.Get("Referrer-Policy"); got == "" || got == "unsafe-url" {
		t.Errorf("%s: Referrer-Policy %q", what, got)
	}
	if got := r.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options %q", what, got)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s: no X-Request-Id", what)
	}
}

func TestHeaders_EveryKindOfResponseCarriesTheSecurityHeaders(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		anon := h.Client(t)
		member, _ := h.SignIn(t, models.RoleAuditor)

		cases := []struct {
			what   string
			r      *webtest.Response
			status int
		}{
			{"login page", anon.Get("/login"), http.StatusOK},
			{"404 page", anon.Get("/no/such/page"), http.StatusNotFound},
			{"static file", anon.Get("/static/css/app.css"), http.StatusOK},
			{"redirect to sign in", anon.Get("/account"), http.StatusSeeOther},
			{"health check", anon.Get("/healthz"), http.StatusOK},
			{"overview", member.Get("/"), http.StatusOK},
			{"htmx fragment", member.Get("/", webtest.HTMX...), http.StatusOK},
			{"refused form", member.PostRaw("/logout", nil), http.StatusForbidden},
		}
		for _, c := range cases {
			if c.r.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d", c.what, c.r.StatusCode, c.status)
			}
			wantSecurityHeaders(t, c.what, c.r)
		}
	})
}

// wantNoInlineCode fails on anything a strict CSP would block or that
// needs 'unsafe-inline' / 'unsafe-eval': inline scripts, style elements
// and attributes, event-handler attributes, hx-on.
func wantNoInlineCode(t *testing.T, what string, doc *goquery.Document) {
	t.Helper()
	if doc.Find("script").Length() == 0 {
		t.Errorf("%s: no scripts at all; is this the full page?", what)
	}
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src, ok := s.Attr("src"); !ok || src == "" {
			t.Errorf("%s: inline <script>: %s", what, s.Text())
		}
	})
	if n := doc.Find("style").Length(); n != 0 {
		t.Errorf("%s: %d <style> elements", what, n)
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			name := strings.ToLower(a.Key)
			if name == "style" || strings.HasPrefix(name, "on") || strings.HasPrefix(name, "hx-on") ||
				strings.HasPrefix(name, "data-hx-on") {
				t.Errorf("%s: <%s %s=%q>", what, s.Nodes[0].Data, a.Key, a.Val)
			}
			if (name == "href" || name == "src" || name == "action") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
				t.Errorf("%s: javascript: URL in <%s %s>", what, s.Nodes[0].Data, a.Key)
			}
		}
	})
}

func TestHeaders_PagesHaveNoInlineScriptOrStyle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		anon := h.Client(t)
		login := anon.Get("/login")
		wantNoInlineCode(t, "login page", login.Doc)

		member, _ := h.SignIn(t, models.RoleAdmin)
		overview := member.Get("/")
		wantStatus(t, overview, http.StatusOK)
		wantNoInlineCode(t, "overview", overview.Doc)
		wantNoInlineCode(t, "account page", member.Get("/account").Doc)

		// The scripts and styles a page names are served, with the right
		// type (nosniff would refuse them otherwise).
		for _, sel := range []string{"script[src]", `link[rel="stylesheet"]`} {
			overview.Doc.Find(sel).Each(func(_ int, s *goquery.Selection) {
				ref, _ := s.Attr("src")
				if ref == "" {
					ref, _ = s.Attr("href")
				}
				r := anon.Get(ref)
				wantStatus(t, r, http.StatusOK)
				ct := r.Header.Get("Content-Type")
				if sel == "script[src]" && !strings.Contains(ct, "javascript") || sel != "script[src]" && !strings.Contains(ct, "text/css") {
					t.Errorf("%s served as %q", ref, ct)
				}
			})
		}
	})
}

func TestHeaders_XForwardedForIgnoredUnlessTheProxyIsTrusted(t *testing.T) {
	const forwarded = "203.0.113.9"
	cases := []struct {
		name      string
		trusted   []string
		forwarded string
		wantIP    string
	}{
		{"untrusted by default", nil, forwarded, webtest.ClientIP},
		{"the client is not the trusted proxy", []string{"198.51.100.7"}, forwarded, webtest.ClientIP},
		{"trusted proxy", []string{webtest.ClientIP}, forwarded, forwarded},
		// The client writes everything left of what the proxy appended.
		{"a forged entry left of the proxy's", []string{webtest.ClientIP}, "6.6.6.6, " + forwarded, forwarded},
		{"the rightmost address that is not a trusted proxy", []string{"0.0.0.0/8", "203.0.113.0/24"},
			"6.6.6.6, 198.51.100.4, 203.0.113.9, 203.0.113.10", "198.51.100.4"},
		{"IPv6 ranges", []string{webtest.ClientIP, "2001:db8:1::/48"}, "6.6.6.6, 2001:db8:2::5, 2001:db8:1::1", "2001:db8:2::5"},
		{"only trusted proxies forwarded", []string{webtest.ClientIP, "203.0.113.0/24"}, forwarded, webtest.ClientIP},
		{"a trusted proxy forwarded garbage", []string{webtest.ClientIP}, "6.6.6.6, not-an-address", webtest.ClientIP},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *models.DB) {
				h := webtest.New(t, db, func(c *web.Config) { c.TrustedProxies = tc.trusted })
				m, pw := h.Member(t, models.RoleAdmin)
				c := h.Client(t)
				r := c.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}}, "X-Forwarded-For", tc.forwarded)
				wantRedirect(t, r, "/")

				rows := sessionRowsOf(t, db, m.ID)
				if len(rows) != 1 || rows[0].IP != tc.wantIP {
					t.Fatalf("session rows %+v, want one with ip %s", rows, tc.wantIP)
				}
				logins := auditEntries(t, db, "auth.login")
				if len(logins) != 1 || logins[0].IP != tc.wantIP {
					t.Fatalf("auth.login entries %+v, want one with ip %s", logins, tc.wantIP)
				}
			})
		})
	}
}

func TestHeaders_TrustedProxiesMustBeAddressesOrRanges(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0.1:8080", "fe80::1%eth0"} {
		_, err := web.Setup(web.Config{SessionKey: webtest.TestSessionKey, TrustedProxies: []string{bad}}, testdb.SQLite(t))
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("trusted proxy %q: Setup returned %v, want an error naming it", bad, err)
		}
	}
}
