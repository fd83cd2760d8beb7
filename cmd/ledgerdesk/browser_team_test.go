package main

import (
	"context"
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
	ctx, report := newBrowser(t)
	dialogs := &dialogLog{}
	dialogs.accept(ctx, t)
	srv := startServe(t, env(), "--data", t.TempDir(), "--no-demo-data")
	email, password := credentials(srv.stdout.String())
	if password == "" {
		t.Fatalf("serve printed no first admin:\n%s", srv.stdout)
	}
	// The invitee browses in a browser context of their own: no cookies
	// shared with the admin's.
	invitee, cancelInvitee := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelInvitee()
	// Open the tab on the context itself: a tab opened under a step's
	// timeout would close when that step ends.
	if err := chromedp.Do(invitee); err != nil {
		t.Fatalf("open the invitee's browser context: %v", err)
	}

	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	testid := func(id string) chromedp.CSS { return css(`[data-testid="` + id + `"]`) }
	tabs := map[string]context.Context{"admin": ctx, "invitee": invitee}
	stepIn := func(tab, name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(tabs[tab], stepTimeout)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			html, _ := chromedp.Run(tabs[tab], chromedp.OuterHTML(css("main")))
			t.Fatalf("%s (%s): %v\n%s", name, tab, err, html)
		}
	}
	read := func(tab string, sel chromedp.CSS) string {
		return strings.TrimSpace(value(t, tabs[tab], "read "+string(sel), chromedp.Text(sel)))
	}
	location := func(tab string) string { return value(t, tabs[tab], "read the location", chromedp.Location()) }

	reviewer := "reviewer-" + randomLetters(6) + "@example.com"
	reviewerPassword := "quiet harbour " + randomLetters(8)
	webtest.Sensitive(reviewerPassword)

	stepIn("admin", "sign in",
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(testid("login-form")),
		chromedp.SendKeys(css(`#f-email`), email),
		chromedp.SendKeys(css(`#f-password`), password),
		chromedp.Click(testid("login-submit")),
		chromedp.WaitVisible(testid("nav")),
	)
	stepIn("admin", "open Team, then Invite member",
		chromedp.Click(testid("nav-/team")),
		chromedp.WaitVisible(testid("team-filter")),
		chromedp.Click(testid("team-invite")),
		chromedp.WaitVisible(testid("invite-form")),
	)
	stepIn("admin", "invite a compliance reviewer",
		chromedp.SendKeys(css(`#f-email`), reviewer),
		chromedp.SetValue(css(`#f-invite-role`), "compliance"),
		chromedp.Click(testid("invite-submit")),
		chromedp.WaitVisible(testid("invite-panel")),
	)
	link := value(t, ctx, "read the link", chromedp.Value(testid("invite-link")))
	if !strings.HasPrefix(link, srv.URL+"/invite/") {
		t.Fatalf("the invitation link is %q", link)
	}
	webtest.Sensitive(strings.TrimPrefix(link, srv.URL+"/invite/"))

	stepIn("invitee", "open the link and choose a password",
		chromedp.Navigate(link),
		chromedp.WaitVisible(testid("accept-form")),
		chromedp.SendKeys(css(`#f-password`), reviewerPassword),
		chromedp.SendKeys(css(`#f-confirm`), reviewerPassword),
		chromedp.Click(testid("accept-submit")),
		chromedp.WaitVisible(testid("login-notice")),
	)
	if got := read("invitee", testid("login-notice")); !strings.Contains(got, "password is set") {
		t.Fatalf("after accepting, the login page says %q", got)
	}
	stepIn("invitee", "sign in with the new password",
		chromedp.SendKeys(css(`#f-email`), reviewer),
		chromedp.SendKeys(css(`#f-password`), reviewerPassword),
		chromedp.Click(testid("login-submit")),
		chromedp.WaitVisible(testid("nav")),
	)
	if got := read("invitee", testid("member-role")); got != "Compliance reviewer" {
		t.Fatalf("the invitee is signed in as %q", got)
	}

	// Enrolment asks for the password first: a wrong one comes back beside
	// the field (422, swapped in by htmx) and no secret is shown.
	stepIn("invitee", "open two-step sign-in from the account page",
		chromedp.Click(testid("member")),
		chromedp.WaitVisible(testid("account-mfa-link")),
		chromedp.Click(testid("account-mfa-link")),
		chromedp.WaitVisible(testid("mfa-start-form")),
	)
	stepIn("invitee", "start the setup with a wrong password",
		chromedp.SendKeys(css(`#f-password`), "not my password at all"),
		chromedp.Click(testid("mfa-start")),
		chromedp.WaitVisible(testid("error-password")),
	)
	if got := read("invitee", testid("error-password")); !strings.Contains(got, "not your password") {
		t.Fatalf("a wrong password at setup is answered %q", got)
	}
	if n := value(t, invitee, "look for a secret", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="mfa-secret"]').length`)); n != 0 {
		t.Fatal("a wrong password showed a secret")
	}
	stepIn("invitee", "start the setup with the password",
		chromedp.SendKeys(css(`#f-password`), reviewerPassword),
		chromedp.Click(testid("mfa-start")),
		chromedp.WaitVisible(testid("mfa-secret")),
		chromedp.WaitVisible(testid("mfa-qr")),
	)
	// The QR code image loaded (a data: URI the CSP allows).
	if w := value(t, invitee, "read the QR code's width", chromedp.Evaluate[int](
		`document.querySelector('[data-testid="mfa-qr"]').naturalWidth`)); w != 200 {
		t.Fatalf("the QR code image is %d pixels wide, want 200 (did it load?)", w)
	}
	secret := strings.ReplaceAll(read("invitee", testid("mfa-secret")), " ", "")
	if len(secret) != 32 {
		t.Fatalf("the page shows the secret %q", secret)
	}
	webtest.Sensitive(secret)
	stepIn("invitee", "confirm with the app's code",
		chromedp.SendKeys(css(`#f-code`), authenticatorCode(t, secret, time.Now())),
		chromedp.Click(testid("mfa-confirm")),
		chromedp.WaitVisible(testid("recovery-codes")),
	)
	if n := value(t, invitee, "count the recovery codes", chromedp.Evaluate[int](
		`document.querySelectorAll('[data-testid="recovery-code"]').length`)); n != 10 {
		t.Fatalf("%d recovery codes shown, want 10", n)
	}
	stepIn("invitee", "continue and sign out",
		chromedp.Click(testid("recovery-codes-continue")),
		chromedp.WaitVisible(testid("mfa-status")),
		chromedp.Click(testid("logout")),
		chromedp.WaitVisible(testid("login-notice")),
	)

	// Signing in again asks for the code after the password. The code of
	// the next time step is one the app shows within thirty seconds, and
	// newer than the one that confirmed the setup.
	stepIn("invitee", "sign in with the password",
		chromedp.SendKeys(css(`#f-email`), reviewer),
		chromedp.SendKeys(css(`#f-password`), reviewerPassword),
		chromedp.Click(testid("login-submit")),
		chromedp.WaitVisible(testid("login-mfa-form")),
	)
	if loc := location("invitee"); !strings.HasPrefix(loc, srv.URL+"/login/mfa") {
		t.Fatalf("after the password the reviewer is at %s, want the code step", loc)
	}
	stepIn("invitee", "give the code",
		chromedp.SendKeys(css(`#f-code`), authenticatorCode(t, secret, time.Now().Add(30*time.Second))),
		chromedp.Click(testid("login-mfa-submit")),
		chromedp.WaitVisible(testid("nav-/users")),
	)
	if got := read("invitee", testid("member")); !strings.Contains(got, reviewer) {
		t.Fatalf("the header shows %q, want %s", got, reviewer)
	}
	if n := value(t, invitee, "look for Team", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="nav-/team"]').length`)); n != 0 {
		t.Fatal("a compliance reviewer sees the Team screen in the navigation")
	}
	stepIn("invitee", "open the users list",
		chromedp.Click(testid("nav-/users")),
		chromedp.WaitVisible(testid("user-search")),
	)

	stepIn("admin", "open the reviewer's page",
		chromedp.Click(testid("invite-continue")),
		chromedp.WaitVisible(testid("member-sessions")),
	)
	if got := value(t, ctx, "read the MFA state", chromedp.AttributeValue(testid("member-mfa"), "data-mfa")); got.Value != "on" {
		t.Fatalf("the reviewer's page shows two-step sign-in %q, want on", got.Value)
	}
	if n := value(t, ctx, "count sessions", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="member-sessions"] [data-testid="session-row"]').length`)); n != 1 {
		t.Fatalf("the reviewer's page lists %d sessions, want 1", n)
	}
	stepIn("admin", "deactivate, accepting the confirmation",
		chromedp.Click(testid("member-deactivate")),
		chromedp.WaitVisible(testid("flash")),
	)
	if got := read("admin", testid("flash")); !strings.Contains(got, "deactivated") || !strings.Contains(got, "1 session ended") {
		t.Fatalf("the flash says %q", got)
	}
	if d := dialogs.all(); len(d) != 1 || !strings.Contains(d[0], reviewer) {
		t.Fatalf("dialogs %q, want the deactivation confirmation", d)
	}

	// The reviewer's open page makes its next request (a search, by htmx)
	// and is sent to the login page.
	stepIn("invitee", "search on the open page",
		chromedp.SendKeys(testid("user-search"), "anyone"),
		chromedp.WaitVisible(testid("login-form")),
	)
	if loc := location("invitee"); !strings.HasPrefix(loc, srv.URL+"/login") {
		t.Fatalf("after deactivation the reviewer's page went to %s, want /login", loc)
	}

	violations, jsErrors, other := report.snapshot()
	for _, line := range other {
		t.Logf("browser console: %s", line)
	}
	if len(violations) > 0 {
		t.Errorf("the browser reported %d CSP violation(s):\n%s", len(violations), strings.Join(violations, "\n"))
	}
	if len(jsErrors) > 0 {
		t.Errorf("the browser reported %d script error(s):\n%s", len(jsErrors), strings.Join(jsErrors, "\n"))
	}
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exited %d after the browser session, want 0\nstderr: %s", code, srv.stderr)
	}
}
