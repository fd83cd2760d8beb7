package web_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// wantErrorPage checks that r is the error page with status and title.
func wantErrorPage(t *testing.T, r *webtest.Response, status int, title string) {
	t.Helper()
	wantStatus(t, r, status)
	if byTestID(r.Doc, "error-page").Length() != 1 {
		t.Fatalf("no error page:\n%s", r.Body)
	}
	if got := byTestID(r.Doc, "error-title").Text(); got != title {
		t.Fatalf("error page title %q, want %s", got, title)
	}
}

// wantFormExpired checks the answer to a state change without its token.
func wantFormExpired(t *testing.T, r *webtest.Response) {
	t.Helper()
	wantErrorPage(t, r, http.StatusForbidden, "Form expired")
}

func TestCSRF_PasswordChangeWithoutTokenIs403AndChangesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, old := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		c.Login(m.EmailAddress, old)
		c.Get("/account")
		next := "changed-" + models.RandomToken(12)
		webtest.Sensitive(next)

		r := c.PostRaw("/account/password", url.Values{"current": {old}, "new": {next}, "confirm": {next}})
		wantFormExpired(t, r)
		if !strings.Contains(byTestID(r.Doc, "error-message").Text(), "nothing was changed") {
			t.Fatalf("the page does not say nothing changed:\n%s", r.Body)
		}

		if n := len(auditEntries(t, db, "auth.password_change")); n != 0 {
			t.Fatalf("%d auth.password_change entries after a refused form", n)
		}
		stored, err := db.MemberByID(t.Context(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !testdb.PasswordMatches(t, stored.PasswordHash, old) || testdb.PasswordMatches(t, stored.PasswordHash, next) {
			t.Fatal("the password changed although the form was refused")
		}
		// The member is still signed in.
		wantStatus(t, c.Get("/account"), http.StatusOK)
	})
}

func TestCSRF_LogoutWithoutTokenKeepsTheSession(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, m := h.SignIn(t, models.RoleAuditor)
		wantFormExpired(t, c.PostRaw("/logout", nil))

		wantStatus(t, c.Get("/"), http.StatusOK)
		if n := len(sessionRowsOf(t, db, m.ID)); n != 1 {
			t.Fatalf("%d session rows, want 1", n)
		}
		if n := len(auditEntries(t, db, "auth.logout")); n != 0 {
			t.Fatalf("%d auth.logout entries after a refused logout", n)
		}
	})
}

func TestCSRF_WrongOrUnissuedTokenIs403(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, m := h.SignIn(t, models.RoleAdmin)
		c.Get("/")
		if c.CSRF == "" {
			t.Fatal("the overview carries no CSRF token")
		}

		wantFormExpired(t, c.PostRaw("/logout", url.Values{"_csrf": {"not-" + c.CSRF}}))
		wantFormExpired(t, c.PostRaw("/logout", nil, "X-CSRF-Token", "wrong-token-value"))

		// Double submit alone is not enough: a cookie and field that match
		// but that the portal never issued are refused too.
		forged := "forged-token-" + models.RandomHex(8)
		c.Cookies[webtest.CSRFCookie] = forged
		wantFormExpired(t, c.PostRaw("/logout", url.Values{"_csrf": {forged}}))

		if n := len(sessionRowsOf(t, db, m.ID)); n != 1 {
			t.Fatalf("%d session rows after refused logouts, want 1", n)
		}
	})
}

func TestCSRF_LoginWithoutTokenIs403(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		c.Get("/login") // has the cookie, does not send the token
		r := c.PostRaw("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}})
		wantFormExpired(t, r)
		if responseCookie(r, sessionCookieName) != nil {
			t.Fatal("a refused login set a session cookie")
		}
		if n := len(auditEntries(t, db, "auth.login")); n != 0 {
			t.Fatalf("%d auth.login entries after a refused login", n)
		}
		if n := len(sessionRowsOf(t, db, m.ID)); n != 0 {
			t.Fatalf("%d session rows after a refused login", n)
		}
	})
}

