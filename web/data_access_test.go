package web_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// accessRows are the surfaces the Data access section lists, newest first.
func accessRows(r *webtest.Response) []string {
	var out []string
	byTestID(r.Doc, "data-access-surface").Each(func(_ int, s *goquery.Selection) {
		out = append(out, strings.TrimSpace(s.Text()))
	})
	return out
}

func TestDataAccess_OpeningAUsersPageRecordsOneViewWithTheFieldsShown(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		u := createUser(t, db, sampleIdentity()).User
		c, member := h.SignIn(t, models.RoleCompliance)

		r := c.Get(userPath(u.ID))
		wantStatus(t, r, http.StatusOK)
		views := auditEntries(t, db, models.ActionPIIView)
		if len(views) != 1 {
			t.Fatalf("%d pii.view entries after one page view, want 1", len(views))
		}
		e := views[0]
		if e.ActorType != models.ActorMember || e.ActorID != member.ID || e.TargetType != "end_user" || e.TargetID != "" ||
			!strings.Contains(e.Diff, `"user":`+strconv.FormatInt(u.ID, 10)) {
			t.Fatalf("view entry %+v", e)
		}
		f := e.AccessedFields()
		if want := []string{"first_name", "last_name", "phone_numbers", "emails", "primary_address"}; !slices.Equal(f.Clear, want) {
			t.Errorf("fields in clear %v, want %v", f.Clear, want)
		}
		if want := []string{"ssn_full", "date_of_birth"}; !slices.Equal(f.Masked, want) {
			t.Errorf("masked fields %v, want %v", f.Masked, want)
		}
		// The page lists the view it just recorded, by whom and what.
		if got := accessRows(r); !slices.Equal(got, []string{"User page"}) {
			t.Fatalf("data access rows %v", got)
		}
		if got := text(byTestID(r.Doc, "data-access-actor")); got != member.EmailAddress {
			t.Errorf("data access names %q, want %q", got, member.EmailAddress)
		}
		if got := text(byTestID(r.Doc, "data-access-fields")); !strings.Contains(got, "emails") || !strings.Contains(got, "ssn_full (masked)") {
			t.Errorf("data access fields %q", got)
		}
		// The History keeps to changes.
		if got := byTestID(r.Doc, "history-action"); got.Length() != 1 || text(got) != "user.create" {
			t.Errorf("History lists %q", text(got))
		}
		if res, err := db.VerifyAuditChain(t.Context(), nil); err != nil || !res.OK() {
			t.Fatalf("chain after a view: %+v, %v", res, err)
		}
		// An unknown user's page records nothing.
		wantStatus(t, c.Get(userPath(u.ID+1000)), http.StatusNotFound)
		if n := len(auditEntries(t, db, models.ActionPIIView)); n != 1 {
			t.Fatalf("%d views after a 404", n)
		}
	})
}

func TestDataAccess_AViewThatCannotBeRecordedShowsNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		id := sampleIdentity()
		u := createUser(t, db, id).User
		c, _ := h.SignIn(t, models.RoleAdmin)
		testdb.FailOn(t, db, testdb.Create, "pii_access")
		r := c.Get(userPath(u.ID))
		if r.StatusCode != http.StatusInternalServerError {
			t.Fatalf("status %d, want 500", r.StatusCode)
		}
		for _, v := range []string{id.FirstName, id.LastName, id.Emails[0], id.PhoneNumbers[0]} {
			if strings.Contains(r.Body, v) {
				t.Fatalf("the refused page shows %q", v)
			}
		}
		if n := len(auditEntries(t, db, models.ActionPIIView)); n != 0 {
			t.Fatalf("%d views kept without their index", n)
		}
	})
}

