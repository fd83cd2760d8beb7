package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// auditTimes reads the audit log's first rows as (shown, datetime) pairs.
func (b tab) auditTimes() [][2]string {
	b.t.Helper()
	b.step("open the audit log", chromedp.Navigate(b.base+"/audit"), chromedp.WaitVisible(testid("audit-row")))
	return value(b.t, b.ctx, "read the audit log's times", chromedp.Evaluate[[][2]string](`Array.from(
		document.querySelectorAll('[data-testid="audit-when"] time')).slice(0, 5).map(function (t) {
			return [t.textContent.trim(), t.getAttribute("datetime")];
		})`))
}

// wantTimesIn checks that each time shows its datetime (UTC) in zone.
func wantTimesIn(t *testing.T, times [][2]string, zone string) {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	if len(times) == 0 {
		t.Fatal("no times on the page")
	}
	for _, tm := range times {
		at, err := time.Parse(time.RFC3339, tm[1])
		if err != nil || !strings.HasSuffix(tm[1], "Z") {
			t.Fatalf("datetime %q is not RFC 3339 UTC: %v", tm[1], err)
		}
		if want := at.In(loc).Format("2006-01-02 15:04:05"); tm[0] != want {
			t.Fatalf("%s shows as %q, want %q (%s)", tm[1], tm[0], want, zone)
		}
	}
}

func TestBrowser_TimesInTheBrowsersZoneUntilTheMemberChoosesOne(t *testing.T) {
	j := startJourney(t)
	// A browser in Tokyo, whatever the zone of the machine.
	j.step("put the browser in Asia/Tokyo", chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		_, err := cdp.Call(ctx, tab, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"})
		return err
	}))
	if got := value(t, j.ctx, "read the browser's zone", chromedp.Evaluate[string](`Intl.DateTimeFormat().resolvedOptions().timeZone`)); got != "Asia/Tokyo" {
		t.Fatalf("the browser is in %q", got)
	}

	// Nothing chosen: the login page told the portal the browser's zone.
	j.signIn(j.email, j.password, testid("nav"))
	if got := j.text(testid("zone-note")); !strings.Contains(got, "Asia/Tokyo, your browser's time zone") {
		t.Fatalf("the overview's note says %q", got)
	}
	wantTimesIn(t, j.auditTimes(), "Asia/Tokyo")

	// Choosing a zone on the account page applies it everywhere.
	j.step("open the account page", chromedp.Click(testid("zone-change")), chromedp.WaitVisible(testid("time-zone-form")))
	chosen := value(t, j.ctx, "read the chosen zone", chromedp.Evaluate[string](`document.querySelector('[data-testid="time-zone-select"]').selectedOptions[0].textContent.trim()`))
	if got := chosen; got != "Use my browser's zone (Asia/Tokyo)" {
		t.Fatalf("the account page has %q chosen", got)
	}
	j.step("choose America/New_York",
		chromedp.SetValue(testid("time-zone-select"), "America/New_York"),
		chromedp.Click(testid("time-zone-submit")),
		chromedp.WaitVisible(testid("flash")),
	)
	if got := j.text(testid("flash")); got != "Times are now shown in America/New_York." {
		t.Fatalf("the flash says %q", got)
	}
	if got := j.text(testid("zone-note")); !strings.Contains(got, "America/New_York, as chosen") {
		t.Fatalf("the account page's note says %q", got)
	}
	times := j.auditTimes()
	wantTimesIn(t, times, "America/New_York")
	if got := j.text(chromedp.CSS(`[data-testid="audit-row"] [data-testid="audit-action"]`)); got != "team.update" {
		t.Fatalf("the newest audit entry is %q, want the zone's change", got)
	}
	j.checkBrowserReport()
	j.stopServe()
}
