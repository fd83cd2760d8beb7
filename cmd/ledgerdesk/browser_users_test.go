package main

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"ledgerdesk/web/webtest"
)

func randomLetters(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rand.IntN(26))
	}
	return string(b)
}

var userPathPattern = regexp.MustCompile(`/users/([0-9]+)$`)

func TestBrowser_UserCreateFindRevealResetAndRemove(t *testing.T) {
	// No demo users: the test makes the one it needs, and starts faster.
	j := startJourney(t, "--no-demo-data")
	ctx, srv := j.ctx, j.srv

	inputValue := func(sel string) string { return value(t, ctx, "read "+sel, chromedp.Value(chromedp.CSS(sel))) }
	// clear empties a field without typing (chromedp.SetValue refuses "").
	clear := func(sel string) {
		t.Helper()
		if !value(t, ctx, "clear "+sel, chromedp.Evaluate[bool](fmt.Sprintf(`(function () {
			var el = document.querySelector(%q); el.value = ""; return el.value === ""; })()`, sel))) {
			t.Fatalf("could not clear %s", sel)
		}
	}

	// What the admin types; all of it is personal data the log must not see.
	cuid := "browser-" + randomLetters(8)
	first, last := "Ada", "Testperson"+randomLetters(6)
	ssn := fmt.Sprintf("%03d-%02d-%04d", 100+rand.IntN(800), 10+rand.IntN(89), 1000+rand.IntN(9000))
	dob, userEmail, phone := "1986-04-12", strings.ToLower(last)+"@example.com", "+13125551212"
	for _, v := range []string{last, ssn, dob, userEmail, phone, "3200 W Armitage Ave"} {
		webtest.Sensitive(v)
	}

	j.signIn(j.email, j.password, testid("nav"))
	j.step("open Users, then New user",
		chromedp.Click(testid("nav-/users")),
		chromedp.WaitVisible(testid("user-filter")),
		chromedp.Click(testid("user-new")),
		chromedp.WaitVisible(testid("user-form")),
	)
	if loc := j.location(); loc != srv.URL+"/users/new" {
		t.Fatalf("New user led to %s", loc)
	}

	// A bad phone number: the form comes back by htmx (422) with the
	// message beside the field and everything typed still there.
	j.setMarker()
	typed := map[string]string{
		"#f-client_user_id": cuid, "#f-first_name": first, "#f-last_name": last, "#f-phone_numbers": "312 555",
		"#f-emails": userEmail, "#f-ssn_full": ssn, "#f-date_of_birth": dob, "#f-street": "3200 W Armitage Ave",
		"#f-city": "Chicago", "#f-region": "IL", "#f-postal_code": "60647",
	}
	var fill []chromedp.Action[chromedp.Void]
	for sel, v := range typed {
		fill = append(fill, chromedp.SendKeys(chromedp.CSS(sel), v))
	}
	j.step("fill the form with a bad phone number", fill...)
	j.step("submit it",
		chromedp.Click(testid("user-submit")),
		chromedp.WaitVisible(testid("error-phone_numbers")),
	)
	if got := j.text(testid("error-phone_numbers")); !strings.Contains(got, "E.164") {
		t.Fatalf("the phone field says %q, want the E.164 rule", got)
	}
	if n := j.count(`[data-testid^="error-"]`); n != 1 {
		t.Fatalf("%d field messages, want only the phone's", n)
	}
	if loc := j.location(); loc != srv.URL+"/users/new" || !j.markerKept() {
		t.Fatalf("the 422 was not swapped in by htmx (now at %s, marker kept %v)", loc, j.markerKept())
	}
	for sel, want := range typed {
		if got := inputValue(sel); got != want {
			t.Errorf("after the 422, %s holds %q, want the typed %q", sel, got, want)
		}
	}
	if got := inputValue("#f-country"); got != "US" {
		t.Errorf("country %q after the 422", got)
	}

	// Fixed: the token panel replaces the form, with the token once.
	clear("#f-phone_numbers")
	j.step("fix the phone number and submit",
		chromedp.SendKeys(chromedp.CSS("#f-phone_numbers"), phone),
		chromedp.Click(testid("user-submit")),
		chromedp.WaitVisible(testid("token-panel")),
	)
	token := inputValue(`[data-testid="user-token"]`)
	webtest.Sensitive(token)
	if !strings.HasPrefix(token, "user-") || len(token) < 40 {
		t.Fatalf("the token panel shows %q", token)
	}
	if n := value(t, ctx, "count the token", chromedp.Evaluate[int](fmt.Sprintf(
		`document.documentElement.outerHTML.split(%q).length - 1`, token))); n != 1 {
		t.Fatalf("the token appears %d times in the page, want once", n)
	}
	if j.count(`[data-testid="user-form"]`) != 0 {
		t.Fatal("the form is still on the page beside the token")
	}
	m := userPathPattern.FindStringSubmatch(j.location())
	if m == nil || !j.markerKept() {
		t.Fatalf("after creation the address is %s (marker kept %v), want /users/ID pushed by htmx", j.location(), j.markerKept())
	}
	id := m[1]

	// Search as you type: the results and the address follow the box.
	j.step("go to Users",
		chromedp.Click(testid("nav-/users")),
		chromedp.WaitVisible(testid("user-search")),
	)
	j.setMarker()
	history := value(t, ctx, "read the history length", chromedp.Evaluate[int](`history.length`))
	j.step("type two letters", chromedp.SendKeys(testid("user-search"), "zq"))
	j.waitFor("the list says names need three characters", `(function () {
		var empty = document.querySelector('[data-testid="user-empty"]');
		return empty !== null && empty.dataset.reason === "short-search" && location.search.includes("q=zq");
	})()`)
	clear(`[data-testid="user-search"]`)
	j.step("type a name nobody has", chromedp.SendKeys(testid("user-search"), "zzqxw"))
	j.waitFor("the list empties", `document.querySelector('[data-testid="user-empty"]') !== null && location.search.includes("q=zzqxw")`)
	part := strings.ToLower(last[4:])
	clear(`[data-testid="user-search"]`)
	j.step("type part of the new user's name", chromedp.SendKeys(testid("user-search"), part))
	j.waitFor("the new user's row appears alone", fmt.Sprintf(
		`(function () { var rows = document.querySelectorAll('[data-testid="user-row"]');
		  return rows.length === 1 && rows[0].dataset.userId === %q; })()`, id))
	j.waitFor("the address holds the search", fmt.Sprintf(`new URLSearchParams(location.search).get("q") === %q`, part))
	if !j.markerKept() {
		t.Fatal("the search reloaded the page instead of swapping the results")
	}
	// Typing replaces the address: Back leaves the list, not a keystroke.
	if now := value(t, ctx, "read the history length", chromedp.Evaluate[int](`history.length`)); now != history {
		t.Fatalf("typing added %d history entries", now-history)
	}
	if got := j.text(testid("user-count")); got != "1 user" {
		t.Fatalf("count %q, want 1 user", got)
	}

	// The whole row opens the user, not only its id link.
	j.step("open the user by a click on its row's items cell",
		chromedp.Click(chromedp.CSS(`[data-testid="user-row"][data-user-id="`+id+`"] td:nth-child(5)`)),
		chromedp.WaitVisible(testid("user-title")),
	)
	if loc := j.location(); loc != srv.URL+"/users/"+id {
		t.Fatalf("the row led to %s", loc)
	}
	if got := j.text(testid("masked-value-ssn")); got != "***-**-"+ssn[7:] {
		t.Fatalf("the SSN shows as %q", got)
	}
	if n := value(t, ctx, "look for the SSN", chromedp.Evaluate[int](fmt.Sprintf(
		`document.documentElement.outerHTML.split(%q).length - 1`, ssn))); n != 0 {
		t.Fatal("the detail page holds the clear SSN before any reveal")
	}

	historyRows := j.count(`[data-testid="history-row"]`)
	j.step("reveal the SSN with a reason",
		chromedp.Click(testid("reveal-ssn")),
		chromedp.WaitVisible(testid("reveal-reason")),
		chromedp.SendKeys(testid("reveal-reason"), "Browser test: identity check for ticket 4711"),
		chromedp.Click(testid("reveal-submit")),
		chromedp.WaitVisible(testid("revealed")),
	)
	if got := j.text(testid("revealed")); got != ssn {
		t.Fatalf("revealed %q, want the SSN", got)
	}
	// The page's history follows each action without a reload.
	j.waitFor("the reveal heads the history", fmt.Sprintf(`document.querySelectorAll('[data-testid="history-row"]').length === %d &&
		document.querySelector('[data-testid="history-action"]').textContent.includes("pii_reveal")`, historyRows+1))
	// Data access lists the reveal at once, above the page view that
	// showed the masked identity.
	j.waitFor("the reveal heads the data access list", `(function () {
		var rows = document.querySelectorAll('[data-testid="data-access-surface"]');
		return rows.length >= 2 && rows[0].textContent.trim() === "Reveal" && rows[1].textContent.trim() === "User page";
	})()`)

	// htmx answers the reset into the items and the flash: the dialog
	// closes as it goes, and the focus is back on its button.
	j.setMarker()
	j.confirm("user-reset-login", testid("flash"), "end user "+id, first+" "+last, userEmail)
	if got := j.text(testid("flash")); !strings.Contains(got, "0 items") || !strings.Contains(got, "ITEM_LOGIN_REQUIRED") {
		t.Fatalf("the flash says %q", got)
	}
	if !j.focusIsOn("user-reset-login") || !j.markerKept() {
		t.Fatal("after the reset the dialog is open, or the focus left its button, or the page reloaded")
	}
	j.waitFor("the reset heads the history", `document.querySelector('[data-testid="history-action"]').textContent.includes("reset_login")`)

	// Saving the form unchanged writes nothing and says so.
	historyRows = j.count(`[data-testid="history-row"]`)
	j.step("save the edit form unchanged",
		chromedp.Click(testid("user-edit")),
		chromedp.WaitVisible(testid("user-form")),
		chromedp.Click(testid("user-submit")),
		chromedp.WaitVisible(testid("flash")),
	)
	j.waitFor("the page says nothing changed", `document.querySelector('[data-testid="flash"]').textContent.includes("No changes to save")`)
	j.step("back on the user", chromedp.WaitVisible(testid("history")))
	if n := j.count(`[data-testid="history-row"]`); n != historyRows {
		t.Fatalf("an unchanged save added %d history rows", n-historyRows)
	}

	// The removal asks in a dialog too, for the client_user_id.
	j.openDialog("user-remove", "end user "+id, last)
	j.step("type the client_user_id and remove the user",
		chromedp.SendKeys(chromedp.CSS("#f-confirm"), cuid),
		chromedp.Click(testid("user-remove-confirm")),
		chromedp.WaitVisible(testid("tombstone")),
	)
	if loc := j.location(); loc != srv.URL+"/users/"+id {
		t.Fatalf("after removal the browser is at %s", loc)
	}
	if got := j.text(testid("history")); !strings.Contains(got, "user.remove") || !strings.Contains(got, "user.pii_reveal") {
		t.Fatalf("the tombstone's history is %q", got)
	}

	j.checkBrowserReport()
	j.stopServe()
}
