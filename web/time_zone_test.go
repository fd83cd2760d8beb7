package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// utcTitle is the title of the <time> in s: the instant in UTC, to the
// second.
func utcTitle(s *goquery.Selection) string {
	return s.Find("time").AddSelection(s.Filter("time")).First().AttrOr("title", "")
}

// setZone chooses zone on the account page.
func setZone(t *testing.T, c *webtest.Client, zone string) {
	t.Helper()
	wantRedirect(t, c.Post("/account/time-zone", url.Values{models.FieldTimeZone: {zone}}), "/account")
}

// wantTime checks that s shows t in loc to the minute, with the instant in
// UTC in its datetime and title.
func wantTime(t *testing.T, what string, s *goquery.Selection, at time.Time, loc *time.Location) {
	t.Helper()
	tm := s.Find("time").First()
	if tm.Length() == 0 {
		t.Fatalf("%s: no <time> in %q", what, text(s))
	}
	if got, want := text(tm), at.In(loc).Format("2006-01-02 15:04"); !strings.HasPrefix(got, want) {
		t.Errorf("%s shows %q, want %q (%s)", what, got, want, loc)
	}
	if got, want := tm.AttrOr("datetime", ""), at.UTC().Format(time.RFC3339); got != want {
		t.Errorf("%s datetime %q, want %q", what, got, want)
	}
	if got, want := tm.AttrOr("title", ""), at.UTC().Format("2006-01-02 15:04:05 UTC"); got != want {
		t.Errorf("%s title %q, want %q", what, got, want)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestTimes_ShownInTheChosenZoneWithUTCInTheTitle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, m := h.SignIn(t, models.RoleAdmin)
		u := createUser(t, db, sampleIdentity()).User
		// A browser elsewhere: the member's choice wins over it.
		c.Cookies[current.ZoneCookie] = "America/New_York"
		setZone(t, c, "Asia/Kolkata")
		kolkata := mustZone(t, "Asia/Kolkata")

		page := c.Get("/account")
		if got := text(byTestID(page.Doc, "flash")); got != "Times are now shown in Asia/Kolkata." {
			t.Errorf("flash %q", got)
		}
		if got := byTestID(page.Doc, "time-zone-select").Find("option[selected]").AttrOr("value", ""); got != "Asia/Kolkata" {
			t.Errorf("the account page has %q chosen", got)
		}
		note := byTestID(page.Doc, "zone-note")
		if text(byTestID(page.Doc, "zone-name")) != "Asia/Kolkata" || !strings.Contains(text(note), "as chosen") {
			t.Errorf("the page's note says %q", text(note))
		}

		stored := reloadUser(t, db, u.ID)
		show := c.Get(userPath(u.ID))
		wantTime(t, "the user's Created", byTestID(show.Doc, "user-created"), stored.CreatedAt, kolkata)
		list := c.Get("/users")
		wantTime(t, "the list's Created", list.Doc.Find(`[data-testid="user-row"] [data-testid="user-created"]`).First(), stored.CreatedAt, kolkata)
		if head := text(list.Doc.Find("thead")); strings.Contains(head, "UTC") {
			t.Errorf("the list's header still says UTC: %q", head)
		}

		// The audit log, to the second.
		entry := auditEntries(t, db, "team.update")[0]
		audit := c.Get("/audit")
		row := audit.Doc.Find(`[data-testid="audit-row"][data-seq="` + strconv.FormatInt(entry.Seq, 10) + `"]`)
		when := byTestIDIn(row, "audit-when")
		wantTime(t, "the audit entry", when, entry.OccurredAt, kolkata)
		if got, want := text(when), entry.OccurredAt.In(kolkata).Format("2006-01-02 15:04:05"); got != want {
			t.Errorf("the audit entry shows %q, want %q", got, want)
		}

		// Recent activity on the overview is relative, the time in the
		// title; its first entry is the member's latest (the views above
		// recorded theirs after the zone's change).
		recent, err := db.AuditHistory(context.Background(), models.FilterForActor(m.AsActor()), 1)
		if err != nil || len(recent) != 1 {
			t.Fatalf("the member's latest entry: %v, %v", recent, err)
		}
		latest := recent[0]
		home := c.Get("/")
		act := byTestID(home.Doc, "activity-when").First()
		if got := text(act); got != "just now" {
			t.Errorf("recent activity shows %q, want just now", got)
		}
		if title := act.Find("time").AttrOr("title", ""); !strings.Contains(title, latest.OccurredAt.In(kolkata).Format("2006-01-02 15:04:05 IST")) ||
			!strings.HasSuffix(title, latest.OccurredAt.UTC().Format("2006-01-02 15:04:05 UTC")) {
			t.Errorf("recent activity's title %q", title)
		}

		// Sessions: signed in at a time, last seen relative.
		sessions := c.Get("/account/sessions")
		mine := byTestID(sessions.Doc, "session-row").First()
		wantTime(t, "the session's sign-in", byTestIDIn(mine, "session-created"), sessionRowsOf(t, db, m.ID)[0].CreatedAt, kolkata)
		if got := text(byTestIDIn(mine, "session-last-seen")); got != "just now" {
			t.Errorf("the session was last seen %q", got)
		}
	})
}

