package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// phoneWidth is a common phone's width in CSS pixels (iPhone 12 to 15).
const phoneWidth = 390

// createWebhook makes an endpoint through its form and returns its path.
func (b tab) createWebhook(url string) string {
	b.t.Helper()
	b.step("create a webhook endpoint",
		chromedp.Navigate(b.base+"/webhooks/new"),
		chromedp.WaitVisible(testid("webhook-form")),
		chromedp.SendKeys(chromedp.CSS("#f-url"), url),
		chromedp.Click(testid("event-USER_CREATED")),
		chromedp.Click(testid("webhook-submit")),
		chromedp.WaitVisible(testid("secret-panel")),
	)
	b.waitFor("the endpoint's address", `/^\/webhooks\/[0-9]+$/.test(location.pathname)`)
	return strings.TrimPrefix(b.location(), b.base)
}

// createAPIKey makes a read-only key through its form and returns its path.
func (b tab) createAPIKey(name string) string {
	b.t.Helper()
	b.step("create an API key",
		chromedp.Navigate(b.base+"/api-keys"),
		chromedp.WaitVisible(testid("api-key-form")),
		chromedp.SendKeys(chromedp.CSS("#f-name"), name),
		chromedp.Click(testid("api-key-create")),
		chromedp.WaitVisible(testid("api-key-secret-panel")),
	)
	return value(b.t, b.ctx, "read the key's link", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="api-key-row"] [data-testid="api-key-name"]').getAttribute("href")`))
}

// menuOpen reports whether the menu button says the menu is open, and
// whether the navigation shows.
func (b tab) menuOpen() (expanded, shown bool) {
	b.t.Helper()
	state := value(b.t, b.ctx, "read the menu", chromedp.Evaluate[[]bool](`(function () {
		var nav = document.querySelector('[data-testid="nav"]');
		return [document.querySelector('[data-testid="nav-toggle"]').getAttribute("aria-expanded") === "true",
			nav.getClientRects().length > 0]; })()`))
	return state[0], state[1]
}

func TestBrowser_PhoneWidthPagesFitAndTheMenuOpensAndCloses(t *testing.T) {
	j := startJourney(t)
	j.signIn(j.email, j.password, testid("nav"))
	// Lists with a row each, so their tables are on the page.
	hook := j.createWebhook("https://93.184.216.34/phone")
	key := j.createAPIKey("phone check")
	j.step("open the users list", chromedp.Navigate(j.base+"/users"), chromedp.WaitVisible(testid("user-row")))
	user := value(t, j.ctx, "read a user's link", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="user-row"] a').getAttribute("href")`))

	j.step("turn the window into a phone", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile))
	for _, path := range []string{"/", "/users", user, "/audit", "/team", "/api-keys", key, "/webhooks", hook,
		"/settings", "/account", "/account/sessions", "/api", "/users/batch/remove?scope=filter", "/batches"} {
		j.step("open "+path, chromedp.Navigate(j.base+path), chromedp.WaitVisible(testid("nav-toggle")))
		// A phone zooms out to show a page wider than itself, and
		// window.innerWidth grows with the zoom: the phone's width is the
		// bound.
		if w := value(t, j.ctx, "measure "+path, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > phoneWidth {
			t.Errorf("%s is %d px wide on a %d px phone", path, w, phoneWidth)
		}
	}

	// The navigation folds into the menu button.
	if expanded, shown := j.menuOpen(); expanded || shown {
		t.Fatalf("on a phone the menu starts open (aria-expanded %v, navigation shown %v)", expanded, shown)
	}
	j.step("open the menu", chromedp.Click(testid("nav-toggle")), chromedp.WaitVisible(testid("nav-/users")))
	if expanded, _ := j.menuOpen(); !expanded {
		t.Fatal("the open menu's button says aria-expanded false")
	}
	j.step("close it with its button", chromedp.Click(testid("nav-toggle")), chromedp.WaitNotVisible(testid("nav")))
	if expanded, _ := j.menuOpen(); expanded {
		t.Fatal("the closed menu's button says aria-expanded true")
	}
	j.step("open it and press Escape",
		chromedp.Click(testid("nav-toggle")),
		chromedp.WaitVisible(testid("nav")),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(testid("nav")),
	)
	if !j.focusIsOn("nav-toggle") {
		t.Fatal("Escape closed the menu but left the focus elsewhere than its button")
	}
	j.step("follow a link from the menu",
		chromedp.Click(testid("nav-toggle")),
		chromedp.Click(testid("nav-/audit")),
		chromedp.WaitVisible(testid("audit-results")),
	)
	if expanded, shown := j.menuOpen(); expanded || shown {
		t.Fatal("the next page starts with the menu open")
	}

	// Wide enough, the navigation is in the header and the button gone.
	j.step("widen the window", chromedp.EmulateViewport(1024, 800), chromedp.WaitVisible(testid("nav")), chromedp.WaitNotVisible(testid("nav-toggle")))

	j.checkBrowserReport()
	j.stopServe()
}

func TestBrowser_DialogCancelsWithEscapeAndConfirmingDeletesTheEndpoint(t *testing.T) {
	j := startJourney(t, "--no-demo-data")
	j.signIn(j.email, j.password, testid("nav"))
	url := "https://93.184.216.34/dialog"
	hook := j.createWebhook(url)
	j.step("open the endpoint", chromedp.Navigate(j.base+hook), chromedp.WaitVisible(testid("webhook-title")))

	// Escape and Cancel close the dialog, give the focus back to the
	// button that opened it, and change nothing.
	j.openDialog("webhook-delete", url)
	j.step("press Escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(testid("webhook-delete-dialog")))
	if !j.focusIsOn("webhook-delete") {
		t.Fatal("after Escape the focus is not back on Delete endpoint")
	}
	j.openDialog("webhook-delete", url)
	j.step("cancel", chromedp.Click(testid("webhook-delete-cancel")), chromedp.WaitNotVisible(testid("webhook-delete-dialog")))
	if !j.focusIsOn("webhook-delete") {
		t.Fatal("after Cancel the focus is not back on Delete endpoint")
	}
	// A click on the backdrop, outside the dialog's box, cancels too.
	j.openDialog("webhook-delete", url)
	j.step("click the backdrop",
		chromedp.MouseClickXY(5, 5),
		chromedp.WaitNotVisible(testid("webhook-delete-dialog")),
	)
	if loc := j.location(); loc != j.base+hook {
		t.Fatalf("cancelling led to %s", loc)
	}
	j.step("reload: the endpoint is still there", chromedp.Reload(), chromedp.WaitVisible(testid("webhook-title")))
	if got := j.text(testid("webhook-title")); got != url {
		t.Fatalf("the endpoint's page shows %q", got)
	}

	j.confirm("webhook-delete", testid("webhook-empty"), url)
	if loc := j.location(); loc != j.base+"/webhooks" {
		t.Fatalf("deleting led to %s", loc)
	}
	if got := j.text(testid("flash")); !strings.Contains(got, "deleted") {
		t.Fatalf("the flash says %q", got)
	}

	j.checkBrowserReport()
	j.stopServe()
}
