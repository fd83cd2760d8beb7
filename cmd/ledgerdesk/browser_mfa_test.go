package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The journey of a member who sets up TOTP themselves is in
// browser_team_test.go. This one is the admin the portal's settings make
// enrol at sign-in: they have just typed their password, so the setup does
// not ask for it again; and a code once used is refused.
func TestBrowser_AnAdminMadeToEnrolAtSignInIsNotAskedForThePasswordAgain(t *testing.T) {
	j := startJourney(t, "--no-demo-data")

	j.signIn(j.email, j.password, testid("nav"))
	j.step("require two-step sign-in for admins",
		chromedp.Click(testid("nav-/settings")),
		chromedp.WaitVisible(testid("settings-form")),
		chromedp.Click(testid("mfa-required-for-admins")),
		chromedp.Click(testid("settings-submit")),
		chromedp.WaitVisible(testid("settings-done")),
	)
	j.signOut()

	// The next sign-in reaches only the setup, which starts without a
	// second password.
	j.signIn(j.email, j.password, testid("mfa-required"))
	if loc := j.location(); !strings.HasPrefix(loc, j.srv.URL+"/account/mfa") {
		t.Fatalf("the admin who must enrol is at %s, want the setup", loc)
	}
	if n := j.count(`[data-testid="mfa-start-form"] input[type="password"]`); n != 0 {
		t.Fatal("the setup asks an admin made to enrol at sign-in for the password again")
	}
	j.step("start the setup",
		chromedp.Click(testid("mfa-start")),
		chromedp.WaitVisible(testid("mfa-secret")),
	)
	secret := j.confirmTOTP()
	j.step("continue to the overview",
		chromedp.Click(testid("recovery-codes-continue")),
		chromedp.WaitVisible(testid("nav-/team")),
	)
	if loc := j.location(); loc != j.srv.URL+"/" {
		t.Fatalf("after enrolling the admin is at %s, want the overview", loc)
	}
	j.signOut()

	j.signIn(j.email, j.password, testid("login-mfa-form"))
	code := authenticatorCode(t, secret, time.Now().Add(30*time.Second))
	j.giveCode(code, testid("nav-/team"))
	j.signOut()

	// The same code again, as someone who watched it typed would try.
	j.signIn(j.email, j.password, testid("login-mfa-form"))
	j.giveCode(code, testid("error-code"))
	if got := j.text(testid("error-code")); !strings.Contains(got, "already used") {
		t.Fatalf("the replayed code is answered %q, want that it was already used", got)
	}

	j.checkBrowserReport()
	j.stopServe()
}
