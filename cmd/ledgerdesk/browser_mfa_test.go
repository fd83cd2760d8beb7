package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"ledgerdesk/web/webtest"
)

// authenticatorCode is what an authenticator app holding secret shows at t.
func authenticatorCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// The journey of a member who sets up TOTP themselves is in
// browser_team_test.go. This one is the admin the portal's settings make
// enrol at sign-in: they have just typed their password, so the setup does
// not ask for it again; and a code once used is refused.
func TestBrowser_AnAdminMadeToEnrolAtSignInIsNotAskedForThePasswordAgain(t *testing.T) {
	ctx, report := newBrowser(t)
	srv := startServe(t, env(), "--data", t.TempDir(), "--no-demo-data")
	email, password := credentials(srv.stdout.String())
	if password == "" {
		t.Fatalf("serve printed no first admin:\n%s", srv.stdout)
	}

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	testid := func(id string) chromedp.CSS { return css(`[data-testid="` + id + `"]`) }
	location := func() string { return value(t, ctx, "read the location", chromedp.Location()) }
	text := func(id string) string { return value(t, ctx, "read "+id, chromedp.Text(testid(id))) }
	count := func(sel string) int {
		return value(t, ctx, "count "+sel, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
	}
	signInWithPassword := func(then chromedp.CSS) {
		t.Helper()
		step("sign in with the password",
			chromedp.Navigate(srv.URL+"/login"),
			chromedp.WaitVisible(testid("login-form")),
			chromedp.SendKeys(css(`#f-email`), email),
			chromedp.SendKeys(css(`#f-password`), password),
			chromedp.Click(testid("login-submit")),
			chromedp.WaitVisible(then),
		)
	}

	signInWithPassword(testid("nav"))
	step("require two-step sign-in for admins",
		chromedp.Click(testid("nav-/settings")),
		chromedp.WaitVisible(testid("settings-form")),
		chromedp.Click(testid("mfa-required-for-admins")),
		chromedp.Click(testid("settings-submit")),
		chromedp.WaitVisible(testid("settings-done")),
		chromedp.Click(testid("logout")),
		chromedp.WaitVisible(testid("login-notice")),
	)

	// The next sign-in reaches only the setup, which starts without a
	// second password.
	signInWithPassword(testid("mfa-required"))
	if loc := location(); !strings.HasPrefix(loc, srv.URL+"/account/mfa") {
		t.Fatalf("the admin who must enrol is at %s, want the setup", loc)
	}
	if n := count(`[data-testid="mfa-start-form"] input[type="password"]`); n != 0 {
		t.Fatal("the setup asks an admin made to enrol at sign-in for the password again")
	}
	step("start the setup",
		chromedp.Click(testid("mfa-start")),
		chromedp.WaitVisible(testid("mfa-secret")),
	)
	secret := strings.ReplaceAll(strings.TrimSpace(text("mfa-secret")), " ", "")
	webtest.Sensitive(secret)
	step("confirm with the app's code, then continue to the overview",
		chromedp.SendKeys(css(`#f-code`), authenticatorCode(t, secret, time.Now())),
		chromedp.Click(testid("mfa-confirm")),
		chromedp.WaitVisible(testid("recovery-codes")),
		chromedp.Click(testid("recovery-codes-continue")),
		chromedp.WaitVisible(testid("nav-/team")),
	)
	if loc := location(); loc != srv.URL+"/" {
		t.Fatalf("after enrolling the admin is at %s, want the overview", loc)
	}
	step("sign out", chromedp.Click(testid("logout")), chromedp.WaitVisible(testid("login-notice")))

	signInWithPassword(testid("login-mfa-form"))
	code := authenticatorCode(t, secret, time.Now().Add(30*time.Second))
	step("give the code",
		chromedp.SendKeys(css(`#f-code`), code),
		chromedp.Click(testid("login-mfa-submit")),
		chromedp.WaitVisible(testid("nav-/team")),
		chromedp.Click(testid("logout")),
		chromedp.WaitVisible(testid("login-notice")),
	)

	// The same code again, as someone who watched it typed would try.
	signInWithPassword(testid("login-mfa-form"))
	step("replay the code",
		chromedp.SendKeys(css(`#f-code`), code),
		chromedp.Click(testid("login-mfa-submit")),
		chromedp.WaitVisible(testid("error-code")),
	)
	if got := text("error-code"); !strings.Contains(got, "already used") {
		t.Fatalf("the replayed code is answered %q, want that it was already used", got)
	}

	violations, jsErrors, _ := report.snapshot()
	if len(violations) > 0 {
		t.Errorf("the browser reported %d CSP violation(s):\n%s", len(violations), strings.Join(violations, "\n"))
	}
	if len(jsErrors) > 0 {
		t.Errorf("the browser reported %d script error(s):\n%s", len(jsErrors), strings.Join(jsErrors, "\n"))
	}
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exited %d, want 0\nstderr: %s", code, srv.stderr)
	}
}
