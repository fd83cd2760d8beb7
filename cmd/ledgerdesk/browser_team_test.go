package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ledgerdesk/web/webtest"
)

// The whole journey of a new team member, as the team issue states it: an
// admin invites a compliance reviewer, who accepts in a browser of their
// own, sets up TOTP, signs out, signs in with password and code, and is
// deactivated by the admin while their page is open.
func TestBrowser_InvitedReviewerEnrolsTOTPSignsInWithACodeAndIsDeactivated(t *testing.T) {
	j := startJourney(t, "--no-demo-data")
	admin, srv := j.tab, j.srv
	// The invitee browses in a browser context of their own: no cookies
	// shared with the admin's.
	inviteeCtx, cancelInvitee := chromedp.NewContext(admin.ctx, chromedp.WithNewBrowserContext())
	defer cancelInvitee()
	// Open the tab on the context itself: a tab opened under a step's
	// timeout would close when that step ends.
	if err := chromedp.Do(inviteeCtx); err != nil {
		t.Fatalf("open the invitee's browser context: %v", err)
	}
	invitee := tab{t: t, ctx: inviteeCtx, base: srv.URL}

	reviewer := "reviewer-" + randomLetters(6) + "@example.com"
	reviewerPassword := "quiet harbour " + randomLetters(8)
	webtest.Sensitive(reviewerPassword)

	admin.signIn(j.email, j.password, testid("nav"))
	admin.step("open Team, then Invite member",
		chromedp.Click(testid("nav-/team")),
		chromedp.WaitVisible(testid("team-filter")),
		chromedp.Click(testid("team-invite")),
		chromedp.WaitVisible(testid("invite-form")),
	)
	admin.step("invite a compliance reviewer",
		chromedp.SendKeys(chromedp.CSS(`#f-email`), reviewer),
		chromedp.SetValue(chromedp.CSS(`#f-invite-role`), "compliance"),
		chromedp.Click(testid("invite-submit")),
		chromedp.WaitVisible(testid("invite-panel")),
	)
	link := value(t, admin.ctx, "read the link", chromedp.Value(testid("invite-link")))
	if !strings.HasPrefix(link, srv.URL+"/invite/") {
		t.Fatalf("the invitation link is %q", link)
	}
	webtest.Sensitive(strings.TrimPrefix(link, srv.URL+"/invite/"))

	invitee.step("open the link and choose a password",
		chromedp.Navigate(link),
		chromedp.WaitVisible(testid("accept-form")),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), reviewerPassword),
		chromedp.SendKeys(chromedp.CSS(`#f-confirm`), reviewerPassword),
		chromedp.Click(testid("accept-submit")),
		chromedp.WaitVisible(testid("login-notice")),
	)
	if got := invitee.text(testid("login-notice")); !strings.Contains(got, "password is set") {
		t.Fatalf("after accepting, the login page says %q", got)
	}
	invitee.submitLogin(reviewer, reviewerPassword, testid("nav"))
	if got := invitee.text(testid("member-role")); got != "Compliance reviewer" {
		t.Fatalf("the invitee is signed in as %q", got)
	}

	// Enrolment asks for the password first: a wrong one comes back beside
	// the field (422, swapped in by htmx) and no secret is shown.
	invitee.step("open two-step sign-in from the account page",
		chromedp.Click(testid("member")),
		chromedp.WaitVisible(testid("account-mfa-link")),
		chromedp.Click(testid("account-mfa-link")),
		chromedp.WaitVisible(testid("mfa-start-form")),
	)
	invitee.step("start the setup with a wrong password",
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "not my password at all"),
		chromedp.Click(testid("mfa-start")),
		chromedp.WaitVisible(testid("error-password")),
	)
	if got := invitee.text(testid("error-password")); !strings.Contains(got, "not your password") {
		t.Fatalf("a wrong password at setup is answered %q", got)
	}
	if n := invitee.count(`[data-testid="mfa-secret"]`); n != 0 {
		t.Fatal("a wrong password showed a secret")
	}
	invitee.step("start the setup with the password",
		chromedp.SendKeys(chromedp.CSS(`#f-password`), reviewerPassword),
		chromedp.Click(testid("mfa-start")),
		chromedp.WaitVisible(testid("mfa-secret")),
		chromedp.WaitVisible(testid("mfa-qr")),
	)
	// The QR code image loaded (a data: URI the CSP allows).
	if w := value(t, invitee.ctx, "read the QR code's width", chromedp.Evaluate[int](
		`document.querySelector('[data-testid="mfa-qr"]').naturalWidth`)); w != 200 {
		t.Fatalf("the QR code image is %d pixels wide, want 200 (did it load?)", w)
	}
	secret := invitee.confirmTOTP()
	if len(secret) != 32 {
		t.Fatalf("the page shows the secret %q", secret)
	}
	if n := invitee.count(`[data-testid="recovery-code"]`); n != 10 {
		t.Fatalf("%d recovery codes shown, want 10", n)
	}
	invitee.step("continue",
		chromedp.Click(testid("recovery-codes-continue")),
		chromedp.WaitVisible(testid("mfa-status")),
	)
	invitee.signOut()

	// Signing in again asks for the code after the password. The code of
	// the next time step is one the app shows within thirty seconds, and
	// newer than the one that confirmed the setup.
	invitee.submitLogin(reviewer, reviewerPassword, testid("login-mfa-form"))
	if loc := invitee.location(); !strings.HasPrefix(loc, srv.URL+"/login/mfa") {
		t.Fatalf("after the password the reviewer is at %s, want the code step", loc)
	}
	invitee.giveCode(authenticatorCode(t, secret, time.Now().Add(30*time.Second)), testid("nav-/users"))
	if got := invitee.text(testid("member")); !strings.Contains(got, reviewer) {
		t.Fatalf("the header shows %q, want %s", got, reviewer)
	}
	if n := invitee.count(`[data-testid="nav-/team"]`); n != 0 {
		t.Fatal("a compliance reviewer sees the Team screen in the navigation")
	}
	invitee.step("open the users list",
		chromedp.Click(testid("nav-/users")),
		chromedp.WaitVisible(testid("user-search")),
	)

	admin.step("open the reviewer's page",
		chromedp.Click(testid("invite-continue")),
		chromedp.WaitVisible(testid("member-sessions")),
	)
	if got := value(t, admin.ctx, "read the MFA state", chromedp.AttributeValue(testid("member-mfa"), "data-mfa")); got.Value != "on" {
		t.Fatalf("the reviewer's page shows two-step sign-in %q, want on", got.Value)
	}
	if n := admin.count(`[data-testid="member-sessions"] [data-testid="session-row"]`); n != 1 {
		t.Fatalf("the reviewer's page lists %d sessions, want 1", n)
	}
	admin.confirm("member-deactivate", testid("flash"), reviewer)
	if got := admin.text(testid("flash")); !strings.Contains(got, "deactivated") || !strings.Contains(got, "1 session ended") {
		t.Fatalf("the flash says %q", got)
	}

	// The reviewer's open page makes its next request (a search, by htmx)
	// and is sent to the login page.
	invitee.step("search on the open page",
		chromedp.SendKeys(testid("user-search"), "anyone"),
		chromedp.WaitVisible(testid("login-form")),
	)
	if loc := invitee.location(); !strings.HasPrefix(loc, srv.URL+"/login") {
		t.Fatalf("after deactivation the reviewer's page went to %s, want /login", loc)
	}

	j.checkBrowserReport()
	j.stopServe()
}

