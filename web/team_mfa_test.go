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

// signInWithCode signs the client in with the password and a code.
func signInWithCode(t *testing.T, c *webtest.Client, clock *mfaClock, m *models.TeamMember, pw, secret string) {
	t.Helper()
	signInWithPassword(t, c, m.EmailAddress, pw)
	clock.Step()
	wantRedirect(t, c.Post("/login/mfa", url.Values{"code": {clock.code(t, secret)}}), "/")
	wantStatus(t, c.Get("/"), http.StatusOK)
}

func TestTeamShow_SaysWhetherAndSinceWhenTheMemberUsesTwoStepSignIn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		clock := newMFAClock(h)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		m, pw := h.Member(t, models.RoleCompliance)

		off := admin.Get("/team/" + m.ID)
		wantStatus(t, off, http.StatusOK)
		if state, _ := byTestID(off.Doc, "member-mfa").Attr("data-mfa"); state != "off" {
			t.Fatalf("a member without two-step sign-in shows %q:\n%s", state, off.Body)
		}
		if byTestID(off.Doc, "member-mfa-reset").Length() != 0 {
			t.Fatal("a reset is offered for a member without two-step sign-in")
		}

		enrolMember(t, h, clock, m, pw)
		on := admin.Get("/team/" + m.ID)
		state := byTestID(on.Doc, "member-mfa")
		if v, _ := state.Attr("data-mfa"); v != "on" || !strings.Contains(state.Text(), "2026-03-02 09:00") || utcTitle(state) != "2026-03-02 09:00:00 UTC" {
			t.Fatalf("an enrolled member shows %q (%s, %s), want on since 2026-03-02 09:00 UTC", state.Text(), v, utcTitle(state))
		}
		if href, _ := byTestID(on.Doc, "member-mfa-reset").Attr("href"); href != "/team/"+m.ID+"/mfa-reset" {
			t.Fatalf("the reset link is %q", href)
		}
	})
}

func TestTeamMFAReset_AfterConfirmingRemovesTheFactorAndEndsTheirSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		clock := newMFAClock(h)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		m, pw := h.Member(t, models.RoleCompliance)
		secret := enrolMember(t, h, clock, m, pw)
		reviewer := h.Client(t)
		signInWithCode(t, reviewer, clock, m, pw, secret)

		// The member page leads to a confirmation, which changes nothing.
		confirm := admin.Get("/team/" + m.ID + "/mfa-reset")
		wantStatus(t, confirm, http.StatusOK)
		form := byTestID(confirm.Doc, "mfa-reset-form")
		if action, _ := form.Attr("action"); action != "/team/"+m.ID+"/mfa-reset" || form.Find(`input[name="_csrf"]`).Length() != 1 {
			t.Fatalf("the confirmation's form posts to %q:\n%s", action, confirm.Body)
		}
		if on, _ := db.MFAEnabled(t.Context(), m.ID); !on {
			t.Fatal("opening the confirmation reset two-step sign-in")
		}

		wantRedirect(t, admin.Post("/team/"+m.ID+"/mfa-reset", url.Values{}), "/team/"+m.ID)
		page := admin.Get("/team/" + m.ID)
		if flash := byTestID(page.Doc, "flash").Text(); !strings.Contains(flash, "was reset") || !strings.Contains(flash, "1 session ended") {
			t.Fatalf("the flash says %q", flash)
		}
		if state, _ := byTestID(page.Doc, "member-mfa").Attr("data-mfa"); state != "off" {
			t.Fatalf("after the reset the page shows %q", state)
		}
		es := entriesWithAction(t, db, "team.mfa_reset")
		if len(es) != 1 || es[0].TargetID != m.ID || es[0].ActorType != models.ActorMember {
			t.Fatalf("team.mfa_reset entries %+v", es)
		}

		// The member's open session is over; the password alone signs in.
		wantRedirect(t, reviewer.Get("/users"), "/login")
		again := h.Client(t)
		again.Login(m.EmailAddress, pw)
		wantStatus(t, again.Get("/"), http.StatusOK)
	})
}

