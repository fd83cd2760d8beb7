package web_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// --- the pager every list shows ---

// pagerWalk follows a list's pager from start: Next as whole pages (a
// link opened in a new tab, or a browser without JavaScript) to the last
// page, then Previous back to the first, by htmx when the list swaps its
// results in place (target is the id of what it swaps; "" for a list of
// plain links). It returns each page's rows both ways, the way back turned
// round into the order of the way on. Every link must be a real link to
// the list that keeps filter, and carry htmx attributes exactly when the
// list has a target.
func pagerWalk(t *testing.T, c *webtest.Client, start string, filter url.Values, target string, rows func(*goquery.Document) []string) (on, back [][]string) {
	t.Helper()
	base, _, _ := strings.Cut(start, "?")
	link := func(r *webtest.Response, rel, label string) string {
		t.Helper()
		a := byTestID(r.Doc, "pager").Find(`a[data-testid="pager-` + rel + `"]`)
		if a.Length() == 0 {
			if byTestID(r.Doc, "pager-"+rel).Length() != 0 {
				t.Fatalf("%s: a %s link outside the pager", r.Request.URL, rel)
			}
			return ""
		}
		href := a.AttrOr("href", "")
		u, err := url.Parse(href)
		if err != nil || u.Path != base || u.Query().Get("cursor") == "" || a.AttrOr("rel", "") != rel {
			t.Fatalf("%s: %s link %q (rel %q)", r.Request.URL, rel, href, a.AttrOr("rel", ""))
		}
		for k := range filter {
			if got := u.Query().Get(k); got != filter.Get(k) {
				t.Fatalf("%s: %s link %q has %s=%q, want %q", r.Request.URL, rel, href, k, got, filter.Get(k))
			}
		}
		if got := strings.TrimSpace(a.Text()); !strings.Contains(got, label) {
			t.Fatalf("%s link reads %q, want %q", rel, got, label)
		}
		hx := [][2]string{{"hx-get", href}, {"hx-target", "#" + target}, {"hx-swap", "outerHTML"}, {"hx-push-url", "true"}}
		for _, kv := range hx {
			got, ok := a.Attr(kv[0])
			if target == "" && ok {
				t.Fatalf("%s link of a list without htmx has %s=%q", rel, kv[0], got)
			}
			if target != "" && got != kv[1] {
				t.Fatalf("%s link has %s=%q, want %q", rel, kv[0], got, kv[1])
			}
		}
		return href
	}

	r := c.Get(start)
	for {
		wantStatus(t, r, http.StatusOK)
		on = append(on, rows(r.Doc))
		if len(on) > 20 {
			t.Fatal("Next never ends")
		}
		if prev := link(r, "prev", "Newer"); (prev == "") != (len(on) == 1) {
			t.Fatalf("page %d: Previous link %q", len(on), prev)
		}
		next := link(r, "next", "Older")
		if next == "" {
			break
		}
		r = c.Get(next)
	}
	back = append(back, on[len(on)-1])
	var headers []string
	if target != "" {
		headers = htmxTo(target)
	}
	for prev := link(r, "prev", "Newer"); prev != ""; prev = link(r, "prev", "Newer") {
		r = c.Get(prev, headers...)
		wantStatus(t, r, http.StatusOK)
		if target != "" {
			wantFragment(t, r)
		}
		back = append(back, rows(r.Doc))
		if len(back) > len(on) {
			t.Fatalf("Previous goes on past the first page: %v", back)
		}
		if link(r, "next", "Older") == "" {
			t.Fatalf("page %d, reached going back, has no Next link", len(on)-len(back)+1)
		}
	}
	slices.Reverse(back)
	return on, back
}

// attrsOf reads an attribute of every element with testid, in page order.
func attrsOf(testid, attr string) func(*goquery.Document) []string {
	return func(doc *goquery.Document) []string {
		var out []string
		byTestID(doc, testid).Each(func(_ int, s *goquery.Selection) { out = append(out, s.AttrOr(attr, "")) })
		return out
	}
}

// wantWalk checks a walk saw want, newest first, in pages of size, and the
// same pages on the way back.
func wantWalk(t *testing.T, on, back [][]string, want []string, size int) {
	t.Helper()
	if got := slices.Concat(on...); !slices.Equal(got, want) {
		t.Fatalf("walking Next lists %v, want each row once, newest first: %v", got, want)
	}
	for i, p := range on {
		if i < len(on)-1 && len(p) != size {
			t.Fatalf("page %d has %d rows, want %d", i+1, len(p), size)
		}
	}
	if !slices.EqualFunc(back, on, slices.Equal[[]string]) {
		t.Fatalf("walking Previous from the last page gives pages %v, want %v", back, on)
	}
}

func TestUserList_PagerWalksOnAndBackKeepingTheFilter(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		users := createUsers(t, db, 60)
		var want []string
		for _, id := range idsOf(users...) {
			want = append(want, fmt.Sprint(id))
		}
		filter := url.Values{"status": {"all"}, "limit": {"50"}}
		on, back := pagerWalk(t, c, "/users?"+filter.Encode(), filter, "user-results", attrsOf("user-row", "data-user-id"))
		if len(on) != 2 {
			t.Fatalf("%d pages, want 2", len(on))
		}
		wantWalk(t, on, back, want, 50)
	})
}

