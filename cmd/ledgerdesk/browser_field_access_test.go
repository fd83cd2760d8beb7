package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"ledgerdesk/web/webtest"
)

// The default field policy in a real browser: what an admin reads in
// clear on a user's page and in the users list, an auditor reads masked,
// with no way to reveal it, and the clear values are nowhere in the
// auditor's pages.
func TestBrowser_AuditorSeesPersonalFieldsMasked(t *testing.T) {
	j := startJourney(t)
	auditorEmail := "auditor-" + randomLetters(6) + "@example.com"
	r := ledgerdesk(t, env(), "admin", "create", "--data", j.data, "--email", auditorEmail, "--role", "auditor")
	m := shownOnce.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("admin create --role auditor: %d %s", r.code, r.stderr)
	}
	auditorPassword := m[1]
	webtest.Sensitive(auditorPassword)

	// The admin: clear values.
	j.signIn(j.email, j.password, testid("nav"))
	j.step("list users", chromedp.Navigate(j.base+"/users"), chromedp.WaitVisible(testid("user-row")))
	user := value(t, j.ctx, "read a user's link", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="user-row"] a').getAttribute("href")`))
	if !detailPath.MatchString(user) {
		t.Fatalf("the first row links to %q", user)
	}
	j.step("open the user", chromedp.Navigate(j.base+user), chromedp.WaitVisible(testid("user-title")))
	emails, phones := j.text(testid("identity-emails")), j.text(testid("identity-phones"))
	email, _, _ := strings.Cut(emails, ", ")
	phone, _, _ := strings.Cut(phones, ", ")
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || len(phone) < 8 {
		t.Fatalf("the admin reads the email %q and the phone %q, want them in clear", emails, phones)
	}
	if j.count(`a[data-testid^="reveal-"]`) == 0 {
		t.Error("the admin has no Reveal link on the user's page")
	}
	j.signOut()

	// The auditor: masked, no Reveal, the clear values nowhere.
	j.signIn(auditorEmail, auditorPassword, testid("nav"))
	j.step("open the same user", chromedp.Navigate(j.base+user), chromedp.WaitVisible(testid("user-title")))
	maskedEmails := j.text(testid("identity-emails"))
	if want := local[:1] + "•••@" + domain; !strings.Contains(maskedEmails, want) {
		t.Errorf("the auditor reads the email as %q, want it masked as %q", maskedEmails, want)
	}
	if maskedPhones := j.text(testid("identity-phones")); !strings.HasSuffix(strings.SplitN(maskedPhones, ", ", 2)[0], phone[len(phone)-4:]) ||
		!strings.Contains(maskedPhones, "•••") {
		t.Errorf("the auditor reads the phone as %q, want it masked but for its last 4 digits", maskedPhones)
	}
	if n := j.count(`a[data-testid^="reveal-"]`); n != 0 {
		t.Errorf("the auditor's page has %d Reveal link(s), want none", n)
	}
	for _, clear := range []string{email, phone} {
		if strings.Contains(j.page(), clear) {
			t.Errorf("the auditor's user page holds %q in clear", clear)
		}
	}
	j.step("list users as the auditor", chromedp.Navigate(j.base+"/users"), chromedp.WaitVisible(testid("user-row")))
	if strings.Contains(j.page(), email) {
		t.Errorf("the auditor's users list holds %q in clear", email)
	}
	j.checkBrowserReport()
	j.signOut()
	j.stopServe()
}