func TestTeamMFAReset_RefusedForOnesOwnAndForAMemberWithoutIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		clock := newMFAClock(h)
		admin, pw := h.Member(t, models.RoleAdmin)
		secret := enrolMember(t, h, clock, admin, pw)
		c := h.Client(t)
		signInWithCode(t, c, clock, admin, pw, secret)

		own := c.Get("/team/" + admin.ID)
		if byTestID(own.Doc, "member-mfa-reset").Length() != 0 || byTestID(own.Doc, "member-mfa-own").Length() != 1 {
			t.Fatalf("one's own page should lead to /account/mfa, not to a reset:\n%s", own.Body)
		}
		confirm := c.Get("/team/" + admin.ID + "/mfa-reset")
		wantStatus(t, confirm, http.StatusOK)
		if byTestID(confirm.Doc, "mfa-reset-self").Length() != 1 || byTestID(confirm.Doc, "mfa-reset-form").Length() != 0 {
			t.Fatalf("the confirmation for one's own offers a reset:\n%s", confirm.Body)
		}
		refused := c.Post("/team/"+admin.ID+"/mfa-reset", url.Values{})
		wantStatus(t, refused, http.StatusForbidden)
		if msg := byTestID(refused.Doc, "team-error").Text(); !strings.Contains(msg, "your own") {
			t.Fatalf("the refusal says %q", msg)
		}
		if on, _ := db.MFAEnabled(t.Context(), admin.ID); !on {
			t.Fatal("a refused reset turned two-step sign-in off")
		}
		wantStatus(t, c.Get("/"), http.StatusOK)

		plain, _ := h.Member(t, models.RoleAuditor)
		if byTestID(c.Get("/team/"+plain.ID+"/mfa-reset").Doc, "mfa-reset-nothing").Length() != 1 {
			t.Fatal("the confirmation for a member without two-step sign-in does not say there is nothing to reset")
		}
		nothing := c.Post("/team/"+plain.ID+"/mfa-reset", url.Values{})
		wantStatus(t, nothing, http.StatusConflict)
		if msg := byTestID(nothing.Doc, "team-error").Text(); !strings.Contains(msg, "nothing to reset") {
			t.Fatalf("the refusal says %q", msg)
		}
		if n := len(entriesWithAction(t, db, "team.mfa_reset")); n != 0 {
			t.Fatalf("%d team.mfa_reset entries after refusals", n)
		}
	})
}

func TestAccountMFASetup_AWrongPasswordIs422BesideTheFieldAndWritesNoSecret(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAuditor)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		c.Get("/account/mfa")

		for _, headers := range [][]string{nil, webtest.HTMX} {
			r := c.Post("/account/mfa/setup", url.Values{"password": {"not my password at all"}}, headers...)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if msg := byTestID(r.Doc, "error-password").Text(); !strings.Contains(msg, "not your password") {
				t.Fatalf("the password field says %q:\n%s", msg, r.Body)
			}
			if byTestID(r.Doc, "mfa-secret").Length() != 0 || byTestID(r.Doc, "mfa-start").Length() != 1 {
				t.Fatalf("a wrong password showed a secret, or no way to try again:\n%s", r.Body)
			}
		}
		if n := len(entriesWithAction(t, db, "auth.mfa_setup")); n != 0 {
			t.Fatalf("%d auth.mfa_setup entries after wrong passwords", n)
		}
		var rows int64
		db.Gorm().Model(&models.MemberMFA{}).Count(&rows)
		if rows != 0 {
			t.Fatalf("%d member_mfa rows after wrong passwords", rows)
		}

		// Throttled as sign-in is: past the limit even the right password
		// waits, and says so beside the field.
		for i := 2; i < models.MaxAccountFailures; i++ {
			c.Post("/account/mfa/setup", url.Values{"password": {"another wrong guess"}})
		}
		c.Post("/account/mfa/setup", url.Values{"password": {"the last wrong guess"}})
		throttled := c.Post("/account/mfa/setup", url.Values{"password": {pw}})
		wantStatus(t, throttled, http.StatusTooManyRequests)
		if msg := byTestID(throttled.Doc, "error-password").Text(); !strings.Contains(msg, "Too many") {
			t.Fatalf("the throttled attempt says %q", msg)
		}
		db.Gorm().Model(&models.MemberMFA{}).Count(&rows)
		if rows != 0 {
			t.Fatal("a throttled attempt started the setup")
		}
	})
}

func TestAccountMFASetup_StartingAgainAsksForThePasswordToo(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleCompliance)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		c.Get("/account/mfa")
		wantRedirect(t, c.Post("/account/mfa/setup", url.Values{"password": {pw}}), "/account/mfa")
		page := c.Get("/account/mfa")
		first := byTestID(page.Doc, "mfa-secret").Text()
		webtest.Sensitive(strings.ReplaceAll(first, " ", ""))
		if page.Doc.Find(`form[action="/account/mfa/setup"] input[name="password"][type="password"]`).Length() != 1 {
			t.Fatalf("starting again does not ask for the password:\n%s", page.Body)
		}
		wrong := c.Post("/account/mfa/setup", url.Values{"password": {"a wrong one"}})
		wantStatus(t, wrong, http.StatusUnprocessableEntity)
		if byTestID(wrong.Doc, "error-password").Length() != 1 || byTestID(wrong.Doc, "mfa-secret").Text() != first {
			t.Fatalf("a wrong password when starting again replaced the secret or put no message beside the field:\n%s", wrong.Body)
		}
	})
}
