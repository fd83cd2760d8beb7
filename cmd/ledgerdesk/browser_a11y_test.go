package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"ledgerdesk/web/webtest"
)

// axePath is axe-core as `npm ci` installs it (package.json), from this
// package's directory.
const axePath = "../../node_modules/axe-core/axe.min.js"

// axeRules are the WCAG 2.1 A and AA rules axe checks.
const axeRules = `["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]`

// axeSource reads axe-core. Without it the test is skipped, except in CI,
// where it must run.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(axePath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI must run the accessibility check (`npm ci` installs it; .ci/test does)", axePath)
		}
		t.Skipf("accessibility check skipped: %s is missing; run `npm ci`", axePath)
	}
	return string(b)
}

// axeViolation is one rule axe found broken, with the elements that break it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	URL    string `json:"helpUrl"`
	Nodes  []struct {
		Target  []string `json:"target"`
		Summary string   `json:"summary"`
	} `json:"nodes"`
}

// runAxe is the check: WCAG 2.1 A and AA, the serious and critical
// violations only.
const runAxe = `axe.run(document, {runOnly: {type: "tag", values: ` + axeRules + `}, resultTypes: ["violations"]}).then(function (r) {
	return r.violations.filter(function (v) { return v.impact === "serious" || v.impact === "critical"; }).map(function (v) {
		return {id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, nodes: v.nodes.map(function (n) {
			return {target: n.target.map(String), summary: n.failureSummary};
		})};
	});
})`

// axe runs axe-core on the page as it is now. The script goes in through
// the DevTools protocol (Runtime.evaluate), which the page's CSP does not
// govern, so the CSP stays as the portal sends it.
func (b tab) axe(source string) []axeViolation {
	b.t.Helper()
	if !value(b.t, b.ctx, "look for axe", chromedp.Evaluate[bool](`typeof axe === "object"`)) {
		value(b.t, b.ctx, "inject axe", chromedp.Evaluate[chromedp.Void](source))
	}
	return value(b.t, b.ctx, "run axe", chromedp.Evaluate[[]axeViolation](runAxe, chromedp.EvalAwaitPromise))
}

// settled waits until the page has loaded and htmx has no request in flight
// (the pages that load a part after the rest, like the audit chart).
func (b tab) settled(what string) {
	b.t.Helper()
	b.waitFor(what+" settles", `document.readyState === "complete" && typeof htmx === "object" &&
		document.querySelector(".htmx-request") === null`)
}

// a11yScreen is one screen of the walk: where it is, what shows it is
// there, and the roles that may open it (all when empty).
type a11yScreen struct {
	name  string
	path  string
	ready string
	roles []string
	// then, when set, acts on the page before the check (a form sent
	// with errors, an invitation made).
	then func(b tab)
}

// a11yFindings gathers axe's violations across the walk, one entry per
// screen and rule, with the elements and every role and width that saw it.
type a11yFindings struct {
	found map[string]*a11yFinding
}

type a11yFinding struct {
	rule    axeViolation
	targets []string
	seenAs  []string
}

func (f *a11yFindings) add(screen, where string, vs []axeViolation) {
	for _, v := range vs {
		key := screen + ": " + v.ID
		found := f.found[key]
		if found == nil {
			found = &a11yFinding{rule: v}
			f.found[key] = found
		}
		found.seenAs = append(found.seenAs, where)
		for _, n := range v.Nodes {
			if t := strings.Join(n.Target, " "); !slices.Contains(found.targets, t) {
				found.targets = append(found.targets, t)
			}
		}
	}
}

// report fails the test with each finding: the rule, its impact, the
// elements (a few), axe's help and what the first element lacks.
func (f *a11yFindings) report(t *testing.T) {
	t.Helper()
	keys := slices.Sorted(maps.Keys(f.found))
	for _, key := range keys {
		found := f.found[key]
		targets := found.targets
		if len(targets) > 5 {
			targets = append(targets[:5:5], fmt.Sprintf("and %d more", len(found.targets)-5))
		}
		t.Errorf("%s (%s): %s — %s\n    at %s\n    seen as %s\n    %s", key, found.rule.Impact, found.rule.Help, found.rule.URL,
			strings.Join(targets, ", "), strings.Join(found.seenAs, ", "),
			strings.ReplaceAll(found.rule.Nodes[0].Summary, "\n", "\n    "))
	}
}

// detailPath is the address of one record's page.
var detailPath = regexp.MustCompile(`^/[a-z-]+/[0-9a-z]+$`)

