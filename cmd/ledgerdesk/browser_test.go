package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// browserReport collects what the page tells the browser's console: CSP
// violations, script errors, failed loads, and the headers of htmx's
// requests.
type browserReport struct {
	mu         sync.Mutex
	violations []string
	jsErrors   []string
	other      []string
	requests   map[string]network.Headers // "METHOD path" of the latest request
}

func (r *browserReport) add(list *[]string, s string) {
	r.mu.Lock()
	*list = append(*list, s)
	r.mu.Unlock()
}

func (r *browserReport) snapshot() (violations, jsErrors, other []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...), append([]string(nil), r.jsErrors...), append([]string(nil), r.other...)
}

func (r *browserReport) request(key string) (network.Headers, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.requests[key]
	return h, ok
}

// cspBinding is the function the page calls (through a CDP binding) for
// every securitypolicyviolation event, so violations are seen even when
// the console would word them differently.
const cspBinding = "ledgerdeskCSPViolation"

const reportViolations = `document.addEventListener("securitypolicyviolation", function (e) {
  window.` + cspBinding + `(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});`

func (r *browserReport) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventBindingCalled:
		if ev.Name == cspBinding {
			r.add(&r.violations, "securitypolicyviolation: "+ev.Payload)
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		line := fmt.Sprintf("[%s/%s] %s %s", e.Source, e.Level, e.Text, e.URL)
		switch {
		case e.Source == cdplog.EntrySourceSecurity ||
			strings.Contains(e.Text, "Content Security Policy"):
			r.add(&r.violations, line)
		case e.Source == cdplog.EntrySourceJavascript && e.Level == cdplog.EntryLevelError:
			r.add(&r.jsErrors, line)
		default:
			r.add(&r.other, line)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		r.add(&r.jsErrors, fmt.Sprintf("uncaught: %s (%s:%d)", msg, d.URL, d.LineNumber))
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var args []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		line := "console." + string(ev.Type) + ": " + strings.Join(args, " ")
		if strings.Contains(line, "Content Security Policy") {
			r.add(&r.violations, line)
		} else {
			r.add(&r.jsErrors, line)
		}
	case *network.EventRequestWillBeSent:
		if ev.Request == nil {
			return
		}
		path := ev.Request.URL
		if i := strings.Index(path, "://"); i >= 0 {
			if j := strings.Index(path[i+3:], "/"); j >= 0 {
				path = path[i+3+j:]
			}
		}
		r.mu.Lock()
		r.requests[ev.Request.Method+" "+path] = ev.Request.Headers
		r.mu.Unlock()
	}
}

// newBrowser starts Debian's chromium headless with a fresh profile and
// nothing that phones home, for at most within. Without chromium the test
// is skipped, except in CI, where it must run.
func newBrowser(t *testing.T, within time.Duration) (context.Context, *browserReport) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI must run the browser test (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("browser test skipped: %s is missing; install it with `apt-get install -y chromium`", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	report := &browserReport{requests: map[string]network.Headers{}}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// The listener is on the tab from its first command, so nothing the
	// pages report is missed.
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf), chromedp.WithListener(report.listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, within)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })

	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tab, runtime.Enable, cdp.Empty{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tab, cdplog.Enable, cdp.Empty{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tab, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tab, runtime.AddBinding, runtime.AddBindingParams{Name: cspBinding}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tab, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: reportViolations})
		return err
	}))
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx, report
}

