package web_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// --- the users list: /users ---

func TestUserList_ShowsUsersNewestFirstWithCount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)

		empty := c.Get("/users")
		wantStatus(t, empty, http.StatusOK)
		if byTestID(empty.Doc, "user-empty").Length() != 1 {
			t.Fatal("an empty list does not say that no user matches")
		}
		if got := byTestID(empty.Doc, "user-count").Text(); got != "0 users" {
			t.Fatalf("count %q, want 0 users", got)
		}

		users := createUsers(t, db, 3)
		r := c.Get("/users")
		wantStatus(t, r, http.StatusOK)
		wantRows(t, r, idsOf(users...))
		if got := byTestID(r.Doc, "user-count").Text(); got != "3 users" {
			t.Fatalf("count %q, want 3 users", got)
		}
		if byTestID(r.Doc, "pager-next").Length()+byTestID(r.Doc, "pager-prev").Length() != 0 {
			t.Fatal("a list that fits one page shows pager links")
		}
	})
}

func TestUserList_SearchByIdsNameEmailAndPhoneNarrowsTheRows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		// Compliance sees these fields, so it searches inside them (a
		// masked field matches its exact value only: field_access_test.go).
		c, _ := h.SignIn(t, models.RoleCompliance)

		ada := sampleIdentity()
		ada.FirstName, ada.LastName = "Ada", "Lovelace"
		ada.Emails, ada.PhoneNumbers = []string{"ada.lovelace@example.com"}, []string{"+13125550101"}
		grace := sampleIdentity()
		grace.FirstName, grace.LastName = "Grace", "Hopper"
		grace.Emails, grace.PhoneNumbers = []string{"grace.hopper@navy.example.org"}, []string{"+14155550202"}
		sensitiveIdentity(ada)
		sensitiveIdentity(grace)
		a := createUser(t, db, ada).User
		g := createUser(t, db, grace).User
		bare := createUser(t, db, nil).User

		cases := []struct {
			name, q string
			want    []int64
		}{
			{"exact id", strconv.FormatInt(g.ID, 10), []int64{g.ID}},
			{"exact user_id", a.UserID, []int64{a.ID}},
			{"part of a user_id", a.UserID[:12], nil},
			{"exact client_user_id", bare.ClientUserID, []int64{bare.ID}},
			{"part of a client_user_id", bare.ClientUserID[:8], nil},
			{"name substring", "velac", []int64{a.ID}},
			{"name in capitals", "HOPPER", []int64{g.ID}},
			{"full name", "grace hopper", []int64{g.ID}},
			{"email prefix", "ada.lov", []int64{a.ID}},
			{"whole email", "grace.hopper@navy.example.org", []int64{g.ID}},
			{"email domain", "example.com", []int64{a.ID}},
			{"phone prefix", "+1415", []int64{g.ID}},
			{"longer phone prefix", "+131255501", []int64{a.ID}},
			{"matches both", "555", []int64{g.ID, a.ID}},
			{"matches nobody", "zzqx", nil},
			{"percent is literal", "%%%", nil},
			{"underscore is literal", "ada_lovelace", nil},
			{"backslash is literal", `ada\.lovelace`, nil},
			{"empty", "", []int64{bare.ID, g.ID, a.ID}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := c.Get("/users?q=" + url.QueryEscape(tc.q))
				wantStatus(t, r, http.StatusOK)
				wantRows(t, r, tc.want)
				if got := fieldValue(t, r.Doc, "q"); got != tc.q {
					t.Fatalf("the search box shows %q, want %q", got, tc.q)
				}
				wantCount := strconv.Itoa(len(tc.want)) + " users"
				if len(tc.want) == 1 {
					wantCount = "1 user"
				}
				if got := byTestID(r.Doc, "user-count").Text(); got != wantCount {
					t.Fatalf("count %q, want %q", got, wantCount)
				}
				if len(tc.want) == 0 && byTestID(r.Doc, "user-empty").Length() != 1 {
					t.Fatal("no rows, and no message saying so")
				}
			})
		}
	})
}