func TestTimes_TheBrowsersZoneUntilTheMemberChoosesOne(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		u := createUser(t, db, nil).User
		stored := reloadUser(t, db, u.ID)

		// No cookie yet: UTC.
		show := c.Get(userPath(u.ID))
		wantTime(t, "Created without a zone", byTestID(show.Doc, "user-created"), stored.CreatedAt, time.UTC)
		if got := text(byTestID(show.Doc, "zone-name")); got != "UTC" {
			t.Errorf("the note names %q", got)
		}

		c.Cookies[current.ZoneCookie] = "Pacific/Auckland"
		show = c.Get(userPath(u.ID))
		wantTime(t, "Created in the browser's zone", byTestID(show.Doc, "user-created"), stored.CreatedAt, mustZone(t, "Pacific/Auckland"))
		if note := text(byTestID(show.Doc, "zone-note")); !strings.Contains(note, "Pacific/Auckland, your browser's time zone") {
			t.Errorf("the note says %q", note)
		}
		account := c.Get("/account")
		opt := byTestID(account.Doc, "time-zone-select").Find("option[selected]")
		if opt.AttrOr("value", "x") != "" || !strings.Contains(opt.Text(), "Pacific/Auckland") {
			t.Errorf("the account page offers %q (%q) chosen", opt.AttrOr("value", "x"), opt.Text())
		}

		// Choosing a zone, then going back to the browser's.
		setZone(t, c, "Europe/Lisbon")
		wantTime(t, "Created in the chosen zone", byTestID(c.Get(userPath(u.ID)).Doc, "user-created"), stored.CreatedAt, mustZone(t, "Europe/Lisbon"))
		setZone(t, c, "")
		page := c.Get(userPath(u.ID))
		wantTime(t, "Created back in the browser's zone", byTestID(page.Doc, "user-created"), stored.CreatedAt, mustZone(t, "Pacific/Auckland"))
		if got := text(byTestID(page.Doc, "flash")); got != "Times now follow your browser's time zone, Pacific/Auckland." {
			t.Errorf("flash %q", got)
		}
		es := auditEntries(t, db, "team.update")
		if len(es) != 2 || !strings.Contains(es[0].Diff, "Europe/Lisbon") {
			t.Fatalf("team.update entries %+v", es)
		}
	})
}

func TestTimes_AHostileZoneCookieFallsBackToUTC(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		u := createUser(t, db, nil).User
		stored := reloadUser(t, db, u.ID)
		for _, bad := range []string{"Local", "Mars/Olympus_Mons", "../../../../etc/localtime", "/etc/localtime",
			"Europe/Paris\xff", "Europe%2FParis", strings.Repeat("Europe/Paris", 300)} {
			delete(c.Cookies, current.ZoneCookie)
			for _, raw := range []string{bad, bad + "\xff\xfe"} {
				r := c.Get(userPath(u.ID), "Cookie", current.ZoneCookie+"="+raw)
				wantStatus(t, r, http.StatusOK)
				if !utf8.ValidString(r.Body) {
					t.Fatalf("%.30q: the page is not valid UTF-8", raw)
				}
				wantTime(t, "Created with cookie "+raw[:min(len(raw), 30)], byTestID(r.Doc, "user-created"), stored.CreatedAt, time.UTC)
				if got := text(byTestID(r.Doc, "zone-name")); got != "UTC" {
					t.Errorf("%.30q: the note names %q", raw, got)
				}
			}
		}
		// Nor does the account page offer it as the browser's.
		r := c.Get("/account", "Cookie", current.ZoneCookie+"=Local")
		if opt := byTestID(r.Doc, "time-zone-select").Find("option[selected]"); opt.Text() != "Use my browser's zone" {
			t.Errorf("the account page offers %q", opt.Text())
		}
	})
}