func TestBrowser_SignInChangePasswordErrorAndSignOut(t *testing.T) {
	j := startJourney(t)
	ctx, srv := j.ctx, j.srv

	// An anonymous visitor is sent to the login page.
	j.step("open the portal",
		chromedp.Navigate(srv.URL),
		chromedp.WaitVisible(testid("login-form")),
	)
	if loc := j.location(); !strings.HasPrefix(loc, srv.URL+"/login") {
		t.Fatalf("opening %s landed on %s, want /login", srv.URL, loc)
	}

	j.submitLogin(j.email, j.password, testid("nav"))
	if got := j.text(testid("member")); !strings.Contains(got, j.email) {
		t.Fatalf("the header shows %q, want the member's email %s", got, j.email)
	}
	if loc := j.location(); loc != srv.URL+"/" {
		t.Fatalf("after signing in the browser is at %s, want the overview", loc)
	}

	// The change-password form posts with htmx: a wrong current password
	// comes back as 422 and is swapped in beside the field without a page
	// load (a marker set on window survives).
	j.step("open the account page",
		chromedp.Click(testid("member")),
		chromedp.WaitVisible(testid("password-form")),
	)
	if loc := j.location(); loc != srv.URL+"/account" {
		t.Fatalf("the member link led to %s, want /account", loc)
	}
	if !value(t, ctx, "set the marker", chromedp.Evaluate[bool](`window.ledgerdeskMarker = true; typeof htmx === "object"`)) {
		t.Fatal("htmx did not load on the account page")
	}
	j.step("submit a wrong current password",
		chromedp.SendKeys(chromedp.CSS(`#f-current`), "not-the-password-at-all"),
		chromedp.SendKeys(chromedp.CSS(`#f-new`), "a brand new long passphrase"),
		chromedp.SendKeys(chromedp.CSS(`#f-confirm`), "a brand new long passphrase"),
		chromedp.Click(testid("password-submit")),
		chromedp.WaitVisible(testid("error-current")),
	)
	if got := j.text(testid("error-current")); !strings.Contains(got, "not your current password") {
		t.Fatalf("the current-password field says %q, want that it is not the current password", got)
	}
	kept := j.markerKept()
	if loc := j.location(); loc != srv.URL+"/account" || !kept {
		t.Fatalf("the form was posted by a page load (now at %s, marker kept %v), not by htmx", loc, kept)
	}
	if a := value(t, ctx, "read aria-invalid", chromedp.AttributeValue(chromedp.CSS(`#f-current`), "aria-invalid")); a.Value != "true" {
		t.Fatalf("the current-password input has aria-invalid=%q, want true", a.Value)
	}
	headers, seen := j.report.request("POST /account/password")
	if !seen {
		t.Fatal("the browser sent no POST /account/password")
	}
	if requestHeader(headers, "HX-Request") != "true" || requestHeader(headers, "X-CSRF-Token") == "" {
		t.Fatalf("POST /account/password was sent without htmx's headers: HX-Request=%q, X-CSRF-Token set: %v",
			requestHeader(headers, "HX-Request"), requestHeader(headers, "X-CSRF-Token") != "")
	}

	j.signOut()
	if got := j.text(testid("login-notice")); !strings.Contains(got, "You have signed out.") {
		t.Fatalf("the login page says %q after signing out", got)
	}
	if loc := j.location(); !strings.HasPrefix(loc, srv.URL+"/login") {
		t.Fatalf("signing out landed on %s, want /login", loc)
	}
	// The session is over: the overview asks for a sign-in again.
	j.step("reopen the overview",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(testid("login-form")),
	)

	j.checkBrowserReport()

	// The violation detector itself works: an inline script is refused by
	// the CSP and reported.
	violations, _, _ := j.report.snapshot()
	ran := value(t, ctx, "inject an inline script", chromedp.Evaluate[bool](`(function () {
		var s = document.createElement("script");
		s.textContent = "window.ledgerdeskInline = true";
		document.body.appendChild(s);
		return window.ledgerdeskInline === true;
	})()`))
	if ran {
		t.Fatal("an inline script ran: the page has no CSP forbidding it")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v, _, _ := j.report.snapshot(); len(v) > len(violations) {
			t.Logf("the detector saw the deliberate violation: %s", strings.Join(v[len(violations):], " | "))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the blocked inline script was not reported as a CSP violation: the detector sees nothing")
		}
		time.Sleep(50 * time.Millisecond)
	}

	j.stopServe()
}

// requestHeader reads a request header as the browser reported it,
// whatever its case.
func requestHeader(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}