func TestCSRF_TokenInHeaderIsAccepted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, m := h.SignIn(t, models.RoleCompliance)
		c.Get("/")
		r := c.PostRaw("/logout", nil, "HX-Request", "true", "X-CSRF-Token", c.CSRF)
		wantStatus(t, r, http.StatusNoContent)
		if got := r.Header.Get("HX-Redirect"); got != "/login?signed_out=1" {
			t.Fatalf("HX-Redirect %q", got)
		}
		if n := len(sessionRowsOf(t, db, m.ID)); n != 0 {
			t.Fatalf("%d session rows after logout, want 0", n)
		}
	})
}

func TestCSRF_TokenSurvivesRestart(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		first := webtest.New(t, db)
		m, pw := first.Member(t, models.RoleAdmin)
		c := first.Client(t)
		c.Get("/login")
		token := c.CSRF

		restarted := webtest.New(t, db)
		c2 := c.On(restarted)
		r := c2.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}})
		wantRedirect(t, r, "/")
		if c2.CSRF == token {
			t.Fatal("the token was not withdrawn at sign-in")
		}
		wantStatus(t, c2.Get("/"), http.StatusOK)
	})
}

func TestCSRF_SignInWithdrawsTheVisitorsToken(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		c.Get("/login")
		visitorToken := c.CSRF
		c.Login(m.EmailAddress, pw)
		if _, kept := c.Cookies[webtest.CSRFCookie]; kept {
			t.Fatal("sign-in did not expire the CSRF cookie")
		}

		// A token seen before sign-in (say, planted by someone else) no
		// longer works for the member's session.
		c.Cookies[webtest.CSRFCookie] = visitorToken
		wantFormExpired(t, c.PostRaw("/logout", url.Values{"_csrf": {visitorToken}}))
		if n := len(sessionRowsOf(t, db, m.ID)); n != 1 {
			t.Fatalf("%d session rows, want 1", n)
		}
	})
}

func TestCSRF_AVisitorsTokenIsRefusedWithAMembersSession(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		visitor := h.Client(t)
		visitor.Get("/login")
		if visitor.CSRF == "" {
			t.Fatal("the login page carries no token")
		}
		member, m := h.SignIn(t, models.RoleAdmin)
		// Even with the visitor's cookie beside the member's session.
		member.Cookies[webtest.CSRFCookie] = visitor.Cookies[webtest.CSRFCookie]
		wantFormExpired(t, member.PostRaw("/logout", url.Values{"_csrf": {visitor.CSRF}}))
		wantFormExpired(t, member.PostRaw("/logout", nil, "X-CSRF-Token", visitor.CSRF))
		if n := len(sessionRowsOf(t, db, m.ID)); n != 1 {
			t.Fatalf("%d session rows, want 1", n)
		}
	})
}

func TestCSRF_AnotherSessionsTokenIsRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		first, _ := h.SignIn(t, models.RoleAdmin)
		first.Get("/")
		second, m := h.SignIn(t, models.RoleAdmin)
		second.Get("/")
		if first.CSRF == second.CSRF {
			t.Fatal("two sessions were given the same token")
		}
		wantFormExpired(t, second.PostRaw("/logout", url.Values{"_csrf": {first.CSRF}}))
		if n := len(sessionRowsOf(t, db, m.ID)); n != 1 {
			t.Fatalf("%d session rows, want 1", n)
		}
	})
}

func TestCSRF_ANewSignInGetsANewToken(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleCompliance)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		c.Get("/")
		firstSession := c.CSRF
		wantRedirect(t, c.Post("/logout", nil), "/login")
		c.Login(m.EmailAddress, pw)
		c.Get("/")
		if c.CSRF == "" || c.CSRF == firstSession {
			t.Fatalf("the second sign-in kept the first session's token")
		}
		wantFormExpired(t, c.PostRaw("/logout", url.Values{"_csrf": {firstSession}}))
		wantRedirect(t, c.Post("/logout", nil), "/login")
	})
}

