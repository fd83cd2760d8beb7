package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowser_AuditFilterDiffChartAndVerification(t *testing.T) {
	ctx, report := newBrowser(t)
	srv := startServe(t, env(), "--data", t.TempDir(), "--no-demo-data")
	email, password := credentials(srv.stdout.String())

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
	markerKept := func() bool {
		return value(t, ctx, "read the marker", chromedp.Evaluate[bool](`window.ledgerdeskMarker === true`))
	}
	waitFor := func(what, predicate string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(stepTimeout))); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(css("main")))
			t.Fatalf("%s: %v\npage: %s\n%s", what, err, location(), html)
		}
	}

	step("sign in and open Audit",
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(testid("login-form")),
		chromedp.SendKeys(css(`#f-email`), email),
		chromedp.SendKeys(css(`#f-password`), password),
		chromedp.Click(testid("login-submit")),
		chromedp.WaitVisible(testid("nav")),
		chromedp.Click(testid("nav-/audit")),
		chromedp.WaitVisible(testid("audit-filter")),
	)
	waitFor("the chart loads after the rows", `document.querySelectorAll('[data-testid="chart-bar"]').length === 30`)
	value(t, ctx, "set the marker", chromedp.Evaluate[bool](`window.ledgerdeskMarker = true; true`))

	step("filter by the auth group", chromedp.SendKeys(testid("filter-action"), "auth"))
	waitFor("only auth entries, the filter in the address", `(function () {
		var rows = document.querySelectorAll('[data-testid="audit-action"]');
		return new URLSearchParams(location.search).get("action") === "auth" && rows.length > 0 &&
			Array.prototype.every.call(rows, function (r) { return r.textContent.indexOf("auth.") === 0; });
	})()`)
	if !markerKept() {
		t.Fatal("filtering reloaded the page instead of swapping the results")
	}
	exportAction := value(t, ctx, "read the export filter", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="audit-export"] input[name="action"]').value`))
	if exportAction != "auth" {
		t.Fatalf("the export form carries action %q, want the filter's", exportAction)
	}

	step("clear the filter", chromedp.Navigate(srv.URL+"/audit?action=team.create"), chromedp.WaitVisible(testid("audit-row")))
	// htmx wires the rows up once the document has loaded; a click before
	// that would only open the details, with nothing to fetch the diff.
	waitFor("the page is ready", `document.readyState === "complete" && typeof htmx !== "undefined"`)
	step("open the first entry's diff", chromedp.Click(css(`[data-testid="audit-diff-toggle"] summary`)))
	waitFor("the diff appears in the row", `document.querySelector('[data-testid="audit-diff"] [data-field="email_address"]') !== null`)

	step("verify the chain from the integrity page",
		chromedp.Navigate(srv.URL+"/audit/integrity"),
		chromedp.WaitVisible(testid("chain-head")),
		chromedp.Click(testid("verify-start")),
	)
	waitFor("the verification reports the chain intact", `document.querySelector('[data-testid="verify-ok"]') !== null`)
	head := value(t, ctx, "read the head", chromedp.Text(testid("head-seq")))
	checked := value(t, ctx, "read the count", chromedp.Text(testid("verify-checked")))
	if strings.TrimSpace(checked) != strings.TrimSpace(head) {
		t.Fatalf("verification checked %q entries (head %s)", checked, head)
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
		t.Fatalf("serve exited %d, want 0\nstderr: %s", code, srv.stderr)
	}
}
