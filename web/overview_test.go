package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// figureValue is the number a figure card shows, and where it links.
func figureValue(t *testing.T, doc *goquery.Document, id string) (string, string) {
	t.Helper()
	card := byTestID(doc, id)
	if card.Length() != 1 {
		t.Fatalf("figure %s: %d cards", id, card.Length())
	}
	return strings.TrimSpace(byTestIDIn(card, "figure-value").Text()), card.AttrOr("href", "")
}

func byTestIDIn(s *goquery.Selection, id string) *goquery.Selection {
	return s.Find(`[data-testid="` + id + `"]`)
}

func TestOverview_FiguresLinkToTheUsersTheyCount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		users := createUsers(t, db, 4)
		addItem(t, db, users[0].ID, all(atInstitution("ins_1", "First Platypus Bank"), inError("ITEM_LOGIN_REQUIRED")))
		addItem(t, db, users[1].ID, all(atInstitution("ins_1", "First Platypus Bank"), inError("ITEM_LOGIN_REQUIRED")))
		addItem(t, db, users[1].ID, all(atInstitution("ins_2", "Second Bank"), inError("INSTITUTION_DOWN")))
		addItem(t, db, users[2].ID, consentIn(3*24*time.Hour))
		addItem(t, db, users[3].ID, consentIn(20*24*time.Hour))

		r := c.Get("/")
		wantStatus(t, r, http.StatusOK)
		for _, tc := range []struct{ id, want string }{
			{"fig-users", "4"}, {"fig-new-week", "4"}, {"fig-new-month", "4"}, {"fig-users-in-error", "2"},
			{"fig-consent-week", "1"}, {"fig-consent-month", "2"}, {"fig-consent-expired", "0"},
		} {
			got, href := figureValue(t, r.Doc, tc.id)
			if got != tc.want {
				t.Errorf("%s shows %q, want %q", tc.id, got, tc.want)
			}
			// Following the link lists exactly that many users.
			list := c.Get(href)
			wantStatus(t, list, http.StatusOK)
			if n := byTestID(list.Doc, "user-row").Length(); strconv.Itoa(n) != tc.want {
				t.Errorf("%s links to %s, which lists %d users, want %s", tc.id, href, n, tc.want)
			}
		}
		codes := byTestID(r.Doc, "errors-by-code").Find(`[data-testid="error-group"]`)
		if codes.Length() != 2 || codes.First().AttrOr("data-key", "") != "ITEM_LOGIN_REQUIRED" {
			t.Fatalf("error codes: %d rows, first %q", codes.Length(), codes.First().AttrOr("data-key", ""))
		}
		link := codes.First().Find("a").AttrOr("href", "")
		list := c.Get(link)
		if n := byTestID(list.Doc, "user-row").Length(); n != 2 {
			t.Errorf("ITEM_LOGIN_REQUIRED links to %s listing %d users, want 2", link, n)
		}
		banks := byTestID(r.Doc, "errors-by-institution").Find(`[data-testid="error-group"]`)
		if banks.Length() != 2 || banks.First().AttrOr("data-key", "") != "ins_1" {
			t.Fatalf("institutions: %d rows, first %q", banks.Length(), banks.First().AttrOr("data-key", ""))
		}
		// Second Bank's error belongs to a user whose other item (at
		// First Platypus) is also in error: the link finds that user once.
		link = banks.Last().Find("a").AttrOr("href", "")
		if list := c.Get(link); byTestID(list.Doc, "user-row").Length() != 1 {
			t.Errorf("Second Bank links to %s listing %d users, want 1", link, byTestID(list.Doc, "user-row").Length())
		}

		for _, chart := range []string{"chart-new-users", "chart-items-in-error"} {
			fig := byTestID(r.Doc, chart)
			if fig.Length() != 1 || fig.Find(`svg desc`).Length() != 1 || fig.Find(`[data-testid="chart-bar"]`).Length() != models.OverviewDays {
				t.Errorf("%s: not a chart of %d days with a description", chart, models.OverviewDays)
			}
			if fig.Find(`[data-testid="`+chart+`-table"] tbody tr`).Length() != models.OverviewDays {
				t.Errorf("%s: the table alternative does not list every day", chart)
			}
		}
		today := byTestID(r.Doc, "chart-new-users").Find(`[data-testid="chart-bar"]`).Last()
		if today.AttrOr("data-count", "") != "4" || !strings.Contains(today.AttrOr("aria-label", ""), "4 new end users") {
			t.Errorf("today's bar: count %q, label %q", today.AttrOr("data-count", ""), today.AttrOr("aria-label", ""))
		}
		if !strings.Contains(byTestID(r.Doc, "overview-as-of").Text(), "as of") {
			t.Error("the stored figures do not say when they were taken")
		}
	})
}

func TestOverview_ShowsEachRoleOnlyWhatItMayOpen(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		for _, tc := range []struct {
			role           models.Role
			reveals, admin bool
		}{
			{models.RoleAdmin, true, true},
			{models.RoleCompliance, true, false},
			{models.RoleAuditor, false, false},
		} {
			c, _ := h.SignIn(t, tc.role)
			r := c.Get("/")
			wantStatus(t, r, http.StatusOK)
			has := func(id string) bool { return byTestID(r.Doc, id).Length() == 1 }
			if has("fig-reveals-today") != tc.reveals {
				t.Errorf("%s: reveals shown %v, want %v", tc.role, has("fig-reveals-today"), tc.reveals)
			}
			for _, id := range []string{"fig-invitations", "fig-webhooks-failing", "fig-outbox"} {
				if has(id) != tc.admin {
					t.Errorf("%s: %s shown %v, want %v", tc.role, id, has(id), tc.admin)
				}
			}
			// Every link on the overview opens for this role.
			r.Doc.Find("main a[href^='/']").Each(func(_ int, a *goquery.Selection) {
				href := a.AttrOr("href", "")
				if resp := c.Get(href); resp.StatusCode != http.StatusOK {
					t.Errorf("%s: the overview links to %s, which answers %d", tc.role, href, resp.StatusCode)
				}
			})
		}
	})
}

func TestOverview_RevealsTodayCountsAndLinksToTheAuditLog(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, m := h.SignIn(t, models.RoleCompliance)
		id := sampleIdentity()
		sensitiveIdentity(id)
		u := createUser(t, db, id).User
		o := models.Origin{Actor: m.AsActor(), RequestID: "req-reveal"}
		if _, err := db.RevealPII(t.Context(), o, models.RoleAdmin, u.ID, models.RevealSSN, "Dispute 4411: checking the SSN"); err != nil {
			t.Fatal(err)
		}
		r := c.Get("/")
		got, href := figureValue(t, r.Doc, "fig-reveals-today")
		if got != "1" {
			t.Fatalf("reveals today %q, want 1", got)
		}
		q, _ := url.ParseQuery(strings.TrimPrefix(href, "/audit?"))
		if q.Get("action") != models.ActionPIIReveal || q.Get("from") != models.Now().Format(time.DateOnly) {
			t.Errorf("reveals link %s", href)
		}
		if n := byTestID(c.Get(href).Doc, "audit-row").Length(); n != 1 {
			t.Errorf("the reveals link lists %d entries, want 1", n)
		}
	})
}
