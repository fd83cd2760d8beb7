package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// An admin ticks rows on the users list, removes them as a batch after
// typing the count, and watches the job finish on its page.
func TestBrowser_BatchRemoveOfTickedRows(t *testing.T) {
	j := startJourney(t)
	j.signIn(j.email, j.password, testid("nav"))
	j.step("open Users", chromedp.Click(testid("nav-/users")), chromedp.WaitVisible(testid("user-batch")))
	usersURL := j.location()

	// The header box ticks the whole page, and the count says so.
	j.step("tick the whole page", chromedp.Click(testid("user-select-page")))
	rows := j.count(`[data-testid="user-row"]`)
	if got := j.text(testid("batch-count")); got != strconv.Itoa(rows)+" selected" || rows == 0 {
		t.Fatalf("after ticking the page the count says %q (%d rows)", got, rows)
	}
	j.step("untick it", chromedp.Click(testid("user-select-page")))
	if n := j.count(`input[name="ids"]:checked`); n != 0 {
		t.Fatalf("%d rows still ticked", n)
	}

	// Ticking a row's box ticks it: the row's link, which covers the row,
	// does not take the click.
	first := `[data-testid="user-row"]:nth-child(1) [data-testid="user-select"]`
	second := `[data-testid="user-row"]:nth-child(2) [data-testid="user-select"]`
	j.step("tick two rows", chromedp.Click(chromedp.CSS(first)), chromedp.Click(chromedp.CSS(second)))
	if loc := j.location(); loc != usersURL {
		t.Fatalf("ticking a row opened %s", loc)
	}
	if got := j.text(testid("batch-count")); got != "2 selected" {
		t.Fatalf("the count says %q", got)
	}
	ids := value(t, j.ctx, "read the ticked ids", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('input[name="ids"]:checked')).map(function (b) { return b.value; })`))

	j.step("ask to remove them",
		chromedp.Click(testid("batch-remove")),
		chromedp.WaitVisible(testid("batch-form")),
	)
	if got := j.text(testid("batch-title")); got != "Remove 2 end users" {
		t.Fatalf("the confirmation says %q", got)
	}
	if n := j.count(`[data-testid="batch-sample-row"]`); n != 2 {
		t.Fatalf("%d users listed, want the 2 ticked", n)
	}

	// A wrong count comes back beside the field, as typed.
	j.setMarker()
	j.step("type a wrong count", chromedp.SendKeys(chromedp.CSS("#f-confirm"), "3"), chromedp.Click(testid("batch-submit")),
		chromedp.WaitVisible(testid("error-confirm")))
	if !j.markerKept() || value(t, j.ctx, "read the count", chromedp.Value(chromedp.CSS("#f-confirm"))) != "3" {
		t.Fatal("the refused form did not come back in place with what was typed")
	}
	if loc := j.location(); !strings.Contains(loc, "/users/batch/remove?") {
		t.Errorf("after the refusal the address bar shows %s, want the confirmation page", loc)
	}

	j.step("type the right count",
		chromedp.SetValue(chromedp.CSS("#f-confirm"), "2"),
		chromedp.Click(testid("batch-submit")),
		chromedp.WaitVisible(testid("job-progress")),
	)
	// The job runs in the background; its page polls until it is done.
	j.waitFor("the job to finish", `document.querySelector('[data-testid="job-progress"]').dataset.state === "done"`)
	if got := j.text(testid("job-state")); got != "Finished: all 2 users changed." {
		t.Fatalf("the job says %q", got)
	}
	for _, id := range ids {
		j.step("open removed user "+id, chromedp.Navigate(j.base+"/users/"+id), chromedp.WaitVisible(testid("user-title")))
		if !strings.Contains(j.text(chromedp.CSS("main")), "removed") {
			t.Errorf("user %s does not show as removed", id)
		}
	}
	j.step("open the jobs list", chromedp.Navigate(j.base+"/batches"), chromedp.WaitVisible(testid("job-list")))
	if n := j.count(`[data-testid="job-row"]`); n != 1 {
		t.Errorf("the jobs list has %d rows", n)
	}
	j.checkBrowserReport()
	j.stopServe()
}