func TestDataAccess_SearchByEmailOrPhoneRecordsTheUsersShownNotTheTerm(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		a, b := sampleIdentity(), sampleIdentity()
		ua, ub := createUser(t, db, a).User, createUser(t, db, b).User
		createUser(t, db, sampleIdentity())
		c, member := h.SignIn(t, models.RoleAuditor)

		// A plain list and a search by name record nothing.
		wantStatus(t, c.Get("/users"), http.StatusOK)
		wantStatus(t, c.Get("/users?q="+url.QueryEscape(a.LastName)), http.StatusOK)
		if n := len(auditEntries(t, db, models.ActionPIISearch)); n != 0 {
			t.Fatalf("%d searches recorded for a list and a name", n)
		}

		email := a.Emails[0]
		r := c.Get("/users?q="+url.QueryEscape(email), htmxTo("user-results")...)
		wantStatus(t, r, http.StatusOK)
		wantRows(t, r, []int64{ua.ID})
		// Nothing shown, nothing recorded.
		wantStatus(t, c.Get("/users?q="+url.QueryEscape("nobody-at-all@example.org")), http.StatusOK)
		phone := b.PhoneNumbers[0]
		wantStatus(t, c.Get("/users?q="+url.QueryEscape(phone)), http.StatusOK)

		searches := auditEntries(t, db, models.ActionPIISearch)
		if len(searches) != 2 {
			t.Fatalf("%d searches recorded, want 2", len(searches))
		}
		for i, want := range []struct {
			kind string
			user int64
			term string
		}{{models.SearchEmail, ua.ID, email}, {models.SearchPhone, ub.ID, phone}} {
			e := searches[i]
			var d models.AuditDiff
			if err := json.Unmarshal([]byte(e.Diff), &d); err != nil {
				t.Fatal(err)
			}
			if e.ActorID != member.ID || d.After["searched"] != want.kind || !strings.Contains(e.Diff, `"users":[`+strconv.FormatInt(want.user, 10)+`]`) {
				t.Errorf("search entry %s by %s", e.Diff, e.ActorID)
			}
			for _, v := range []string{want.term, strings.TrimPrefix(want.term, "+"), strings.Split(want.term, "@")[0]} {
				if strings.Contains(e.Diff+e.Reason+e.TargetID, v) {
					t.Errorf("search entry holds the term %q: %s", v, e.Diff)
				}
			}
		}
		// The user's page lists the search among their accesses.
		page := c.Get(userPath(ua.ID))
		if got := accessRows(page); !slices.Equal(got, []string{"User page", "Search by email"}) {
			t.Errorf("data access rows %v", got)
		}
		if got := accessRows(c.Get(userPath(ub.ID))); !slices.Equal(got, []string{"User page", "Search by phone"}) {
			t.Errorf("data access rows %v", got)
		}
	})
}

func TestDataAccess_ExportsAreFoundOnTheUsersTheyCarried(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		users := createUsers(t, db, 3)
		c, _ := h.SignIn(t, models.RoleAdmin)

		// By ids: the entry names them and is found on their pages.
		r := c.Post("/users/export", url.Values{"scope": {"selected"}, "ids": {strconv.FormatInt(users[0].ID, 10)}, "format": {"csv"}})
		wantStatus(t, r, http.StatusOK)
		// By filter: every user whose row went out.
		r = c.Post("/users/export", url.Values{"format": {"jsonl"}})
		wantStatus(t, r, http.StatusOK)
		if n := strings.Count(strings.TrimSpace(r.Body), "\n") + 1; n != 3 {
			t.Fatalf("the filter export has %d lines", n)
		}
		exports := auditEntries(t, db, models.ActionUserExport)
		if len(exports) != 2 {
			t.Fatalf("%d export entries", len(exports))
		}
		if f := exports[0].AccessedFields(); !slices.Contains(f.Clear, "emails") || slices.Contains(f.Clear, "ssn") {
			t.Errorf("export fields %+v", f)
		}
		for i, want := range [][]string{
			{"User page", "Export (jsonl)", "Export (csv)"},
			{"User page", "Export (jsonl)"},
			{"User page", "Export (jsonl)"},
		} {
			if got := accessRows(c.Get(userPath(users[i].ID))); !slices.Equal(got, want) {
				t.Errorf("user %d: data access rows %v, want %v", users[i].ID, got, want)
			}
		}
	})
}

func TestDataAccess_SectionForEveryRolePagedAndNotForVisitors(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		u := createUser(t, db, sampleIdentity()).User
		admin, _ := h.SignIn(t, models.RoleAdmin)
		for range 26 {
			wantStatus(t, admin.Get(userPath(u.ID)), http.StatusOK)
		}
		for _, role := range models.Roles {
			t.Run(string(role), func(t *testing.T) {
				c, _ := h.SignIn(t, role)
				page := c.Get(userPath(u.ID))
				wantStatus(t, page, http.StatusOK)
				if n := len(accessRows(page)); n != 25 {
					t.Fatalf("%d rows on the first page, want 25", n)
				}
				next := byTestID(page.Doc, "pager-next").AttrOr("href", "")
				if !strings.HasPrefix(next, userPath(u.ID, "/access?cursor=")) {
					t.Fatalf("next page link %q", next)
				}
				frag := c.Get(next, htmxTo("user-data-access")...)
				wantStatus(t, frag, http.StatusOK)
				wantFragment(t, frag)
				if n := len(accessRows(frag)); n < 2 {
					t.Fatalf("%d rows on the second page", n)
				}
				full := c.Get(next)
				wantPage(t, full)
				// The section shows no personal value, so reading it is no
				// access of its own.
				before := len(auditEntries(t, db, models.ActionPIIView))
				c.Get(userPath(u.ID, "/access"))
				if n := len(auditEntries(t, db, models.ActionPIIView)); n != before {
					t.Fatalf("reading the section recorded %d views", n-before)
				}
			})
		}
		anon := h.Client(t)
		wantRedirect(t, anon.Get(userPath(u.ID, "/access")), "/login")
		wantStatus(t, admin.Get(userPath(u.ID+1000, "/access")), http.StatusNotFound)
	})
}

