package web_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// sessionID decodes a session cookie with the test key.
func sessionID(t *testing.T, cookieValue string) string {
	t.Helper()
	var id string
	if err := securecookie.New(webtest.TestSessionKey, nil).Decode(sessionCookieName, cookieValue, &id); err != nil {
		t.Fatalf("decode session cookie: %v", err)
	}
	return id
}

// loginResponse signs in through the form and returns the response.
func loginResponse(t *testing.T, c *webtest.Client, email, password string, headers ...string) *webtest.Response {
	t.Helper()
	r := c.Post("/login", url.Values{"email": {email}, "password": {password}}, headers...)
	wantRedirect(t, r, "/")
	return r
}

func TestSessionCookie_HttpOnlyLaxRootPathAndNotSecureByDefault(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAdmin)
		r := loginResponse(t, h.Client(t), m.EmailAddress, pw)
		ck := responseCookie(r, sessionCookieName)
		if ck == nil {
			t.Fatalf("no %s cookie set at sign-in; Set-Cookie: %q", sessionCookieName, r.Header.Values("Set-Cookie"))
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
			t.Fatalf("cookie flags: %q", ck.Raw)
		}
		if ck.Secure {
			t.Fatalf("cookie is Secure without SecureCookies (it would not reach a plain-HTTP portal): %q", ck.Raw)
		}
		if r.Header.Get("Strict-Transport-Security") != "" {
			t.Fatal("HSTS sent without SecureCookies")
		}
	})
}

func TestSessionCookie_SecureAndHSTSWithSecureCookies(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db, func(c *web.Config) { c.SecureCookies = true })
		m, pw := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		page := c.Get("/login")
		if got := page.Header.Get("Strict-Transport-Security"); !strings.Contains(got, "max-age=") {
			t.Fatalf("login page Strict-Transport-Security %q", got)
		}
		// __Host- names: a browser takes such a cookie only from this
		// host, over TLS, for the whole site, so no sibling subdomain can
		// plant one.
		hostOnly := func(ck *http.Cookie) bool {
			return ck != nil && ck.Secure && ck.HttpOnly && ck.Path == "/" && ck.Domain == "" && ck.SameSite == http.SameSiteLaxMode
		}
		if ck := responseCookie(page, "__Host-"+webtest.CSRFCookie); !hostOnly(ck) {
			t.Fatalf("visitor CSRF cookie with SecureCookies: %v; Set-Cookie %q", ck, page.Header.Values("Set-Cookie"))
		}
		r := loginResponse(t, c, m.EmailAddress, pw)
		if ck := responseCookie(r, "__Host-"+sessionCookieName); !hostOnly(ck) {
			t.Fatalf("session cookie with SecureCookies: %v; Set-Cookie %q", ck, r.Header.Values("Set-Cookie"))
		}
		if r.Header.Get("Strict-Transport-Security") == "" {
			t.Fatal("no HSTS on the sign-in response")
		}
		if got := c.Get("/"); got.Header.Get("Strict-Transport-Security") == "" {
			t.Fatal("no HSTS on the overview")
		}
	})
}

func TestSessionCookie_CarriesOnlyASignedRandomIDAndTheRowHoldsTheRest(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleCompliance)
		before := models.Now()
		r := loginResponse(t, h.Client(t), m.EmailAddress, pw, "User-Agent", "ledgerdesk-test/1.0")
		ck := responseCookie(r, sessionCookieName)
		if ck == nil {
			t.Fatal("no session cookie")
		}
		for _, secret := range []string{m.ID, m.EmailAddress, strings.Split(m.EmailAddress, "@")[0]} {
			if strings.Contains(ck.Value, secret) {
				t.Fatalf("the cookie carries %q", secret)
			}
		}
		id := sessionID(t, ck.Value)
		if len(id) < 40 || strings.Contains(id, m.ID) || strings.Contains(id, m.EmailAddress) {
			t.Fatalf("session id %q is not a long random value", id)
		}

		var rows []models.Session
		if err := db.Gorm().Where("member_id = ?", m.ID).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("%d session rows, want 1", len(rows))
		}
		row := rows[0]
		if row.IDHash != models.HashToken(id) {
			t.Fatalf("row keyed by %q, want the SHA-256 of the cookie's id", row.IDHash)
		}
		if row.IDHash == id {
			t.Fatal("the row holds the id itself")
		}
		if row.IP != webtest.ClientIP || row.UserAgent != "ledgerdesk-test/1.0" {
			t.Fatalf("row ip %q, user agent %q", row.IP, row.UserAgent)
		}
		if row.CreatedAt.Before(before.Add(-time.Second)) || row.CreatedAt.After(models.Now().Add(time.Second)) {
			t.Fatalf("created_at %v, signed in at %v", row.CreatedAt, before)
		}
		if !row.LastSeenAt.Equal(row.CreatedAt) {
			t.Fatalf("last_seen_at %v, created_at %v", row.LastSeenAt, row.CreatedAt)
		}
		if got := row.ExpiresAt.Sub(row.CreatedAt); got != 12*time.Hour {
			t.Fatalf("expires %v after creation, want the absolute timeout 12h", got)
		}
	})
}

func TestLogin_IssuesANewSessionIDEachTime(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		a, pwA := h.Member(t, models.RoleAdmin)
		b, pwB := h.Member(t, models.RoleAuditor)
		c := h.Client(t)

		first := sessionID(t, responseCookie(c.Login(a.EmailAddress, pwA), sessionCookieName).Value)
		c.Get("/")
		wantRedirect(t, c.Post("/logout", nil), "/login")
		second := responseCookie(loginResponse(t, c, b.EmailAddress, pwB), sessionCookieName)
		if second == nil {
			t.Fatal("no session cookie at the second sign-in")
		}
		if got := sessionID(t, second.Value); got == first {
			t.Fatal("the second sign-in reused the first session's id")
		}
	})
}

