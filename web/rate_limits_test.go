package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// wantTooManyAttempts checks the answer to a credential form refused by
// the per-address limit.
func wantTooManyAttempts(t *testing.T, r *webtest.Response) {
	t.Helper()
	wantErrorPage(t, r, http.StatusTooManyRequests, "Too many attempts")
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q, want 1–60 seconds", r.Header.Get("Retry-After"))
	}
}

func TestSignInLimit_AnAddressPastTheLimitIsRefusedBeforeAnyPasswordIsChecked(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db, func(c *web.Config) {
			c.CredentialAttemptsPerMinute = 3
			c.TrustedProxies = []string{webtest.ClientIP}
		})
		m, pw := h.Member(t, models.RoleAdmin)
		admin, _ := h.SignIn(t, models.RoleAdmin) // from 0.0.0.0, before the storm
		link, _ := inviteLink(t, admin, "newcomer@example.com", models.RoleAuditor)

		attacker := h.Client(t)
		from := []string{"X-Forwarded-For", "198.51.100.66"}
		for i := 0; i < 3; i++ {
			r := attacker.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {"guess " + strconv.Itoa(i)}}, from...)
			wantStatus(t, r, http.StatusUnauthorized)
		}
		hashes := models.PasswordHashesComputed()
		failures := len(auditEntries(t, db, "auth.login_failed"))
		// Past the limit, every credential form is refused from that
		// address, the right password included, and nothing is checked.
		wantTooManyAttempts(t, attacker.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}}, from...))
		strong := "a long passphrase " + models.RandomToken(9)
		webtest.Sensitive(strong)
		wantTooManyAttempts(t, attacker.Post(link, url.Values{"password": {strong}, "confirm": {strong}}, from...))
		if n := models.PasswordHashesComputed() - hashes; n != 0 {
			t.Fatalf("%d password hashes computed for refused attempts", n)
		}
		if n := len(auditEntries(t, db, "auth.login_failed")) - failures; n != 0 {
			t.Fatalf("%d sign-in failures recorded for refused attempts", n)
		}

		// Another address is not affected.
		other := h.Client(t)
		r := other.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}}, "X-Forwarded-For", "203.0.113.5")
		wantRedirect(t, r, "/")
	})
}

func TestSignInLimit_AnIPv6AddressCountsWithItsSlash64(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db, func(c *web.Config) {
			c.CredentialAttemptsPerMinute = 2
			c.TrustedProxies = []string{webtest.ClientIP}
		})
		c := h.Client(t)
		for i, addr := range []string{"2001:db8:5:6::1", "2001:db8:5:6:ffff::2"} {
			r := c.Post("/login", url.Values{"email": {"nobody@example.com"}, "password": {"x" + strconv.Itoa(i)}}, "X-Forwarded-For", addr)
			wantStatus(t, r, http.StatusUnauthorized)
		}
		wantTooManyAttempts(t, c.Post("/login", url.Values{"email": {"nobody@example.com"}, "password": {"y"}},
			"X-Forwarded-For", "2001:db8:5:6:abcd::3"))
		r := c.Post("/login", url.Values{"email": {"nobody@example.com"}, "password": {"z"}}, "X-Forwarded-For", "2001:db8:5:7::1")
		wantStatus(t, r, http.StatusUnauthorized)
	})
}

func TestLogin_EveryHashingSlotTakenIs429WithRetryAfterAndTheEmailKept(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		c.Get("/login")
		release := models.HoldPasswordHashSlots(20 * time.Millisecond)
		r := c.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}})
		release()
		wantStatus(t, r, http.StatusTooManyRequests)
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After on a busy answer")
		}
		if v, _ := r.Doc.Find(`input[name="email"]`).Attr("value"); v != m.EmailAddress {
			t.Fatalf("the form lost the email: %q", v)
		}
		if responseCookie(r, sessionCookieName) != nil {
			t.Fatal("a busy answer set a session cookie")
		}
		// Once the server is free, the same sign-in works: the busy
		// attempt did not count against the account.
		wantRedirect(t, c.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}}), "/")
	})
}

func TestAPILimit_AKeyPastItsLimitGetsRateLimitExceeded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db, func(c *web.Config) { c.APIRequestsPerMinute = 2 })
		busy, quiet := newKey(t, db, models.ScopeRead), newKey(t, db, models.ScopeRead)
		c := h.Client(t)
		for i := 0; i < 2; i++ {
			wantOK(t, plaid(t, c, "/dashboard_user/list", busy.creds(nil)))
		}
		r := plaid(t, c, "/dashboard_user/list", busy.creds(nil))
		wantPlaidError(t, r, http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", "RATE_LIMIT")
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		// Another key has its own count, shared by both APIs.
		wantOK(t, plaid(t, c, "/dashboard_user/list", quiet.creds(nil)))
		wantStatus(t, powens(t, c, http.MethodGet, "/2.0/users", quiet.Secret).Response, http.StatusOK)
		wantPowensError(t, powens(t, c, http.MethodGet, "/2.0/users", quiet.Secret), http.StatusTooManyRequests, "tooManyRequests")
	})
}
