package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowser_OverviewFiguresAndCharts(t *testing.T) {
	j := startJourney(t)
	j.signIn(j.email, j.password, testid("nav"))
	j.step("open the overview", chromedp.WaitVisible(testid("fig-users")))
	if got := j.text(chromedp.CSS(`[data-testid="fig-users"] [data-testid="figure-value"]`)); got != "1,000" {
		t.Fatalf("the overview counts %q end users, want the 1,000 demo users", got)
	}
	if n := j.count(`[data-testid="chart-new-users"] [data-testid="chart-bar"]`); n != 30 {
		t.Fatalf("the new users chart has %d bars, want 30", n)
	}

	// A bar's number shows on keyboard focus, with no chart script.
	j.step("focus today's bar", chromedp.Focus(`[data-testid="chart-new-users"] [data-testid="chart-bar"]:last-of-type`))
	j.waitFor("its label shows", `(function () {
		var bar = document.activeElement;
		var label = bar && bar.querySelector("text");
		return bar.getAttribute("data-testid") === "chart-bar" && getComputedStyle(label).opacity === "1";
	})()`)
	label := value(t, j.ctx, "read the focused bar's label", chromedp.Evaluate[string](`document.activeElement.getAttribute("aria-label")`))
	if !strings.Contains(label, "new end users") {
		t.Fatalf("the focused bar says %q", label)
	}

	j.step("open the users new in 30 days", chromedp.Click(testid("fig-new-month")), chromedp.WaitVisible(testid("user-results")))
	if !strings.Contains(j.location(), "created_from=") {
		t.Fatalf("the figure opened %s, not the filtered list", j.location())
	}
	if j.count(`[data-testid="user-row"]`) == 0 {
		t.Fatal("the users new in 30 days list is empty")
	}

	// Choosing a filter pushes a history entry (typing only replaces it).
	before := value(t, j.ctx, "read the history length", chromedp.Evaluate[int](`history.length`))
	j.step("choose the error filter", chromedp.SetValue(testid("filter-health"), "error"))
	j.waitFor("the address holds both filters", `(function () {
		var q = new URLSearchParams(location.search);
		return q.get("health") === "error" && q.get("created_from") !== null;
	})()`)
	if after := value(t, j.ctx, "read the history length", chromedp.Evaluate[int](`history.length`)); after != before+1 {
		t.Fatalf("choosing a filter added %d history entries, want 1", after-before)
	}
	j.checkBrowserReport()
	j.stopServe()
}
