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

// The moves the browser tests share: a journey against a portal of its
// own, steps with a deadline, signing in, the two-step setup, and the
// checks every journey ends with.

// stepTimeout bounds one step, so a page that never shows what a step
// waits for fails the test quickly.
const stepTimeout = 15 * time.Second

// value runs one action that reads something from the page.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// testid selects the element a page marks with data-testid.
func testid(id string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + id + `"]`) }

// tab is one browser tab on the portal at base.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// step runs actions within stepTimeout; when they fail, the test stops
// showing what the page's main element held.
func (b tab) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\n%s", name, err, b.page())
	}
}

// page says where the tab is and what its main element holds, for a
// failure's message; what it cannot read in a moment it leaves out.
func (b tab) page() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
	return "page: " + loc + "\n" + html
}

// waitFor waits until a JavaScript predicate holds on the page.
func (b tab) waitFor(what, predicate string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.page())
	}
}

func (b tab) location() string { return value(b.t, b.ctx, "read the location", chromedp.Location()) }

// text is what an element shows, without the white space around it.
func (b tab) text(sel chromedp.CSS) string {
	b.t.Helper()
	return strings.TrimSpace(value(b.t, b.ctx, "read "+string(sel), chromedp.Text(sel)))
}

// count is how many elements a CSS selector finds.
func (b tab) count(sel string) int {
	b.t.Helper()
	return value(b.t, b.ctx, "count "+sel, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
}

// setMarker puts a marker on window, which survives htmx swaps and dies
// with a page load.
func (b tab) setMarker() {
	b.t.Helper()
	value(b.t, b.ctx, "set the marker", chromedp.Evaluate[bool](`window.ledgerdeskMarker = true; typeof htmx === "object"`))
}

func (b tab) markerKept() bool {
	b.t.Helper()
	return value(b.t, b.ctx, "read the marker", chromedp.Evaluate[bool](`window.ledgerdeskMarker === true`))
}

// signIn opens the login page and signs in; then is what the page shows
// once the password is taken (the navigation, the code step, the setup).
func (b tab) signIn(email, password string, then chromedp.CSS) {
	b.t.Helper()
	b.step("open the login page", chromedp.Navigate(b.base+"/login"), chromedp.WaitVisible(testid("login-form")))
	b.submitLogin(email, password, then)
}

// submitLogin fills in and sends the login form already on the page.
func (b tab) submitLogin(email, password string, then chromedp.CSS) {
	b.t.Helper()
	b.step("sign in as "+email,
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), password),
		chromedp.Click(testid("login-submit")),
		chromedp.WaitVisible(then),
	)
}

// giveCode answers the sign-in's code step.
func (b tab) giveCode(code string, then chromedp.CSS) {
	b.t.Helper()
	b.step("give the code",
		chromedp.SendKeys(chromedp.CSS(`#f-code`), code),
		chromedp.Click(testid("login-mfa-submit")),
		chromedp.WaitVisible(then),
	)
}

// openDialog clicks the button marked opener and waits for its dialog
// (components.ConfirmDialog), whose question must name names.
func (b tab) openDialog(opener string, names ...string) {
	b.t.Helper()
	b.step("ask with "+opener, chromedp.Click(testid(opener)), chromedp.WaitVisible(testid(opener+"-dialog")))
	question := b.text(testid(opener + "-question"))
	for _, name := range names {
		if !strings.Contains(question, name) {
			b.t.Fatalf("%s asks %q, which does not name %q", opener, question, name)
		}
	}
	if !b.dialogHasFocus(opener) {
		b.t.Fatalf("opening %s's dialog left the focus outside it", opener)
	}
}

// confirm opens opener's dialog, confirms, and waits for then.
func (b tab) confirm(opener string, then chromedp.CSS, names ...string) {
	b.t.Helper()
	b.openDialog(opener, names...)
	b.step("confirm "+opener, chromedp.Click(testid(opener+"-confirm")), chromedp.WaitVisible(then))
}