func TestLogin_ReplacesAPlantedSessionCookie(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAdmin)
		planted := "planted-" + models.RandomToken(24)
		encoded, err := securecookie.New(webtest.TestSessionKey, nil).Encode(sessionCookieName, planted)
		if err != nil {
			t.Fatal(err)
		}
		c := h.Client(t)
		c.Cookies[sessionCookieName] = encoded

		ck := responseCookie(loginResponse(t, c, m.EmailAddress, pw), sessionCookieName)
		if ck == nil {
			t.Fatal("sign-in kept the planted cookie instead of setting its own")
		}
		if got := sessionID(t, ck.Value); got == planted {
			t.Fatal("sign-in adopted the planted session id")
		}
		if sessionRow(t, db, planted) != nil {
			t.Fatal("a row exists for the planted id")
		}
		wantStatus(t, c.Get("/"), http.StatusOK)
	})
}

func TestLogout_DeletesSessionRowAndTheOldCookieStopsWorking(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, m := h.SignIn(t, models.RoleAdmin)
		old := c.Cookies[sessionCookieName]
		id := sessionID(t, old)
		if sessionRow(t, db, id) == nil {
			t.Fatal("no row for the signed-in session")
		}
		c.Get("/")
		r := c.Post("/logout", nil)
		wantRedirect(t, r, "/login?signed_out=1")
		if ck := responseCookie(r, sessionCookieName); ck == nil || (ck.MaxAge >= 0 && ck.Value != "") {
			t.Fatalf("logout did not expire the cookie: %v", ck)
		}
		if sessionRow(t, db, id) != nil {
			t.Fatal("the session row outlived the logout")
		}
		if n := len(sessionRowsOf(t, db, m.ID)); n != 0 {
			t.Fatalf("%d session rows left", n)
		}
		notice := c.Get("/login?signed_out=1")
		if got := byTestID(notice.Doc, "login-notice").Text(); got != "You have signed out." {
			t.Fatalf("login notice %q", got)
		}

		// Replaying the old cookie gets nowhere.
		replay := h.Client(t)
		replay.Cookies[sessionCookieName] = old
		wantRedirect(t, replay.Get("/"), "/login")
		wantRedirect(t, replay.Get("/account"), "/login?next=")
	})
}

// setSessionTimes moves a session row's clock fields.
func setSessionTimes(t *testing.T, db *models.DB, id string, fields map[string]any) {
	t.Helper()
	r := db.Gorm().Model(&models.Session{}).Where("id_hash = ?", models.HashToken(id)).Updates(fields)
	if r.Error != nil || r.RowsAffected != 1 {
		t.Fatalf("update session row: %v (%d rows)", r.Error, r.RowsAffected)
	}
}

func TestSession_IdleTimeoutSendsToLogin(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db, func(c *web.Config) { c.IdleTimeout = 10 * time.Minute })
		c, _ := h.SignIn(t, models.RoleAuditor)
		id := sessionID(t, c.Cookies[sessionCookieName])

		// Idle for less than the limit: still signed in, and the visit
		// restarts the idle clock.
		setSessionTimes(t, db, id, map[string]any{"last_seen_at": models.Now().Add(-9 * time.Minute)})
		wantStatus(t, c.Get("/"), http.StatusOK)
		if row := sessionRow(t, db, id); row == nil || models.Now().Sub(row.LastSeenAt) > time.Minute {
			t.Fatalf("the visit did not record activity: %+v", row)
		}

		setSessionTimes(t, db, id, map[string]any{"last_seen_at": models.Now().Add(-11 * time.Minute)})
		wantRedirect(t, c.Get("/account"), "/login?next=")
	})
}

func TestSession_AbsoluteTimeoutSendsToLogin(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		id := sessionID(t, c.Cookies[sessionCookieName])
		wantStatus(t, c.Get("/"), http.StatusOK)

		// Active a moment ago, but past the absolute limit.
		setSessionTimes(t, db, id, map[string]any{
			"last_seen_at": models.Now(), "expires_at": models.Now().Add(-time.Second),
		})
		wantRedirect(t, c.Get("/"), "/login")
	})
}

func TestSession_TamperedCookieIsAnonymous(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		good := c.Cookies[sessionCookieName]
		wantStatus(t, c.Get("/"), http.StatusOK)

		b := []byte(good)
		i := len(b) / 2
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		c.Cookies[sessionCookieName] = string(b)
		wantRedirect(t, c.Get("/"), "/login")

		// A cookie signed with another key is no better.
		var id string
		if err := securecookie.New(webtest.TestSessionKey, nil).Decode(sessionCookieName, good, &id); err != nil {
			t.Fatal(err)
		}
		foreign, err := securecookie.New(bytes.Repeat([]byte("x"), 32), nil).Encode(sessionCookieName, id)
		if err != nil {
			t.Fatal(err)
		}
		c.Cookies[sessionCookieName] = foreign
		wantRedirect(t, c.Get("/"), "/login")
	})
}

func TestSession_SurvivesRestartWithTheSameKey(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		first := webtest.New(t, db)
		c, m := first.SignIn(t, models.RoleCompliance)

		restarted := webtest.New(t, db)
		r := c.On(restarted).Get("/")
		wantStatus(t, r, http.StatusOK)
		if got := byTestID(r.Doc, "member").Text(); !strings.Contains(got, m.EmailAddress) {
			t.Fatalf("member block %q", got)
		}

		rekeyed := webtest.New(t, db, func(cfg *web.Config) { cfg.SessionKey = bytes.Repeat([]byte("r"), 32) })
		wantRedirect(t, c.On(rekeyed).Get("/"), "/login")
	})
}