func TestTeamList_PagerWalksOnAndBackKeepingTheFilter(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		members := insertTeam(t, db, "pagerwalk", 180)
		// Every third member is an invited compliance reviewer: 60 of them.
		var want []string
		for _, m := range slices.Backward(members) {
			if m.Status == models.MemberInvited && m.Role == models.RoleCompliance {
				want = append(want, m.ID)
			}
		}
		filter := url.Values{"q": {"pagerwalk"}, "status": {"invited"}, "role": {"compliance"}}
		on, back := pagerWalk(t, admin, "/team?"+filter.Encode(), filter, "team-results", attrsOf("team-row", "data-member-id"))
		if len(want) != 60 || len(on) != 3 {
			t.Fatalf("%d pages of %d members, want 3 of 60", len(on), len(want))
		}
		wantWalk(t, on, back, want, 25)
	})
}

func TestAuditList_PagerWalksOnAndBackKeepingTheFilter(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		for i := 0; i < 6; i++ {
			appendEntries(t, db, system, "test.walk", models.Target{Type: "test"}, 10)
			appendEntries(t, db, system, "test.other", models.Target{Type: "test"}, 3)
		}
		filter := url.Values{"action": {"test.walk"}, "target_type": {"test"}, "from": {"2000-01-01T00:00"}}
		on, back := pagerWalk(t, c, "/audit?"+filter.Encode(), filter, "audit-results", attrsOf("audit-row", "data-seq"))
		if len(on) != 3 {
			t.Fatalf("%d pages, want 3", len(on))
		}
		var want []string
		for _, e := range auditEntries(t, db, "test.walk") {
			want = append(want, fmt.Sprint(e.Seq))
		}
		slices.Reverse(want)
		wantWalk(t, on, back, want, 25)
	})
}

func TestAPIKeyList_PagerWalksOnAndBack(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		base := models.Now().Add(-time.Hour)
		var want []string
		for i := 0; i < models.APIKeyPageSize+10; i++ {
			// Pairs share a creation time: the id breaks the tie.
			k := &models.APIKey{ClientID: models.RandomHex(12), Name: "walk", Scope: models.ScopeRead,
				SecretHash: models.HashToken(models.RandomHex(16)), CreatedAt: base.Add(time.Duration(i/2) * time.Second)}
			if err := db.Gorm().Create(k).Error; err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprint(k.ID))
		}
		slices.Reverse(want)
		on, back := pagerWalk(t, c, "/api-keys", nil, "", attrsOf("api-key-row", "data-api-key-id"))
		if len(on) != 2 {
			t.Fatalf("%d pages, want 2", len(on))
		}
		wantWalk(t, on, back, want, models.APIKeyPageSize)
	})
}

func TestLists_OnePageHasNoPager(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		createUsers(t, db, 2)
		for _, path := range []string{"/users", "/team", "/audit", "/api-keys"} {
			r := c.Get(path)
			wantStatus(t, r, http.StatusOK)
			if n := byTestID(r.Doc, "pager").Length() + r.Doc.Find(`a[rel="next"], a[rel="prev"]`).Length(); n != 0 {
				t.Errorf("%s fits one page but shows a pager", path)
			}
		}
	})
}

func TestLists_HostileOrForeignCursorIs422WithAClearMessage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		createUsers(t, db, 2)
		b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		usersToken := models.CursorAfter(models.Now(), 1)
		auditToken := models.AuditCursorBefore(1)
		hostile := map[string]string{
			"garbage":          "garbage!",
			"NUL bytes":        "\x00\x00\x00",
			"invalid UTF-8":    "\xff\xfe\xc3\x28",
			"eight kilobytes":  strings.Repeat("A", 8<<10),
			"old users cursor": b64(`{"t":"2024-01-01T00:00:00Z","i":1,"d":"n"}`),
			"old team cursor":  b64(`{"t":"2024-01-01T00:00:00Z","i":"0123456789abcdef01234567"}`),
			"old audit cursor": b64(`{"s":1,"d":"n"}`),
		}
		for _, path := range []string{"/users", "/team", "/audit", "/api-keys"} {
			cursors := map[string]string{"a users cursor": usersToken, "an audit cursor": auditToken}
			for name, s := range hostile {
				cursors[name] = s
			}
			for name, s := range cursors {
				if (path == "/users" && s == usersToken) || (path == "/audit" && s == auditToken) {
					wantStatus(t, c.Get(path+"?cursor="+url.QueryEscape(s)), http.StatusOK)
					continue
				}
				r := c.Get(path + "?limit=50&cursor=" + url.QueryEscape(s))
				if r.StatusCode != http.StatusUnprocessableEntity {
					t.Fatalf("%s with %s: status %d, want 422", path, name, r.StatusCode)
				}
				if got := byTestID(r.Doc, "error-message").Text(); !strings.Contains(got, "not valid") || !strings.Contains(got, "first page") {
					t.Fatalf("%s with %s: message %q", path, name, got)
				}
				// The page links to the list's first page, same page size.
				if href := byTestID(r.Doc, "error-first-page").AttrOr("href", ""); href != path+"?limit=50" {
					t.Fatalf("%s with %s: first page link %q", path, name, href)
				}
			}
		}
	})
}