func TestAccountTimeZone_RefusesWhatIsNotAZoneBesideTheListKeepingWhatWasSent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, m := h.SignIn(t, models.RoleCompliance)
		setZone(t, c, "Europe/Paris")
		before := len(auditEntries(t, db, "team.update"))
		for _, tc := range []struct{ name, value, mentions, shown string }{
			{"unknown", "Mars/Olympus_Mons", "from the list", "Mars/Olympus_Mons"},
			{"the server's own", "Local", "from the list", "Local"},
			{"a path", "../../../etc/localtime", "from the list", "../../../etc/localtime"},
			{"NUL", "Europe/Par\x00is", "U+0000", "Europe/Par\uFFFDis"},
			{"invalid UTF-8", "Europe/Par\xffis", "UTF-8", "Europe/Par\uFFFDis"},
			{"1 MB", strings.Repeat("a", 1_000_000), "too long", strings.Repeat("a", 1_000_000)},
		} {
			for _, headers := range [][]string{nil, webtest.HTMX} {
				r := c.Post("/account/time-zone", url.Values{models.FieldTimeZone: {tc.value}}, headers...)
				wantStatus(t, r, http.StatusUnprocessableEntity)
				if headers != nil {
					wantFragment(t, r)
				}
				if !utf8.ValidString(r.Body) {
					t.Fatalf("%s: the page is not valid UTF-8", tc.name)
				}
				if msg := text(byTestID(r.Doc, "error-"+models.FieldTimeZone)); !strings.Contains(msg, tc.mentions) {
					t.Errorf("%s: message beside the list %q, want one mentioning %q", tc.name, msg, tc.mentions)
				}
				sel := byTestID(r.Doc, "time-zone-select")
				if sel.AttrOr("aria-invalid", "") != "true" || sel.AttrOr("aria-describedby", "") != "f-time_zone-error" {
					t.Errorf("%s: the list is not marked invalid", tc.name)
				}
				if got := sel.Find("option[selected]").AttrOr("value", ""); got != tc.shown {
					t.Errorf("%s: the list shows %.40q chosen, want %.40q", tc.name, got, tc.shown)
				}
			}
		}
		if n := len(auditEntries(t, db, "team.update")); n != before {
			t.Fatalf("%d team.update entries after refusals, want %d", n, before)
		}
		stored, err := db.MemberByID(t.Context(), m.ID)
		if err != nil || stored.TimeZone != "Europe/Paris" {
			t.Fatalf("the member's zone became %q (%v)", stored.TimeZone, err)
		}
	})
}

func TestAccountTimeZone_WithoutTheCSRFTokenIs403AndChangesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, m := h.SignIn(t, models.RoleAdmin)
		c.Get("/account")
		wantFormExpired(t, c.PostRaw("/account/time-zone", url.Values{models.FieldTimeZone: {"Asia/Tokyo"}}))
		stored, err := db.MemberByID(t.Context(), m.ID)
		if err != nil || stored.TimeZone != "" {
			t.Fatalf("the member's zone became %q (%v)", stored.TimeZone, err)
		}
		if n := len(auditEntries(t, db, "team.update")); n != 0 {
			t.Fatalf("%d team.update entries", n)
		}
	})
}

func TestAccountMFA_SaysSinceWhenInTheMembersZoneAsEveryPageDoes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		clock := newMFAClock(h)
		m, pw := h.Member(t, models.RoleCompliance)
		secret := enrolMember(t, h, clock, m, pw)
		c := h.Client(t)
		c.Cookies[current.ZoneCookie] = "America/Sao_Paulo"
		signInWithCode(t, c, clock, m, pw, secret)

		page := c.Get("/account/mfa")
		wantStatus(t, page, http.StatusOK)
		since := byTestID(page.Doc, "mfa-since")
		wantTime(t, "two-step sign-in on since", since, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), mustZone(t, "America/Sao_Paulo"))
		if got := text(since); got != "2026-03-02 06:00" {
			t.Errorf("on since %q, want 2026-03-02 06:00", got)
		}
	})
}

func TestWebhookDeliveries_SayHowLongAgoAndWhenInTheMembersZone(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		f := newDeliveryFixture(t, db, c)
		setZone(t, c, "Australia/Adelaide")
		adelaide := mustZone(t, "Australia/Adelaide")
		page := c.Get(f.path)
		wantStatus(t, page, http.StatusOK)

		// The fixture's attempts run a minute and an hour ahead of the
		// clock, less the time the fixture took.
		delivered := deliveryRow(t, page.Doc, f.delivered)
		when := byTestIDIn(delivered, "delivery-when")
		tm := when.Find("time")
		if tm.AttrOr("datetime", "") != f.deliveredAt.UTC().Format(time.RFC3339) ||
			tm.AttrOr("title", "") != f.deliveredAt.In(adelaide).Format("2006-01-02 15:04:05 MST")+", "+f.deliveredAt.UTC().Format("2006-01-02 15:04:05 UTC") {
			t.Errorf("delivered at %q, title %q", tm.AttrOr("datetime", ""), tm.AttrOr("title", ""))
		}
		if got := text(when); got != "in 1 minute" && got != "in under a minute" {
			t.Errorf("delivered %q, want in 1 minute (the fixture's clock)", got)
		}
		if got := text(byTestIDIn(deliveryRow(t, page.Doc, f.failing), "delivery-when")); got != "next try in 1 hour" && got != "next try in 59 minutes" {
			t.Errorf("the failing delivery says %q", got)
		}
		// The event's time, and each attempt's, to the second.
		for _, sel := range []*goquery.Selection{byTestIDIn(delivered, "delivery-created"), byTestIDIn(delivered, "attempt-time").Last()} {
			at, err := time.Parse(time.RFC3339, sel.Find("time").AttrOr("datetime", ""))
			if err != nil {
				t.Fatal(err)
			}
			wantTime(t, "an event or attempt", sel, at, adelaide)
			if got, want := text(sel), at.In(adelaide).Format("2006-01-02 15:04:05"); got != want {
				t.Errorf("shows %q, want %q", got, want)
			}
		}
		if head := text(page.Doc.Find(`[data-testid="attempt-table"] thead`).First()); strings.Contains(head, "UTC") {
			t.Errorf("the attempts' header still says UTC: %q", head)
		}
	})
}