// The accessibility check of issue 15: axe-core finds no serious or
// critical WCAG 2.1 AA violation on any screen, for every role that may
// open it, at desktop and phone width.
func TestBrowser_A11yEveryScreenEveryRoleDesktopAndPhone(t *testing.T) {
	source := axeSource(t)
	j := startJourneyWithin(t, 10*time.Minute)
	admin := j.tab

	// Members of the other roles, made as an operator would.
	type member struct{ role, email, password string }
	members := []member{{role: "admin", email: j.email, password: j.password}}
	for _, role := range []string{"compliance", "auditor"} {
		email := role + "-" + randomLetters(6) + "@example.com"
		r := ledgerdesk(t, env(), "admin", "create", "--data", j.data, "--email", email, "--role", role)
		m := shownOnce.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil {
			t.Fatalf("admin create --role %s: %d %s", role, r.code, r.stderr)
		}
		webtest.Sensitive(m[1])
		members = append(members, member{role: role, email: email, password: m[1]})
	}

	// What the screens show: a webhook with a delivery, an API key, a
	// user with an item in error, a member.
	admin.signIn(j.email, j.password, testid("nav"))
	hook := admin.createWebhook("https://93.184.216.34/a11y")
	admin.step("send a test event",
		chromedp.Navigate(j.base+hook),
		chromedp.WaitVisible(testid("webhook-send-test")),
		chromedp.Click(testid("webhook-send-test")),
		chromedp.WaitVisible(testid("flash")))
	key := admin.createAPIKey("accessibility check")
	admin.step("reset the login of the users in error, as a batch",
		chromedp.Navigate(j.base+"/users/batch/reset-login?scope=filter&health=error"),
		chromedp.WaitVisible(testid("batch-form")),
		chromedp.Click(testid("batch-submit")),
		chromedp.WaitVisible(testid("job-progress")))
	job := strings.TrimPrefix(admin.location(), j.base)
	admin.step("list users with an item in error", chromedp.Navigate(j.base+"/users?health=error"), chromedp.WaitVisible(testid("user-row")))
	user := value(t, j.ctx, "read a user's link", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="user-row"] a').getAttribute("href")`))
	admin.step("open the user", chromedp.Navigate(j.base+user), chromedp.WaitVisible(testid("user-title")))
	revealField := strings.TrimPrefix(value(t, j.ctx, "read a reveal link", chromedp.Evaluate[string](
		`document.querySelector('a[data-testid^="reveal-"]').getAttribute("data-testid")`)), "reveal-")
	admin.step("list the team", chromedp.Navigate(j.base+"/team"), chromedp.WaitVisible(testid("team-row")))
	teammate := value(t, j.ctx, "read the compliance reviewer's link", chromedp.Evaluate[string](fmt.Sprintf(
		`Array.prototype.find.call(document.querySelectorAll('[data-testid="team-row"] a'), function (a) {
			return a.textContent.indexOf(%q) >= 0; }).getAttribute("href")`, members[1].email)))
	for _, p := range []string{user, teammate, key, hook} {
		if !detailPath.MatchString(p) {
			t.Fatalf("a link read from a list is %q", p)
		}
	}
	admin.signOut()

	// invitation is the link the walk's invitation made; password is the
	// password of the member walking.
	var invitation, password string
	admins, reviewers := []string{"admin"}, []string{"admin", "compliance"}
	screens := []a11yScreen{
		{name: "overview", path: "/", ready: "home-title"},
		{name: "users list", path: "/users", ready: "user-results"},
		{name: "user with an item in error", path: user, ready: "user-title", then: func(b tab) {
			// The error's JSON is in a closed <details>: opened, its box
			// is checked too.
			value(b.t, b.ctx, "open the item errors", chromedp.Evaluate[int](`(function () {
				var ds = document.querySelectorAll('[data-testid="item-error"]');
				ds.forEach(function (d) { d.open = true; }); return ds.length; })()`))
		}},
		{name: "user create form with errors", path: "/users/new", ready: "user-form", roles: admins, then: func(b tab) {
			b.step("send it empty but for a bad email",
				chromedp.SendKeys(chromedp.CSS("#f-emails"), "not-an-email"),
				chromedp.Click(testid("user-submit")),
				chromedp.WaitVisible(testid("error-emails")))
		}},
		{name: "user created", path: "/users/new", ready: "user-form", roles: admins, then: func(b tab) {
			b.step("create a user",
				chromedp.SendKeys(chromedp.CSS("#f-client_user_id"), "a11y-"+randomLetters(8)),
				chromedp.Click(testid("user-submit")),
				chromedp.WaitVisible(testid("token-panel")))
		}},
		{name: "user data access", path: user + "/access", ready: "data-access"},
		{name: "user edit", path: user + "/edit", ready: "user-form", roles: admins},
		{name: "user remove", path: user + "/remove", ready: "remove-form", roles: admins},
		{name: "user reveal", path: user + "/reveal?field=" + revealField, ready: "reveal-form", roles: reviewers},
		{name: "user page, remove dialog open", path: user, ready: "user-title", roles: admins, then: func(b tab) {
			b.step("open the dialog", chromedp.Click(testid("user-remove")), chromedp.WaitVisible(testid("user-remove-dialog")))
		}},
		{name: "batch export", path: "/users/batch/export?scope=filter&health=error", ready: "batch-form"},
		{name: "batch removal, a wrong count", path: "/users/batch/remove?scope=filter&health=error", ready: "batch-form", roles: admins, then: func(b tab) {
			b.step("type a wrong count",
				chromedp.SendKeys(chromedp.CSS("#f-confirm"), "0"),
				chromedp.Click(testid("batch-submit")),
				chromedp.WaitVisible(testid("error-confirm")))
		}},
		{name: "batch job", path: job, ready: "job-progress", roles: admins},
		{name: "batch jobs", path: "/batches", ready: "job-list", roles: admins},
		{name: "audit list", path: "/audit", ready: "audit-results"},
		{name: "audit integrity", path: "/audit/integrity", ready: "chain-head"},
		{name: "audit entry", path: "/audit/1/diff", ready: "audit-entry-title"},
		{name: "not found", path: "/users/999999999", ready: "error-page"},
		{name: "team list", path: "/team", ready: "team-results", roles: admins},
		{name: "team member", path: teammate, ready: "member-email", roles: admins},
		{name: "team member two-step reset", path: teammate + "/mfa-reset", ready: "mfa-reset", roles: admins},
		{name: "team invite", path: "/team/invite", ready: "invite-form", roles: admins, then: func(b tab) {
			b.step("invite an auditor",
				chromedp.SendKeys(chromedp.CSS("#f-email"), "invitee-"+randomLetters(6)+"@example.com"),
				chromedp.Click(testid("invite-submit")),
				chromedp.WaitVisible(testid("invite-panel")))
			invitation = value(b.t, b.ctx, "read the invitation link", chromedp.Value(testid("invite-link")))
			webtest.Sensitive(strings.TrimPrefix(invitation, b.base+"/invite/"))
		}},
		{name: "API keys, a key created", path: "/api-keys", ready: "api-keys", roles: admins, then: func(b tab) {
			b.step("create a key",
				chromedp.SendKeys(chromedp.CSS("#f-name"), "key "+randomLetters(6)),
				chromedp.Click(testid("api-key-create")),
				chromedp.WaitVisible(testid("api-key-secret-panel")))
		}},
		{name: "API key", path: key, ready: "api-key-title", roles: admins},
		{name: "webhooks", path: "/webhooks", ready: "webhook-table", roles: admins},
		{name: "webhook created", path: "/webhooks/new", ready: "webhook-form", roles: admins, then: func(b tab) {
			b.step("create an endpoint",
				chromedp.SendKeys(chromedp.CSS("#f-url"), "https://93.184.216.34/"+randomLetters(6)),
				chromedp.Click(testid("event-USER_CREATED")),
				chromedp.Click(testid("webhook-submit")),
				chromedp.WaitVisible(testid("secret-panel")))
		}},
		{name: "webhook", path: hook, ready: "webhook-title", roles: admins},
		{name: "webhook deliveries", path: hook + "/deliveries", ready: "state-filter", roles: admins, then: func(b tab) {
			// Each delivery's attempts are in a closed <details>.
			value(b.t, b.ctx, "open the deliveries", chromedp.Evaluate[int](`(function () {
				var ds = document.querySelectorAll("main details");
				ds.forEach(function (d) { d.open = true; }); return ds.length; })()`))
		}},
		{name: "settings", path: "/settings", ready: "settings-form", roles: admins},
		{name: "approvals", path: "/approvals", ready: "approvals-pending-count", roles: admins},
		{name: "account", path: "/account", ready: "password-form"},
		{name: "account sessions", path: "/account/sessions", ready: "sessions"},
		{name: "account two-step sign-in", path: "/account/mfa", ready: "mfa"},
		{name: "account two-step setup", path: "/account/mfa", ready: "mfa", then: func(b tab) {
			if b.count(`[data-testid="mfa-start-form"]`) == 0 {
				return // started at the other width
			}
			b.step("start the setup",
				chromedp.SendKeys(chromedp.CSS("#f-password"), password),
				chromedp.Click(testid("mfa-start")),
				chromedp.WaitVisible(testid("mfa-secret")))
		}},
		{name: "API", path: "/api", ready: "api-overview", roles: admins},
	}
	widths := []struct {
		name          string
		width, height int64
		phone         bool
	}{{"1440x900", 1440, 900, false}, {"390x844", phoneWidth, 844, true}}
	viewport := func(b tab, i int) {
		w := widths[i]
		if w.phone {
			b.step("turn the window into a phone", chromedp.EmulateViewport(w.width, w.height, chromedp.EmulateMobile))
		} else {
			b.step("turn the window into a desktop", chromedp.EmulateViewport(w.width, w.height))
		}
	}
	findings := &a11yFindings{found: map[string]*a11yFinding{}}
	// `make screenshots` sets LEDGERDESK_SCREENSHOTS to a folder: each
	// screen checked is also saved there as a full-page PNG.
	shots := os.Getenv("LEDGERDESK_SCREENSHOTS")
	check := func(b tab, screen, where string) {
		b.t.Helper()
		b.settled(screen)
		findings.add(screen, where, b.axe(source))
		if shots != "" {
			name := strings.NewReplacer(" ", "-", "/", "-", "(", "", ")", "", ",", "").Replace(where + " " + screen)
			png := value(b.t, b.ctx, "screenshot "+screen, chromedp.FullScreenshot(100))
			if err := os.WriteFile(filepath.Join(shots, strings.ToLower(name)+".png"), png, 0o644); err != nil {
				b.t.Fatalf("save the screenshot: %v", err)
			}
		}
	}

	checked := 0
	for _, m := range members {
		viewport(admin, 0)
		admin.signIn(m.email, m.password, testid("nav"))
		password = m.password
		for i, w := range widths {
			viewport(admin, i)
			for _, s := range screens {
				if s.roles != nil && !slices.Contains(s.roles, m.role) {
					continue
				}
				admin.step("open "+s.name, chromedp.Navigate(j.base+s.path), chromedp.WaitVisible(testid(s.ready)))
				if s.then != nil {
					admin.settled(s.name)
					s.then(admin)
				}
				check(admin, s.name, m.role+" "+w.name)
				checked++
			}
		}
		viewport(admin, 0)
		admin.signOut()
	}
	// The screens of a visitor who is not signed in.
	for i, w := range widths {
		viewport(admin, i)
		admin.step("open the login page", chromedp.Navigate(j.base+"/login"), chromedp.WaitVisible(testid("login-form")))
		if i == 0 {
			// The check itself sees a violation: an input without a label.
			value(t, j.ctx, "add an unlabelled input", chromedp.Evaluate[bool](
				`document.querySelector("main").appendChild(document.createElement("input")) !== null`))
			if vs := admin.axe(source); len(vs) == 0 || vs[0].ID != "label" || vs[0].Impact != "critical" {
				t.Fatalf("axe did not report an unlabelled input as a critical label violation: %+v", vs)
			}
			admin.step("reload the login page", chromedp.Reload(), chromedp.WaitVisible(testid("login-form")))
		}
		check(admin, "login", "visitor "+w.name)
		admin.step("sign in with a wrong password",
			chromedp.SendKeys(chromedp.CSS(`#f-email`), "nobody@example.com"),
			chromedp.SendKeys(chromedp.CSS(`#f-password`), "not the password"),
			chromedp.Click(testid("login-submit")),
			chromedp.WaitVisible(testid("login-error")))
		check(admin, "login with an error", "visitor "+w.name)
		admin.step("open the invitation", chromedp.Navigate(invitation), chromedp.WaitVisible(testid("accept-form")))
		check(admin, "invitation", "visitor "+w.name)
		checked += 3
	}
	t.Logf("axe checked %d screens", checked)

	findings.report(t)
	j.checkBrowserReport()
	j.stopServe()
}

