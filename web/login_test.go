package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

const badCredentials = "Email or password is incorrect."

// typedPassword is a wrong password a test types: registered so the log
// scan proves it never reached the log.
func typedPassword() string {
	pw := "typed-" + models.RandomToken(12)
	webtest.Sensitive(pw)
	return pw
}

// wantLoginRefused checks the login form re-rendered with an error.
func wantLoginRefused(t *testing.T, r *webtest.Response, status int, message, email string) {
	t.Helper()
	wantStatus(t, r, status)
	if got := byTestID(r.Doc, "login-error").Text(); !strings.Contains(got, message) {
		t.Fatalf("login error %q, want %q", got, message)
	}
	if got, _ := r.Doc.Find(`input[name="email"]`).Attr("value"); got != email {
		t.Fatalf("email field %q, want the typed %q", got, email)
	}
	if pw := r.Doc.Find(`input[name="password"]`); pw.Length() != 1 {
		t.Fatal("no password field")
	} else if v, _ := pw.Attr("value"); v != "" {
		t.Fatalf("the password field was filled in: %q", v)
	}
	if responseCookie(r, sessionCookieName) != nil {
		t.Fatal("a refused sign-in set a session cookie")
	}
}

func TestLogin_WrongPasswordIs401WithMessageEmailKeptAndPasswordEmpty(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, _ := h.Member(t, models.RoleAdmin)
		wrong := typedPassword()
		r := h.Client(t).Post("/login", url.Values{"email": {m.EmailAddress}, "password": {wrong}})
		wantLoginRefused(t, r, http.StatusUnauthorized, badCredentials, m.EmailAddress)
		if strings.Contains(r.Body, wrong) {
			t.Fatal("the page echoes the typed password")
		}
		if n := len(sessionRowsOf(t, db, m.ID)); n != 0 {
			t.Fatalf("%d session rows after a failed sign-in", n)
		}
	})
}

func TestLogin_UnknownEmailGetsTheSameMessage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		email := "nobody-" + strings.ToLower(models.RandomHex(3)) + "@example.com"
		r := h.Client(t).Post("/login", url.Values{"email": {email}, "password": {typedPassword()}})
		wantLoginRefused(t, r, http.StatusUnauthorized, badCredentials, email)
	})
}

func TestLogin_AfterFiveFailuresEvenTheRightPasswordIsThrottled(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		for i := 0; i < models.MaxAccountFailures; i++ {
			r := c.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {typedPassword()}})
			wantLoginRefused(t, r, http.StatusUnauthorized, badCredentials, m.EmailAddress)
		}
		r := c.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}})
		wantLoginRefused(t, r, http.StatusTooManyRequests, "Too many failed sign-in attempts", m.EmailAddress)
		if n := len(sessionRowsOf(t, db, m.ID)); n != 0 {
			t.Fatalf("%d session rows: the throttle let the sign-in through", n)
		}
		if n := len(auditEntries(t, db, "auth.login_failed")); n != models.MaxAccountFailures+1 {
			t.Fatalf("%d auth.login_failed entries, want %d", n, models.MaxAccountFailures+1)
		}
	})
}

func TestLogin_LoginFailureAndLogoutAreAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleCompliance)
		c := h.Client(t)
		wrong := typedPassword()

		failed := c.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {wrong}}, "User-Agent", "audit-test/2")
		wantStatus(t, failed, http.StatusUnauthorized)
		login := c.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}}, "User-Agent", "audit-test/2")
		wantRedirect(t, login, "/")
		c.Get("/")
		logout := c.Post("/logout", nil, "User-Agent", "audit-test/2")
		wantRedirect(t, logout, "/login?signed_out=1")

		for _, want := range []struct {
			action    string
			r         *webtest.Response
			actorType models.ActorType
			actorID   string
		}{
			{"auth.login_failed", failed, models.ActorAnonymous, ""},
			{"auth.login", login, models.ActorMember, m.ID},
			{"auth.logout", logout, models.ActorMember, m.ID},
		} {
			entries := auditEntries(t, db, want.action)
			if len(entries) != 1 {
				t.Fatalf("%d %s entries, want 1", len(entries), want.action)
			}
			e := entries[0]
			if e.ActorType != want.actorType || e.ActorID != want.actorID {
				t.Errorf("%s actor %s/%s, want %s/%s", want.action, e.ActorType, e.ActorID, want.actorType, want.actorID)
			}
			if e.TargetType != "team_member" || e.TargetID != m.ID {
				t.Errorf("%s target %s/%s", want.action, e.TargetType, e.TargetID)
			}
			if e.RequestID == "" || e.RequestID != want.r.Header.Get("X-Request-Id") {
				t.Errorf("%s request id %q, response said %q", want.action, e.RequestID, want.r.Header.Get("X-Request-Id"))
			}
			if e.IP != webtest.ClientIP || e.UserAgent != "audit-test/2" {
				t.Errorf("%s ip %q, user agent %q", want.action, e.IP, e.UserAgent)
			}
			if strings.Contains(e.Diff, wrong) || strings.Contains(e.Diff, pw) {
				t.Errorf("%s diff holds a password: %s", want.action, e.Diff)
			}
		}
		if d := auditEntries(t, db, "auth.login_failed")[0].Diff; !strings.Contains(d, "wrong_password") {
			t.Errorf("auth.login_failed diff %q does not give the reason", d)
		}
	})
}

func TestLogin_NextReturnsToTheRequestedPage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAuditor)
		c := h.Client(t)

		r := c.Get("/account")
		wantRedirect(t, r, "/login?next=")
		page := c.Get(r.Header.Get("Location"))
		wantStatus(t, page, http.StatusOK)
		if got := byTestID(page.Doc, "login-notice").Text(); got != "Sign in to continue." {
			t.Fatalf("notice %q", got)
		}
		next, _ := page.Doc.Find(`input[name="next"]`).Attr("value")
		if next != "/account" {
			t.Fatalf("hidden next %q, want /account", next)
		}
		r = c.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}, "next": {next}})
		wantStatus(t, r, http.StatusSeeOther)
		if got := r.Header.Get("Location"); got != "/account" {
			t.Fatalf("landed on %q, want /account", got)
		}
		wantStatus(t, c.Get("/account"), http.StatusOK)
	})
}

func TestLogin_NextCannotLeaveTheSite(t *testing.T) {
	hostile := []string{
		"//evil.example",
		"//evil.example/account",
		"https://evil.example/",
		"/\\evil.example",
		"\\\\evil.example",
		"/\t/evil.example",
		"/\n/evil.example",
		"javascript:alert(1)",
		"/login?next=//evil.example",
	}
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAuditor)

		// A visitor signing in through a hostile link lands on the overview.
		c := h.Client(t)
		page := c.Get("/login?next=" + url.QueryEscape("//evil.example"))
		if got, _ := page.Doc.Find(`input[name="next"]`).Attr("value"); got != "/" {
			t.Fatalf("the form carries next %q", got)
		}
		r := c.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}, "next": {"//evil.example"}})
		wantStatus(t, r, http.StatusSeeOther)
		if got := r.Header.Get("Location"); got != "/" {
			t.Fatalf("next=//evil.example sent the member to %q", got)
		}

		// A signed-in member is redirected at once: every form of next.
		for _, next := range hostile {
			for _, r := range []*webtest.Response{
				c.Get("/login?next=" + url.QueryEscape(next)),
				c.Post("/login", url.Values{"next": {next}}),
			} {
				wantStatus(t, r, http.StatusSeeOther)
				if got := r.Header.Get("Location"); got != "/" {
					t.Errorf("%s with next=%q redirected to %q, want /", r.Request.Method, next, got)
				}
			}
		}
	})
}
