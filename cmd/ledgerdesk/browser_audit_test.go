package main

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowser_AuditFilterDiffChartAndVerification(t *testing.T) {
	j := startJourney(t, "--no-demo-data")
	srv := j.srv

	j.signIn(j.email, j.password, testid("nav"))
	j.step("open Audit",
		chromedp.Click(testid("nav-/audit")),
		chromedp.WaitVisible(testid("audit-filter")),
	)
	j.waitFor("the chart loads after the rows", `document.querySelectorAll('[data-testid="chart-bar"]').length === 30`)
	j.setMarker()

	j.step("filter by the auth group", chromedp.SendKeys(testid("filter-action"), "auth"))
	j.waitFor("only auth entries, the filter in the address", `(function () {
		var rows = document.querySelectorAll('[data-testid="audit-action"]');
		return new URLSearchParams(location.search).get("action") === "auth" && rows.length > 0 &&
			Array.prototype.every.call(rows, function (r) { return r.textContent.indexOf("auth.") === 0; });
	})()`)
	if !j.markerKept() {
		t.Fatal("filtering reloaded the page instead of swapping the results")
	}
	exportAction := value(t, j.ctx, "read the export filter", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="audit-export"] input[name="action"]').value`))
	if exportAction != "auth" {
		t.Fatalf("the export form carries action %q, want the filter's", exportAction)
	}

	j.step("clear the filter", chromedp.Navigate(srv.URL+"/audit?action=team.create"), chromedp.WaitVisible(testid("audit-row")))
	// htmx wires the rows up once the document has loaded; a click before
	// that would only open the details, with nothing to fetch the diff.
	j.waitFor("the page is ready", `document.readyState === "complete" && typeof htmx !== "undefined"`)
	j.step("open the first entry's diff", chromedp.Click(chromedp.CSS(`[data-testid="audit-diff-toggle"] summary`)))
	j.waitFor("the diff appears in the row", `document.querySelector('[data-testid="audit-diff"] [data-field="email_address"]') !== null`)

	j.step("verify the chain from the integrity page",
		chromedp.Navigate(srv.URL+"/audit/integrity"),
		chromedp.WaitVisible(testid("chain-head")),
		chromedp.Click(testid("verify-start")),
	)
	j.waitFor("the verification reports the chain intact", `document.querySelector('[data-testid="verify-ok"]') !== null`)
	head, checked := j.text(testid("head-seq")), j.text(testid("verify-checked"))
	if checked != head {
		t.Fatalf("verification checked %q entries (head %s)", checked, head)
	}

	j.checkBrowserReport()
	j.stopServe()
}