func TestUserList_FiltersByStatusHealthAndInstitution(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleCompliance)
		addInstitution(t, db, "ins_109508", "First Platypus Bank")
		addInstitution(t, db, "ins_109509", "Tattersall Federal Credit Union")
		platypus := atInstitution("ins_109508", "First Platypus Bank")
		tattersall := atInstitution("ins_109509", "Tattersall Federal Credit Union")

		inErr := createUser(t, db, nil).User
		addItem(t, db, inErr.ID, all(platypus, inError("ITEM_LOGIN_REQUIRED")))
		addItem(t, db, inErr.ID, all(tattersall, consentIn(90*24*time.Hour)))
		expiring := createUser(t, db, nil).User
		addItem(t, db, expiring.ID, all(tattersall, consentIn(3*24*time.Hour)))
		expired := createUser(t, db, nil).User
		addItem(t, db, expired.ID, all(platypus, consentIn(-48*time.Hour)))
		healthy := createUser(t, db, nil).User
		addItem(t, db, healthy.ID, all(platypus, consentIn(60*24*time.Hour)))
		noItems := createUser(t, db, nil).User
		removed := createUser(t, db, nil).User
		if err := db.RemoveEndUser(t.Context(), system, removed.ID, removed.ClientUserID); err != nil {
			t.Fatal(err)
		}

		full := c.Get("/users")
		for id, name := range map[string]string{"ins_109508": "First Platypus Bank", "ins_109509": "Tattersall Federal Credit Union"} {
			opt := byTestID(full.Doc, "filter-institution").Find(`option[value="` + id + `"]`)
			if opt.Length() != 1 || opt.Text() != name {
				t.Fatalf("the institution filter does not offer %s (%s)", name, id)
			}
		}

		cases := []struct {
			query string
			want  []int64
		}{
			{"", []int64{noItems.ID, healthy.ID, expired.ID, expiring.ID, inErr.ID}},
			{"status=active", []int64{noItems.ID, healthy.ID, expired.ID, expiring.ID, inErr.ID}},
			{"status=removed", []int64{removed.ID}},
			{"status=all", []int64{removed.ID, noItems.ID, healthy.ID, expired.ID, expiring.ID, inErr.ID}},
			{"health=error", []int64{inErr.ID}},
			{"health=consent_expiring", []int64{expiring.ID}},
			{"health=consent_expired", []int64{expired.ID}},
			{"institution=ins_109509", []int64{expiring.ID, inErr.ID}},
			{"institution=ins_109508", []int64{healthy.ID, expired.ID, inErr.ID}},
			{"institution=ins_109508&health=consent_expired", []int64{expired.ID}},
			{"institution=ins_unknown", nil},
			{"status=removed&health=error", nil},
			{"health=consent_expiring_30d", []int64{expiring.ID}},
			{"error_code=ITEM_LOGIN_REQUIRED", []int64{inErr.ID}},
			{"error_code=INSTITUTION_DOWN", nil},
			// inErr's item at Tattersall is healthy: its error is at Platypus.
			{"institution=ins_109509&health=error", nil},
			{"institution=ins_109508&health=error", []int64{inErr.ID}},
			{"created_from=" + models.Now().Format(time.DateOnly), []int64{noItems.ID, healthy.ID, expired.ID, expiring.ID, inErr.ID}},
			{"created_from=" + models.Now().AddDate(0, 0, 1).Format(time.DateOnly), nil},
		}
		for _, tc := range cases {
			t.Run(tc.query, func(t *testing.T) {
				r := c.Get("/users?" + tc.query)
				wantStatus(t, r, http.StatusOK)
				wantRows(t, r, tc.want)
				// The form shows the filter the URL holds.
				q, _ := url.ParseQuery(tc.query)
				for _, name := range []string{"status", "health", "institution"} {
					if q.Get(name) == "" || q.Get(name) == "ins_unknown" {
						continue
					}
					sel := byTestID(r.Doc, "filter-"+name).Find("option[selected]")
					if v, _ := sel.Attr("value"); sel.Length() != 1 || v != q.Get(name) {
						t.Fatalf("the %s filter shows %q selected, want %q", name, v, q.Get(name))
					}
				}
			})
		}

		// The list's health column agrees with the filter.
		r := c.Get("/users?status=all")
		row := func(id int64) string {
			return r.Doc.Find(`[data-testid="user-row"][data-user-id="` + strconv.FormatInt(id, 10) + `"]`).Text()
		}
		for id, want := range map[int64]string{inErr.ID: "1 in error", expiring.ID: "Consent expiring", expired.ID: "Consent expired",
			healthy.ID: "Healthy", noItems.ID: "No items", removed.ID: "Removed"} {
			if got := row(id); !strings.Contains(got, want) {
				t.Errorf("row of user %d says %q, want %q", id, strings.Join(strings.Fields(got), " "), want)
			}
		}
	})
}