func TestCSRF_TheQueryStringIsNoPlaceForTheToken(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, m := h.SignIn(t, models.RoleAuditor)
		c.Get("/")
		wantFormExpired(t, c.PostRaw("/logout?_csrf="+url.QueryEscape(c.CSRF), nil))
		if n := len(sessionRowsOf(t, db, m.ID)); n != 1 {
			t.Fatalf("%d session rows, want 1", n)
		}
	})
}

func TestCSRF_AVisitorWithoutTheCookieIsRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		c.Get("/login")
		delete(c.Cookies, webtest.CSRFCookie)
		wantFormExpired(t, c.PostRaw("/login", url.Values{"_csrf": {c.CSRF}, "email": {m.EmailAddress}, "password": {pw}}))
	})
}

func TestCSRF_ARequestFromAnotherSiteIsRefusedWhateverItCarries(t *testing.T) {
	cases := []struct {
		name    string
		headers []string
		refused bool
	}{
		{"another site, modern browser", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, true},
		{"another site, Origin only", []string{"Origin", "https://evil.example"}, true},
		{"a sibling subdomain", []string{"Origin", "https://evil.example.com", "Sec-Fetch-Site", "same-site"}, true},
		{"another site naming itself null", []string{"Origin", "null"}, true},
		{"this site", []string{"Origin", "http://example.com", "Sec-Fetch-Site", "same-origin"}, false},
		{"this site, Origin only", []string{"Origin", "http://example.com"}, false},
		{"the configured public URL", []string{"Origin", "https://ledgerdesk.example.org", "Sec-Fetch-Site", "cross-site"}, false},
		{"no browser headers (not a browser)", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *models.DB) {
				h := webtest.New(t, db, func(c *web.Config) { c.PublicURL = "https://ledgerdesk.example.org" })
				c, m := h.SignIn(t, models.RoleAdmin)
				c.Get("/")
				r := c.PostRaw("/logout", url.Values{"_csrf": {c.CSRF}}, tc.headers...)
				if !tc.refused {
					wantRedirect(t, r, "/login")
					return
				}
				wantErrorPage(t, r, http.StatusForbidden, "Cross-site request refused")
				if n := len(sessionRowsOf(t, db, m.ID)); n != 1 {
					t.Fatalf("%d session rows after a refused cross-site logout, want 1", n)
				}
			})
		})
	}
}

// Pages are compressed beside what they echo, so no two may carry the
// same token bytes (BREACH): each page masks the token anew, and every
// masking of it, like the bare token, is accepted.
func TestCSRF_EveryPageCarriesTheTokenMaskedAnew(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, _ := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		var tokens []string
		for range 3 {
			c.Get("/login")
			if len(c.CSRF) != 86 || slices.Contains(tokens, c.CSRF) {
				t.Fatalf("token %q after %q", c.CSRF, tokens)
			}
			tokens = append(tokens, c.CSRF)
		}
		raw, err := base64.RawURLEncoding.DecodeString(tokens[0])
		if err != nil || len(raw) != 64 {
			t.Fatalf("token %q is not 64 bytes of base64url: %v", tokens[0], err)
		}
		bare := make([]byte, 32)
		for i := range bare {
			bare[i] = raw[i] ^ raw[32+i]
		}
		login := func(token string) *webtest.Response {
			return c.PostRaw("/login", url.Values{"_csrf": {token}, "email": {m.EmailAddress}, "password": {typedPassword()}})
		}
		for _, token := range append(tokens, base64.RawURLEncoding.EncodeToString(bare)) {
			// Past the token check, the password is wrong.
			wantStatus(t, login(token), http.StatusUnauthorized)
		}

		tampered := slices.Clone(raw)
		tampered[40] ^= 1
		for _, token := range []string{
			base64.RawURLEncoding.EncodeToString(tampered),
			base64.RawURLEncoding.EncodeToString(raw[32:]), // the masked half alone
			tokens[0][:85], tokens[0] + "A", "=" + tokens[0][1:],
			strings.Repeat("\x00", 86), "\xff\xfe" + tokens[0][2:], strings.Repeat(tokens[0], 1000),
		} {
			wantFormExpired(t, login(token))
		}
	})
}