// dialogHasFocus reports whether opener's dialog is open and holds the focus.
func (b tab) dialogHasFocus(opener string) bool {
	b.t.Helper()
	return value(b.t, b.ctx, "find the focus", chromedp.Evaluate[bool](`(function () {
		var d = document.querySelector('[data-testid="`+opener+`-dialog"]');
		return d !== null && d.open && d.contains(document.activeElement); })()`))
}

// focusIsOn reports whether the focus is on the element marked id, and no
// dialog is open.
func (b tab) focusIsOn(id string) bool {
	b.t.Helper()
	return value(b.t, b.ctx, "find the focus", chromedp.Evaluate[bool](`document.querySelector("dialog[open]") === null &&
		document.activeElement !== null && document.activeElement.dataset.testid === "`+id+`"`))
}

func (b tab) signOut() {
	b.t.Helper()
	b.step("sign out", chromedp.Click(testid("logout")), chromedp.WaitVisible(testid("login-notice")))
}

// confirmTOTP finishes a two-step setup that shows its secret: it gives
// the code an authenticator app holding the secret shows now, and leaves
// the recovery codes on the page. It returns the secret.
func (b tab) confirmTOTP() string {
	b.t.Helper()
	secret := strings.ReplaceAll(b.text(testid("mfa-secret")), " ", "")
	webtest.Sensitive(secret)
	b.step("confirm with the app's code",
		chromedp.SendKeys(chromedp.CSS(`#f-code`), authenticatorCode(b.t, secret, time.Now())),
		chromedp.Click(testid("mfa-confirm")),
		chromedp.WaitVisible(testid("recovery-codes")),
	)
	return secret
}

// authenticatorCode is what an authenticator app holding secret shows at t.
func authenticatorCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// journey is a browser test against a serve process of its own, in the
// tab of the first admin, whose credentials serve printed.
type journey struct {
	tab
	srv             *server
	report          *browserReport
	data            string // serve's data directory, for the CLI
	email, password string
}

// startJourney starts chromium and `ledgerdesk serve` with a fresh data
// directory and serveArgs, for a journey of at most 90 seconds.
func startJourney(t *testing.T, serveArgs ...string) *journey {
	t.Helper()
	return startJourneyWithin(t, 90*time.Second, serveArgs...)
}

// startJourneyWithin is startJourney for a journey of at most within.
func startJourneyWithin(t *testing.T, within time.Duration, serveArgs ...string) *journey {
	t.Helper()
	ctx, report := newBrowser(t, within)
	data := t.TempDir()
	srv := startServe(t, env(), append([]string{"--data", data}, serveArgs...)...)
	email, password := credentials(srv.stdout.String())
	if password == "" {
		t.Fatalf("serve printed no first admin:\n%s", srv.stdout)
	}
	return &journey{tab: tab{t: t, ctx: ctx, base: srv.URL}, srv: srv, report: report, data: data, email: email, password: password}
}

// checkBrowserReport fails the test on any CSP violation or script error
// the browser reported, and logs the rest of its console.
func (j *journey) checkBrowserReport() {
	j.t.Helper()
	violations, jsErrors, other := j.report.snapshot()
	for _, line := range other {
		j.t.Logf("browser console: %s", line)
	}
	if len(violations) > 0 {
		j.t.Errorf("the browser reported %d CSP violation(s):\n%s", len(violations), strings.Join(violations, "\n"))
	}
	if len(jsErrors) > 0 {
		j.t.Errorf("the browser reported %d script error(s):\n%s", len(jsErrors), strings.Join(jsErrors, "\n"))
	}
}

// stopServe stops the portal, which must exit 0.
func (j *journey) stopServe() {
	j.t.Helper()
	if code := j.srv.stop(j.t); code != 0 {
		j.t.Fatalf("serve exited %d after the browser session, want 0\nstderr: %s", code, j.srv.stderr)
	}
}