func TestUserList_ShortSearchSaysWhatItLookedAt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		createUsers(t, db, 2)
		for _, tc := range []struct{ q, reason string }{{"ab", "short-search"}, {"zzqxw", ""}} {
			r := c.Get("/users?q=" + tc.q)
			wantStatus(t, r, http.StatusOK)
			empty := byTestID(r.Doc, "user-empty")
			if empty.Length() != 1 || empty.AttrOr("data-reason", "") != tc.reason {
				t.Errorf("q=%s: empty message %q (reason %q), want reason %q", tc.q, empty.Text(), empty.AttrOr("data-reason", ""), tc.reason)
			}
			if tc.reason != "" && !strings.Contains(empty.Text(), "3 characters") {
				t.Errorf("q=%s: %q does not say names need 3 characters", tc.q, empty.Text())
			}
		}
		r := c.Get("/users?health=error&error_code=ITEM_LOGIN_REQUIRED")
		if href := byTestID(r.Doc, "user-clear").AttrOr("href", ""); href != "/users" {
			t.Errorf("clear filters links to %q", href)
		}
	})
}

func TestUserList_NewFiltersRefuseHostileValuesBesideTheirBox(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		for _, tc := range []struct{ query, field string }{
			{"error_code=" + url.QueryEscape("ITEM\x00"), "error_code"},
			{"error_code=" + strings.Repeat("E", 300), "error_code"},
			{"created_from=yesterday", "created_from"},
			{"created_from=" + url.QueryEscape("\xff\xfe"), "created_from"},
		} {
			r := c.Get("/users?" + tc.query)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if msg := byTestID(r.Doc, "error-"+tc.field).Text(); msg == "" {
				t.Errorf("%.40s: no message beside %s", tc.query, tc.field)
			}
		}
	})
}

func TestUserList_PageSizes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		users := createUsers(t, db, 60)
		newest := idsOf(users...)

		for _, tc := range []struct {
			limit    string
			rows     int
			selected string
			next     bool
		}{
			{"", 25, "25", true},
			{"25", 25, "25", true},
			{"50", 50, "50", true},
			{"100", 60, "100", false},
			{"7", 25, "25", true},   // not an offered size: the default
			{"abc", 25, "25", true}, // nor a number
		} {
			t.Run("limit="+tc.limit, func(t *testing.T) {
				r := c.Get("/users?limit=" + tc.limit)
				wantStatus(t, r, http.StatusOK)
				wantRows(t, r, newest[:tc.rows])
				if v, _ := byTestID(r.Doc, "filter-limit").Find("option[selected]").Attr("value"); v != tc.selected {
					t.Fatalf("per page shows %q selected, want %s", v, tc.selected)
				}
				next := byTestID(r.Doc, "pager-next")
				if (next.Length() == 1) != tc.next {
					t.Fatalf("next link present: %v, want %v", next.Length() == 1, tc.next)
				}
				if tc.next && tc.selected != "25" {
					href, _ := next.Attr("href")
					if u, _ := url.Parse(href); u.Query().Get("limit") != tc.selected {
						t.Fatalf("next link %q loses the page size %s", href, tc.selected)
					}
				}
			})
		}
	})
}

