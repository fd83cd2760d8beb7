package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"ledgerdesk/web/webtest"
)

// Four-eyes approvals, as the issue states the journey: with approvals
// required, admin A asks to remove an end user, admin B approves it in a
// browser of their own, the user is gone and the audit log shows the
// request, the approval and the removal together.
func TestBrowser_OneAdminRequestsARemovalAnotherApprovesIt(t *testing.T) {
	j := startJourney(t, "--no-demo-data")
	a, srv := j.tab, j.srv

	// Admin B, made as an operator would.
	bobEmail := "bob-" + randomLetters(6) + "@example.com"
	r := ledgerdesk(t, env(), "admin", "create", "--data", j.data, "--email", bobEmail, "--role", "admin")
	m := shownOnce.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("admin create: %d %s", r.code, r.stderr)
	}
	bobPassword := m[1]
	webtest.Sensitive(bobPassword)

	a.signIn(j.email, j.password, testid("nav"))
	a.step("require approvals",
		chromedp.Navigate(srv.URL+"/settings"),
		chromedp.WaitVisible(testid("settings-approvals-form")),
		chromedp.Click(testid("approvals-required")),
		chromedp.Click(testid("settings-approvals-submit")),
		chromedp.WaitVisible(testid("settings-approvals-done")),
	)

	cuid := "four-eyes-" + randomLetters(8)
	a.step("create an end user",
		chromedp.Navigate(srv.URL+"/users/new"),
		chromedp.WaitVisible(testid("user-form")),
		chromedp.SendKeys(chromedp.CSS("#f-client_user_id"), cuid),
		chromedp.Click(testid("user-submit")),
		chromedp.WaitVisible(testid("token-panel")),
	)
	webtest.Sensitive(value(t, a.ctx, "read the token", chromedp.Value(testid("user-token"))))
	m = userPathPattern.FindStringSubmatch(a.location())
	if m == nil {
		t.Fatalf("after creating the user the browser is at %s", a.location())
	}
	id := m[1]
	userURL := srv.URL + "/users/" + id
	a.step("back on the user's page", chromedp.Navigate(userURL), chromedp.WaitVisible(testid("user-actions")))

	// Removing asks for a reason in the dialog, and only asks.
	a.openDialog("user-remove", "end user "+id)
	a.step("give the reason and request approval",
		chromedp.SendKeys(chromedp.CSS("#f-remove-reason"), "duplicate of another account, ticket 4711"),
		chromedp.Click(testid("user-remove-confirm")),
		chromedp.WaitVisible(testid("approval-requests")),
	)
	if got := a.text(testid("approval-state")); !strings.Contains(got, "waiting") {
		t.Fatalf("the requester sees the request as %q", got)
	}
	if a.count(`[data-testid="tombstone"]`) != 0 {
		t.Fatal("asking for approval removed the user")
	}

	// Admin B, in a browser context of their own.
	bobCtx, cancelBob := chromedp.NewContext(a.ctx, chromedp.WithNewBrowserContext())
	defer cancelBob()
	if err := chromedp.Do(bobCtx); err != nil {
		t.Fatalf("open B's browser context: %v", err)
	}
	b := tab{t: t, ctx: bobCtx, base: srv.URL}
	b.signIn(bobEmail, bobPassword, testid("nav"))
	if got := b.text(testid("nav-count-/approvals")); !strings.HasPrefix(got, "1") {
		t.Fatalf("B's navigation counts %q waiting", got)
	}
	b.step("open Approvals",
		chromedp.Click(testid("nav-/approvals")),
		chromedp.WaitVisible(testid("approval-pending")),
	)
	if got := b.text(testid("approval-reason")); got != "duplicate of another account, ticket 4711" {
		t.Fatalf("B reads the reason %q", got)
	}
	b.confirm("approval-approve", testid("approvals-none"), cuid)

	b.step("the user is gone", chromedp.Navigate(userURL), chromedp.WaitVisible(testid("tombstone")))
	b.step("the user's audit log",
		chromedp.Navigate(srv.URL+"/audit?target_type=end_user&target_id="+id),
		chromedp.WaitVisible(testid("audit-results")),
	)
	log := b.text(testid("audit-results"))
	for _, action := range []string{"approval.request", "approval.approve", "user.remove"} {
		if !strings.Contains(log, action) {
			t.Fatalf("the user's audit log lacks %s:\n%s", action, log)
		}
	}

	j.checkBrowserReport()
	j.stopServe()
}
