package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// Success means err == nil: a database call that fails with an error the
// code did not expect is a 500 that changed nothing, never a sign-in, a
// redirect or a page saying it worked.

// wantFailedNothingSaid fails the test unless r is the 500 page and it set
// no session cookie.
func wantFailedNothingSaid(t *testing.T, r *webtest.Response) {
	t.Helper()
	wantStatus(t, r, http.StatusInternalServerError)
	if ck := responseCookie(r, sessionCookieName); ck != nil && ck.Value != "" {
		t.Fatalf("a failed request set a session cookie")
	}
}

func TestLogin_ADatabaseFailureIsA500NotASignIn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		c.Get("/login")
		testdb.FailOn(t, db, testdb.Query, "team_members")

		r := c.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}})
		wantFailedNothingSaid(t, r)
		if n := len(auditEntries(t, db, "auth.login")); n != 0 {
			t.Fatalf("%d auth.login entries after a failed sign-in", n)
		}
		if rows := sessionRowsOf(t, db, m.ID); len(rows) != 0 {
			t.Fatalf("a failed sign-in left %d session rows", len(rows))
		}
	})
}

func TestLoginMFA_ADatabaseFailureIsA500NotASignIn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		clock := newMFAClock(h)
		m, pw := h.Member(t, models.RoleCompliance)
		secret := enrolMember(t, h, clock, m, pw)
		c := h.Client(t)
		signInWithPassword(t, c, m.EmailAddress, pw)
		clock.Step()
		// The promotion inserts the completed session's row.
		testdb.FailOn(t, db, testdb.Create, "sessions")

		r := c.Post("/login/mfa", url.Values{"code": {clock.code(t, secret)}})
		wantFailedNothingSaid(t, r)
		if n := len(auditEntries(t, db, "auth.login")); n != 0 {
			t.Fatalf("%d auth.login entries after a failed code step", n)
		}
		for _, row := range sessionRowsOf(t, db, m.ID) {
			if row.MFAStage == models.SignedIn {
				t.Fatalf("a failed code step left a signed-in session")
			}
		}
	})
}

func TestAccountMFASetup_ADatabaseFailureIsA500(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAuditor)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		c.Get("/account/mfa")
		testdb.FailOn(t, db, testdb.Create, "member_mfa")

		r := c.Post("/account/mfa/setup", url.Values{"password": {pw}})
		wantStatus(t, r, http.StatusInternalServerError)
		st, err := db.MFAStatusOf(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		if st.Setup != nil || st.Enabled {
			t.Fatalf("a failed setup left %+v", st)
		}
	})
}

func TestAccountMFAConfirm_ADatabaseFailureNeverSaysItIsOn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		clock := newMFAClock(h)
		m, pw := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		secret := startSetupThroughPages(t, c, pw)
		testdb.FailOn(t, db, testdb.Create, "mfa_recovery_codes")

		r := c.Post("/account/mfa/confirm", url.Values{"code": {clock.code(t, secret)}})
		wantStatus(t, r, http.StatusInternalServerError)
		if strings.Contains(r.Body, "Two-step sign-in is on") || byTestID(r.Doc, "recovery-code").Length() > 0 {
			t.Fatalf("a failed confirmation said two-step sign-in is on:\n%s", r.Body)
		}
		if on, err := db.MFAEnabled(context.Background(), m.ID); err != nil || on {
			t.Fatalf("MFA enabled after a failed confirmation: %v, %v", on, err)
		}
	})
}