// walk follows the link with testid from start until there is none,
// returning each page's rows. headers are sent with every request.
func walk(t *testing.T, c *webtest.Client, start, testid string, headers ...string) [][]int64 {
	t.Helper()
	var pages [][]int64
	for path := start; path != ""; {
		r := c.Get(path, headers...)
		wantStatus(t, r, http.StatusOK)
		pages = append(pages, rowIDs(t, r.Doc))
		if len(pages) > 20 {
			t.Fatal("the pager does not end")
		}
		path, _ = byTestID(r.Doc, testid).Attr("href")
		if hx, _ := byTestID(r.Doc, testid).Attr("hx-get"); hx != path {
			t.Fatalf("%s: href %q and hx-get %q differ", testid, path, hx)
		}
	}
	return pages
}

func TestUserList_NextAndPreviousWalkEveryUserExactlyOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		users := createUsers(t, db, 60)
		want := idsOf(users...)

		forward := walk(t, c, "/users", "pager-next")
		if len(forward) != 3 || len(forward[0]) != 25 || len(forward[1]) != 25 || len(forward[2]) != 10 {
			t.Fatalf("pages of %v, want 25, 25, 10 rows", lens(forward))
		}
		if got := slices.Concat(forward...); !slices.Equal(got, want) {
			t.Fatalf("walking Next lists %v, want every user once, newest first: %v", got, want)
		}

		// Back from the last page, by htmx as the pager's links do it.
		r := c.Get("/users")
		next1, _ := byTestID(r.Doc, "pager-next").Attr("href")
		r = c.Get(next1)
		last, _ := byTestID(r.Doc, "pager-next").Attr("href")
		back := walk(t, c, last, "pager-prev", htmxTo("user-results")...)
		slices.Reverse(back)
		if !slices.EqualFunc(back, forward, slices.Equal[[]int64]) {
			t.Fatalf("walking Previous from the last page gives pages %v, want %v", back, forward)
		}
	})
}

func TestUserList_WalkIsStableWhileUsersAreAdded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		users := createUsers(t, db, 30)
		want := idsOf(users...)

		var got []int64
		path := "/users"
		for path != "" {
			r := c.Get(path)
			wantStatus(t, r, http.StatusOK)
			got = append(got, rowIDs(t, r.Doc)...)
			path, _ = byTestID(r.Doc, "pager-next").Attr("href")
			createUsers(t, db, 3) // newer than every page already seen
		}
		if !slices.Equal(got, want) {
			t.Fatalf("walking while users were added lists %v, want %v", got, want)
		}
	})
}

func lens(pages [][]int64) []int {
	out := make([]int, len(pages))
	for i, p := range pages {
		out[i] = len(p)
	}
	return out
}

func TestUserList_PagerLinksKeepSearchAndFilters(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		addInstitution(t, db, "ins_pw", "Pagewalker Savings")
		var matching []*models.EndUser
		for i := 0; i < 26; i++ {
			id := sampleIdentity()
			id.LastName = "Pagewalker"
			u := createUser(t, db, id).User
			addItem(t, db, u.ID, all(atInstitution("ins_pw", "Pagewalker Savings"), inError("INSTITUTION_DOWN")))
			matching = append(matching, u)
		}
		// Users the filter leaves out: another name, no error, another bank.
		other := sampleIdentity()
		addItem(t, db, createUser(t, db, other).User.ID, all(atInstitution("ins_pw", "Pagewalker Savings"), inError("INSTITUTION_DOWN")))
		noErr := sampleIdentity()
		noErr.LastName = "Pagewalker"
		addItem(t, db, createUser(t, db, noErr).User.ID, atInstitution("ins_pw", "Pagewalker Savings"))

		state := url.Values{"q": {"pagewalker"}, "status": {"all"}, "health": {"error"}, "institution": {"ins_pw"}}
		r := c.Get("/users?" + state.Encode())
		wantStatus(t, r, http.StatusOK)
		want := idsOf(matching...)
		wantRows(t, r, want[:25])
		if got := byTestID(r.Doc, "user-count").Text(); got != "1–25 of 26 users" {
			t.Fatalf("count %q, want 1–25 of 26 users", got)
		}
		wantLinkState := func(testid, href string) {
			t.Helper()
			u, err := url.Parse(href)
			if err != nil || u.Path != "/users" {
				t.Fatalf("%s link %q", testid, href)
			}
			for k := range state {
				if u.Query().Get(k) != state.Get(k) {
					t.Fatalf("%s link %q loses %s=%s", testid, href, k, state.Get(k))
				}
			}
		}
		next, _ := byTestID(r.Doc, "pager-next").Attr("href")
		wantLinkState("pager-next", next)

		r = c.Get(next)
		wantRows(t, r, want[25:])
		if got := fieldValue(t, r.Doc, "q"); got != "pagewalker" {
			t.Fatalf("page 2's search box shows %q", got)
		}
		if got := byTestID(r.Doc, "user-count").Text(); got != "26–26 of 26 users" {
			t.Fatalf("page 2 count %q, want 26–26 of 26 users", got)
		}
		prev, _ := byTestID(r.Doc, "pager-prev").Attr("href")
		wantLinkState("pager-prev", prev)
		r = c.Get(prev)
		wantRows(t, r, want[:25])
		if got := byTestID(r.Doc, "user-count").Text(); got != "1–25 of 26 users" {
			t.Fatalf("back on page 1, count %q", got)
		}
	})
}