func TestDataAccess_AuditLogFiltersAndExportsTheAccessesOfOneUser(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		users := createUsers(t, db, 2)
		c, _ := h.SignIn(t, models.RoleAuditor)
		wantStatus(t, c.Get(userPath(users[0].ID)), http.StatusOK)
		wantStatus(t, c.Get(userPath(users[1].ID)), http.StatusOK)
		page := c.Get(userPath(users[0].ID))

		link := byTestID(page.Doc, "data-access-audit-link").AttrOr("href", "")
		if !strings.Contains(link, "accessed="+strconv.FormatInt(users[0].ID, 10)) || !strings.Contains(link, "from=") {
			t.Fatalf("audit link %q", link)
		}
		list := c.Get(link)
		wantStatus(t, list, http.StatusOK)
		if got := rowActions(list); len(got) != 2 || got[0] != models.ActionPIIView || got[1] != models.ActionPIIView {
			t.Fatalf("the filtered log shows %v", got)
		}
		if got := byTestID(list.Doc, "filter-accessed").AttrOr("value", ""); got != strconv.FormatInt(users[0].ID, 10) {
			t.Errorf("the filter box shows %q", got)
		}

		form := formValues(byTestID(list.Doc, "audit-export"))
		form.Set("format", "csv")
		export := c.Post("/audit/export", form)
		wantStatus(t, export, http.StatusOK)
		recs, err := csv.NewReader(strings.NewReader(export.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 3 {
			t.Fatalf("export has %d records, want a header and 2 entries", len(recs))
		}
		for _, rec := range recs[1:] {
			if rec[5] != models.ActionPIIView || !strings.Contains(rec[12], `"user":`+strconv.FormatInt(users[0].ID, 10)) {
				t.Errorf("exported %v", rec)
			}
		}
		if e := auditEntries(t, db, "audit.export"); len(e) != 1 || !strings.Contains(e[0].Diff, `"accessed":"`+strconv.FormatInt(users[0].ID, 10)+`"`) {
			t.Errorf("audit.export entry %+v", e)
		}

		for _, typed := range []string{"someone", "Ada\x00", "-4"} {
			bad := c.Get("/audit?accessed=" + url.QueryEscape(typed))
			wantStatus(t, bad, http.StatusUnprocessableEntity)
			if msg := byTestID(bad.Doc, "error-accessed").Text(); msg == "" {
				t.Errorf("%q: no message beside the field", typed)
			}
			if byTestID(bad.Doc, "audit-row").Length() != 0 {
				t.Errorf("%q: rows shown for an invalid filter", typed)
			}
		}
		if got := byTestID(c.Get("/audit?accessed=someone").Doc, "filter-accessed").AttrOr("value", ""); got != "someone" {
			t.Errorf("the refused value is not kept: %q", got)
		}
	})
}

func TestDataAccess_AnHTMXRevealShowsInTheListAtOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		u := createUser(t, db, sampleIdentity()).User
		c, _ := h.SignIn(t, models.RoleCompliance)
		wantStatus(t, c.Get(userPath(u.ID)), http.StatusOK)
		reason := "Support ticket 4711: identity check"
		r := c.Post(userPath(u.ID, "/reveal"), url.Values{"field": {"date_of_birth"}, "reason": {reason}}, htmxTo("reveal-date_of_birth")...)
		wantStatus(t, r, http.StatusOK)
		oob := r.Doc.Find(`#user-data-access[hx-swap-oob]`)
		if oob.Length() != 1 {
			t.Fatalf("no out-of-band Data access list:\n%s", r.Body)
		}
		var surfaces []string
		oob.Find(`[data-testid="data-access-surface"]`).Each(func(_ int, s *goquery.Selection) { surfaces = append(surfaces, text(s)) })
		if !slices.Equal(surfaces, []string{"Reveal", "User page"}) {
			t.Fatalf("data access rows %v", surfaces)
		}
		if got := text(oob.Find(`[data-testid="data-access-fields"]`).First()); got != "date_of_birth" {
			t.Errorf("the reveal's fields %q", got)
		}
		if got := text(oob.Find(`[data-testid="data-access-reason"]`).First()); got != reason {
			t.Errorf("the reveal's reason %q", got)
		}
	})
}