// focusIsOnSelector reports whether the focus is on the element sel finds.
func (b tab) focusIsOnSelector(sel string) bool {
	b.t.Helper()
	return value(b.t, b.ctx, "find the focus", chromedp.Evaluate[bool](fmt.Sprintf(
		`document.activeElement !== null && document.activeElement === document.querySelector(%q)`, sel)))
}

// After an htmx form's answer the focus is where the answer is: on the
// first refused field, or on the new content when the old form took the
// focus with it. Searches and filters swap their results and leave the
// focus in the box being typed in.
func TestBrowser_A11yFocusFollowsFormAnswersAndStaysInSearchBoxes(t *testing.T) {
	j := startJourney(t, "--no-demo-data")
	j.signIn(j.email, j.password, testid("nav"))

	j.step("open the user form", chromedp.Navigate(j.base+"/users/new"), chromedp.WaitVisible(testid("user-form")))
	j.settled("the user form")
	j.setMarker()
	// An identity whose email alone is wrong.
	var fill []chromedp.Action[chromedp.Void]
	for sel, v := range map[string]string{
		"#f-client_user_id": "focus-" + randomLetters(8), "#f-first_name": "Ada", "#f-last_name": "Focus",
		"#f-phone_numbers": "+13125551212", "#f-emails": "not-an-email", "#f-street": "3200 W Armitage Ave",
		"#f-city": "Chicago", "#f-region": "IL", "#f-postal_code": "60647",
	} {
		fill = append(fill, chromedp.SendKeys(chromedp.CSS(sel), v))
	}
	j.step("fill the form with an invalid email", fill...)
	j.step("send it", chromedp.Click(testid("user-submit")), chromedp.WaitVisible(testid("error-emails")))
	if n := j.count(`[aria-invalid="true"]`); n != 1 {
		t.Fatalf("%d fields refused, want the email alone", n)
	}
	j.waitFor("the focus is on the email field", `document.activeElement !== null && document.activeElement.id === "f-emails" &&
		document.activeElement.getAttribute("aria-invalid") === "true"`)
	if !j.markerKept() {
		t.Fatal("the form was sent by a page load, not by htmx")
	}

	// The settings form is replaced by its answer, button and all: the
	// focus goes to the answer, not back to the top of the page.
	j.step("save the settings",
		chromedp.Navigate(j.base+"/settings"),
		chromedp.WaitVisible(testid("settings-form")),
	)
	j.settled("the settings")
	j.step("save", chromedp.Click(testid("settings-submit")), chromedp.WaitVisible(testid("settings-done")))
	j.waitFor("the focus is on the answer", `(function () {
		var done = document.querySelector('[data-testid="settings-done"]');
		var a = document.activeElement;
		return a !== null && a !== document.body && a.contains(done);
	})()`)

	// Typing in a search or filter box keeps the focus there when the
	// results come back.
	j.step("open the users list", chromedp.Navigate(j.base+"/users"), chromedp.WaitVisible(testid("user-search")))
	j.settled("the users list")
	// Whatever the keyboard reaches shows a ring of 2 px or more: the skip
	// link, the header's links and button, the filters (inputs, selects),
	// the links to pages.
	for i := 0; i < 16; i++ {
		j.step("press Tab", chromedp.KeyEvent(kb.Tab))
		ring := value(t, j.ctx, "read the focus ring", chromedp.Evaluate[string](`(function () {
			var a = document.activeElement, s = getComputedStyle(a);
			var seen = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2 && s.outlineColor !== "rgba(0, 0, 0, 0)";
			return seen ? "" : a.outerHTML.slice(0, 160) + " has outline " + s.outlineStyle + " " + s.outlineWidth + " " + s.outlineColor;
		})()`))
		if ring != "" {
			t.Errorf("tab stop %d: %s", i+1, ring)
		}
	}
	j.step("type a search", chromedp.SendKeys(testid("user-search"), "zzqxw"))
	j.waitFor("the results come back", `document.querySelector('[data-testid="user-empty"]') !== null && location.search.includes("q=zzqxw")`)
	j.settled("the search")
	if !j.focusIsOnSelector(`[data-testid="user-search"]`) {
		t.Fatal("the users search lost the focus when its results came back")
	}
	j.step("open the audit log", chromedp.Navigate(j.base+"/audit"), chromedp.WaitVisible(testid("audit-filter")))
	j.settled("the audit log")
	j.step("type a filter", chromedp.SendKeys(testid("filter-action"), "auth"))
	j.waitFor("the results come back", `new URLSearchParams(location.search).get("action") === "auth"`)
	j.settled("the filter")
	if !j.focusIsOnSelector(`[data-testid="filter-action"]`) {
		t.Fatal("the audit filter lost the focus when its results came back")
	}

	j.checkBrowserReport()
	j.stopServe()
}