func TestUserList_HTMXGetsOnlyTheResultsAndHistoryRestoreThePage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		users := createUsers(t, db, 2)

		plain := c.Get("/users?q=" + url.QueryEscape(users[0].ClientUserID))
		wantStatus(t, plain, http.StatusOK)
		wantPage(t, plain)
		wantVary(t, plain)
		if byTestID(plain.Doc, "user-filter").Length() != 1 || byTestID(plain.Doc, "user-results").Length() != 1 {
			t.Fatal("the page lacks the filter form or the results")
		}

		hx := c.Get("/users?q="+url.QueryEscape(users[0].ClientUserID), htmxTo("user-results")...)
		wantStatus(t, hx, http.StatusOK)
		wantFragment(t, hx)
		wantVary(t, hx)
		wantRows(t, hx, []int64{users[0].ID})
		if byTestID(hx.Doc, "user-filter").Length() != 0 || hx.Doc.Find("#user-results").Length() != 1 {
			t.Fatalf("the fragment is not just the results:\n%s", hx.Body)
		}
		if !strings.HasPrefix(strings.TrimSpace(hx.Body), `<section id="user-results"`) {
			t.Fatalf("the fragment does not start with the element it replaces:\n%.200s", hx.Body)
		}

		// htmx restoring a pushed URL from history asks for the whole page.
		restore := c.Get("/users?q="+url.QueryEscape(users[0].ClientUserID),
			append(htmxTo("user-results"), "HX-History-Restore-Request", "true")...)
		wantStatus(t, restore, http.StatusOK)
		wantPage(t, restore)
		wantVary(t, restore)
		wantRows(t, restore, []int64{users[0].ID})
	})
}

func TestUserList_BadCursorIs422WithAClearMessage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		createUsers(t, db, 2)
		b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		for _, cursor := range []string{"not-a-cursor", "%%%", b64(`{"t":"2024-01-01T00:00:00Z","i":5,"d":"x"}`), b64(`{"i":-1,"d":"n"}`), b64("[]")} {
			t.Run(cursor, func(t *testing.T) {
				r := c.Get("/users?cursor=" + url.QueryEscape(cursor))
				wantStatus(t, r, http.StatusUnprocessableEntity)
				if got := byTestID(r.Doc, "error-message").Text(); !strings.Contains(got, "not valid") || !strings.Contains(got, "first page") {
					t.Fatalf("bad cursor message %q", got)
				}
				hx := c.Get("/users?cursor="+url.QueryEscape(cursor), htmxTo("user-results")...)
				wantStatus(t, hx, http.StatusUnprocessableEntity)
				wantFragment(t, hx)
				if got := byTestID(hx.Doc, "alert").Text(); !strings.Contains(got, "not valid") {
					t.Fatalf("htmx bad cursor alert %q", got)
				}
			})
		}
	})
}
