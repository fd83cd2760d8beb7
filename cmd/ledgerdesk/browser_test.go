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
// nothing that phones home. Without chromium the test is skipped, except
// in CI, where it must run.
func newBrowser(t *testing.T) (context.Context, *browserReport) {
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
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
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

func TestBrowser_SignInChangePasswordErrorAndSignOut(t *testing.T) {
	ctx, report := newBrowser(t)
	srv := startServe(t, env(), "--data", t.TempDir())
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
	location := func() string { return value(t, ctx, "read the location", chromedp.Location()) }
	text := func(sel string) string { return value(t, ctx, "read "+sel, chromedp.Text(css(sel))) }

	// An anonymous visitor is sent to the login page.
	step("open the portal",
		chromedp.Navigate(srv.URL),
		chromedp.WaitVisible(css(`[data-testid="login-form"]`)),
	)
	if loc := location(); !strings.HasPrefix(loc, srv.URL+"/login") {
		t.Fatalf("opening %s landed on %s, want /login", srv.URL, loc)
	}

	step("sign in",
		chromedp.SendKeys(css(`#f-email`), email),
		chromedp.SendKeys(css(`#f-password`), password),
		chromedp.Click(css(`[data-testid="login-submit"]`)),
		chromedp.WaitVisible(css(`[data-testid="nav"]`)),
	)
	if got := text(`[data-testid="member"]`); !strings.Contains(got, email) {
		t.Fatalf("the header shows %q, want the member's email %s", got, email)
	}
	if loc := location(); loc != srv.URL+"/" {
		t.Fatalf("after signing in the browser is at %s, want the overview", loc)
	}

	// The change-password form posts with htmx: a wrong current password
	// comes back as 422 and is swapped in beside the field without a page
	// load (a marker set on window survives).
	step("open the account page",
		chromedp.Click(css(`[data-testid="member"]`)),
		chromedp.WaitVisible(css(`[data-testid="password-form"]`)),
	)
	if loc := location(); loc != srv.URL+"/account" {
		t.Fatalf("the member link led to %s, want /account", loc)
	}
	if !value(t, ctx, "set the marker", chromedp.Evaluate[bool](`window.ledgerdeskMarker = true; typeof htmx === "object"`)) {
		t.Fatal("htmx did not load on the account page")
	}
	step("submit a wrong current password",
		chromedp.SendKeys(css(`#f-current`), "not-the-password-at-all"),
		chromedp.SendKeys(css(`#f-new`), "a brand new long passphrase"),
		chromedp.SendKeys(css(`#f-confirm`), "a brand new long passphrase"),
		chromedp.Click(css(`[data-testid="password-submit"]`)),
		chromedp.WaitVisible(css(`[data-testid="error-current"]`)),
	)
	if got := text(`[data-testid="error-current"]`); !strings.Contains(got, "not your current password") {
		t.Fatalf("the current-password field says %q, want that it is not the current password", got)
	}
	kept := value(t, ctx, "read the marker", chromedp.Evaluate[bool](`window.ledgerdeskMarker === true`))
	if loc := location(); loc != srv.URL+"/account" || !kept {
		t.Fatalf("the form was posted by a page load (now at %s, marker kept %v), not by htmx", loc, kept)
	}
	if a := value(t, ctx, "read aria-invalid", chromedp.AttributeValue(css(`#f-current`), "aria-invalid")); a.Value != "true" {
		t.Fatalf("the current-password input has aria-invalid=%q, want true", a.Value)
	}
	headers, seen := report.request("POST /account/password")
	if !seen {
		t.Fatal("the browser sent no POST /account/password")
	}
	if requestHeader(headers, "HX-Request") != "true" || requestHeader(headers, "X-CSRF-Token") == "" {
		t.Fatalf("POST /account/password was sent without htmx's headers: HX-Request=%q, X-CSRF-Token set: %v",
			requestHeader(headers, "HX-Request"), requestHeader(headers, "X-CSRF-Token") != "")
	}

	step("sign out",
		chromedp.Click(css(`[data-testid="logout"]`)),
		chromedp.WaitVisible(css(`[data-testid="login-notice"]`)),
	)
	if got := text(`[data-testid="login-notice"]`); !strings.Contains(got, "You have signed out.") {
		t.Fatalf("the login page says %q after signing out", got)
	}
	if loc := location(); !strings.HasPrefix(loc, srv.URL+"/login") {
		t.Fatalf("signing out landed on %s, want /login", loc)
	}
	// The session is over: the overview asks for a sign-in again.
	step("reopen the overview",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(css(`[data-testid="login-form"]`)),
	)

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

	// The violation detector itself works: an inline script is refused by
	// the CSP and reported.
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
		if v, _, _ := report.snapshot(); len(v) > len(violations) {
			t.Logf("the detector saw the deliberate violation: %s", strings.Join(v[len(violations):], " | "))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the blocked inline script was not reported as a CSP violation: the detector sees nothing")
		}
		time.Sleep(50 * time.Millisecond)
	}

	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exited %d after the browser session, want 0\nstderr: %s", code, srv.stderr)
	}
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