// A refused change leaves the address on the member's page: a reload
// shows the page again instead of sending the form twice.
func TestBrowser_RefusedRoleChangeKeepsTheAddressOnTheMembersPage(t *testing.T) {
	j := startJourney(t, "--no-demo-data")
	j.signIn(j.email, j.password, testid("nav"))
	j.step("open the only admin's page",
		chromedp.Navigate(j.base+"/team"),
		chromedp.WaitVisible(testid("team-row")),
		chromedp.Click(`[data-testid="team-row"] a[data-testid="team-email"]`),
		chromedp.WaitVisible(testid("role-form")),
	)
	page := j.location()
	j.setMarker()
	j.step("demote the last admin", chromedp.SetValue(testid("role-select"), "auditor"), chromedp.Click(testid("role-submit")))
	j.waitFor("the refusal shows", `(function () {
		var alert = document.querySelector('[data-testid="alert"]');
		return alert !== null && alert.textContent.includes("last active admin");
	})()`)
	if loc := j.location(); loc != page {
		t.Fatalf("after the refusal the address is %s, want %s", loc, page)
	}
	if !j.markerKept() {
		t.Fatal("the refusal reloaded the page")
	}
	if got := j.text(testid("member-role-label")); !strings.Contains(got, "Admin") {
		t.Fatalf("the role reads %q after a refused demotion", got)
	}
	j.checkBrowserReport()
	j.stopServe()
}
