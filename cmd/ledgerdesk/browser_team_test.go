package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"ledgerdesk/web/webtest"
)

func TestBrowser_InviteAcceptAndDeactivateAReviewer(t *testing.T) {
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
	if n := value(t, invitee, "look for Team", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="nav-/team"]').length`)); n != 0 {
		t.Fatal("a compliance reviewer sees the Team screen in the navigation")
	}
	stepIn("invitee", "open the users list",
		chromedp.Click(testid("nav-/users")),
		chromedp.WaitVisible(testid("user-search")),
	)

	stepIn("admin", "open the reviewer's page and deactivate them",
		chromedp.Click(testid("invite-continue")),
		chromedp.WaitVisible(testid("member-sessions")),
	)
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
