package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// testSigningKey signs checkpoints in tests.
var testSigningKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// appendEntries records n audited no-op changes with the given action and
// origin, for lists that need many entries.
func appendEntries(t *testing.T, db *models.DB, o models.Origin, action string, target models.Target, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		err := db.Apply(context.Background(), o, func(tx *gorm.DB) (models.Change, error) {
			return models.Change{Action: action, Target: target, After: map[string]any{"n": i}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// rowSeqs are the seqs of the list's rows, in page order.
func rowSeqs(r *webtest.Response) []int64 {
	var out []int64
	byTestID(r.Doc, "audit-row").Each(func(_ int, s *goquery.Selection) {
		n, _ := strconv.ParseInt(s.AttrOr("data-seq", ""), 10, 64)
		out = append(out, n)
	})
	return out
}

func rowActions(r *webtest.Response) []string {
	var out []string
	byTestID(r.Doc, "audit-action").Each(func(_ int, s *goquery.Selection) { out = append(out, s.Text()) })
	return out
}

func TestAuditList_NewestFirstFilteredByTheURL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, auditor := h.SignIn(t, models.RoleAuditor)
		admin, adminMember := h.SignIn(t, models.RoleAdmin)
		created := admin.Post("/users", url.Values{"client_user_id": {"audit-list-" + letters(6)}})
		wantStatus(t, created, http.StatusCreated)
		other := models.Origin{Actor: models.Actor{Type: models.ActorAPIKey, ID: "key-one"}, RequestID: "req-findme", IP: "198.51.100.7"}
		appendEntries(t, db, other, "api.call", models.Target{Type: "api_key", ID: "key-one"}, 3)

		all := c.Get("/audit")
		wantStatus(t, all, http.StatusOK)
		seqs := rowSeqs(all)
		if len(seqs) < 5 {
			t.Fatalf("%d rows, want every entry", len(seqs))
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] >= seqs[i-1] {
				t.Fatalf("rows not newest first: %v", seqs)
			}
		}
		if got := byTestID(all.Doc, "nav-/audit").Length(); got != 1 {
			t.Errorf("the navigation has %d Audit links", got)
		}

		cases := []struct {
			query string
			want  func(action string) bool
			n     int
		}{
			{"action=user", func(a string) bool { return strings.HasPrefix(a, "user.") }, 1},
			{"action=auth.login", func(a string) bool { return a == "auth.login" }, 2},
			{"action=api&target_type=api_key&target_id=key-one", func(a string) bool { return a == "api.call" }, 3},
			{"actor=api_key:key-one", func(a string) bool { return a == "api.call" }, 3},
			{"actor=" + url.QueryEscape(adminMember.EmailAddress) + "&action=user", func(a string) bool { return a == "user.create" }, 1},
			{"actor=" + url.QueryEscape(auditor.EmailAddress), func(a string) bool { return a == "auth.login" }, 1},
			{"actor=nobody@example.com", nil, 0},
			{"request_id=req-findme", func(a string) bool { return a == "api.call" }, 3},
			{"ip=198.51.100.7", func(a string) bool { return a == "api.call" }, 3},
			{"from=2000-01-01&to=2000-01-02", nil, 0},
			{"from=" + models.Now().Add(-time.Hour).Format("2006-01-02T15:04") + "&action=api", func(a string) bool { return a == "api.call" }, 3},
		}
		for _, tc := range cases {
			r := c.Get("/audit?" + tc.query)
			wantStatus(t, r, http.StatusOK)
			actions := rowActions(r)
			if len(actions) != tc.n {
				t.Errorf("%s: %d rows %v, want %d", tc.query, len(actions), actions, tc.n)
			}
			for _, a := range actions {
				if !tc.want(a) {
					t.Errorf("%s: row with action %s", tc.query, a)
				}
			}
		}

		// The filter form keeps what the URL says.
		r := c.Get("/audit?action=user&ip=198.51.100.7")
		if v, _ := byTestID(r.Doc, "filter-action").Attr("value"); v != "user" {
			t.Errorf("action field shows %q", v)
		}
		// htmx from the filter gets the results alone, with the field
		// messages out of band.
		hx := c.Get("/audit?action=user", "HX-Request", "true", "HX-Target", "audit-results")
		wantStatus(t, hx, http.StatusOK)
		if !isFragment(hx.Body) || byTestID(hx.Doc, "audit-results").Length() != 1 {
			t.Fatalf("htmx answer is not the results fragment:\n%s", hx.Body)
		}
		if !strings.Contains(hx.Header.Get("Vary"), "HX-Request") {
			t.Error("no Vary: HX-Request")
		}
	})
}

func TestAuditList_BadFilterIs422WithTheMessageBesideTheField(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleCompliance)
		r := c.Get("/audit?from=yesterday&actor=someone")
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if msg := byTestID(r.Doc, "error-from").Text(); msg == "" {
			t.Errorf("no message beside From:\n%s", r.Body)
		}
		if v, _ := byTestID(r.Doc, "filter-from").Attr("value"); v != "yesterday" {
			t.Errorf("From lost what was typed: %q", v)
		}
		if v, _ := byTestID(r.Doc, "filter-actor").Attr("value"); v != "someone" {
			t.Errorf("Actor lost what was typed: %q", v)
		}
		if byTestID(r.Doc, "audit-row").Length() != 0 {
			t.Error("rows shown for an invalid filter")
		}
		hx := c.Get("/audit?from=2026-01-02&to=2026-01-01", "HX-Request", "true", "HX-Target", "audit-results")
		wantStatus(t, hx, http.StatusUnprocessableEntity)
		oob := hx.Doc.Find(`#f-to-error[hx-swap-oob]`)
		if oob.Length() != 1 || oob.Text() == "" {
			t.Errorf("no out-of-band message for Until:\n%s", hx.Body)
		}
	})
}

func TestAuditList_PagerWalksTheWholeLogByCursor(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		appendEntries(t, db, system, "test.page", models.Target{Type: "test"}, 60)
		var seen []int64
		path := "/audit?action=test.page"
		var pages []string
		for path != "" {
			r := c.Get(path)
			wantStatus(t, r, http.StatusOK)
			pages = append(pages, path)
			seen = append(seen, rowSeqs(r)...)
			path = byTestID(r.Doc, "pager-next").AttrOr("href", "")
		}
		if len(seen) != 60 || len(pages) != 3 {
			t.Fatalf("walked %d pages with %d rows, want 3 and 60", len(pages), len(seen))
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] != seen[i-1]-1 {
				t.Fatalf("rows skipped or repeated: %v", seen)
			}
		}
		// Back from the last page comes the middle one again.
		last := c.Get(pages[2])
		prev := c.Get(byTestID(last.Doc, "pager-prev").AttrOr("href", ""))
		if got := rowSeqs(prev); len(got) != 25 || got[0] != seen[25] {
			t.Errorf("previous page starts at %v, want seq %d", got, seen[25])
		}
		if r := c.Get("/audit?cursor=not-a-cursor"); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("a bad cursor answered %d", r.StatusCode)
		}
	})
}

func TestAuditDiff_ShowsTheChangeWithPersonalValuesRedacted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		id := sampleIdentity()
		form := identityForm(id)
		form.Set("client_user_id", "audit-diff-"+letters(6))
		wantStatus(t, admin.Post("/users", form), http.StatusCreated)
		created := entriesWithAction(t, db, "user.create")
		if len(created) != 1 {
			t.Fatalf("%d user.create entries", len(created))
		}
		personal := []string{id.FirstName, id.LastName, id.SSNFull, id.DateOfBirth, id.Address.Street, id.PhoneNumbers[0], id.Emails[0]}
		for _, role := range models.Roles {
			c, _ := h.SignIn(t, role)
			path := fmt.Sprintf("/audit/%d/diff", created[0].Seq)
			for _, r := range []*webtest.Response{c.Get(path, webtest.HTMX...), c.Get(path), c.Get("/audit")} {
				wantStatus(t, r, http.StatusOK)
				for _, v := range personal {
					if strings.Contains(r.Body, v) {
						t.Fatalf("%s saw a personal value %q", role, v)
					}
				}
			}
			part := c.Get(path, webtest.HTMX...)
			if !isFragment(part.Body) {
				t.Fatal("the diff partial is a whole page")
			}
			first := part.Doc.Find(`[data-testid="audit-diff-row"][data-field="first_name"] [data-testid="diff-after"]`)
			if first.Text() != "[redacted]" {
				t.Errorf("first_name after shows %q, want [redacted]", first.Text())
			}
		}
		if r := admin.Get("/audit/999999/diff"); r.StatusCode != http.StatusNotFound {
			t.Errorf("a missing entry answered %d", r.StatusCode)
		}
	})
}

func TestAuditChart_CountsPerDayForTheFilter(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		appendEntries(t, db, system, "test.chart", models.Target{Type: "test"}, 4)
		r := c.Get("/audit/chart?action=test.chart", webtest.HTMX...)
		wantStatus(t, r, http.StatusOK)
		bars := byTestID(r.Doc, "chart-bar")
		if bars.Length() != models.ChartDays {
			t.Fatalf("%d bars, want %d", bars.Length(), models.ChartDays)
		}
		today := bars.Last()
		if today.AttrOr("data-day", "") != models.Now().Format("2006-01-02") || today.AttrOr("data-count", "") != "4" {
			t.Errorf("today's bar: day %s count %s, want 4 today", today.AttrOr("data-day", ""), today.AttrOr("data-count", ""))
		}
		if r.Doc.Find("script").Length() != 0 || r.Doc.Find("svg").Length() != 1 {
			t.Error("the chart is not a plain server-drawn SVG")
		}
		// The list loads the chart for its own filter.
		list := c.Get("/audit?action=test.chart")
		if src := list.Doc.Find("#audit-chart").AttrOr("hx-get", ""); src != "/audit/chart?action=test.chart" {
			t.Errorf("the list loads the chart from %q", src)
		}
	})
}

func TestAuditExport_StreamsTheFilterAsCSVAndJSONLinesAndIsAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		id := sampleIdentity()
		form := identityForm(id)
		form.Set("client_user_id", "audit-export-"+letters(6))
		wantStatus(t, admin.Post("/users", form), http.StatusCreated)
		evil := models.Origin{Actor: models.SystemActor, UserAgent: "=HYPERLINK(\"http://evil\")", IP: "203.0.113.9"}
		appendEntries(t, db, evil, "test.export", models.Target{Type: "test", ID: "x"}, 1200)

		c, auditor := h.SignIn(t, models.RoleAuditor)
		c.Get("/audit")
		r := c.Post("/audit/export", url.Values{"format": {"csv"}, "action": {"test.export"}})
		wantStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("Content-Type %q", ct)
		}
		if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
			t.Errorf("Content-Disposition %q", cd)
		}
		recs, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
		if err != nil {
			t.Fatalf("CSV: %v", err)
		}
		header := "seq,occurred_at,actor_type,actor_id,actor_email,action,target_type,target_id,request_id,ip,user_agent,reason,diff,prev_hash,hash"
		if strings.Join(recs[0], ",") != header {
			t.Fatalf("header %v", recs[0])
		}
		if len(recs) != 1201 {
			t.Fatalf("%d CSV rows, want 1200 entries and the header", len(recs)-1)
		}
		for i, rec := range recs[1:] {
			if rec[5] != "test.export" || rec[9] != "203.0.113.9" {
				t.Fatalf("row %d: %v", i, rec)
			}
			if !strings.HasPrefix(rec[10], "'=") {
				t.Fatalf("a formula reached the CSV unguarded: %q", rec[10])
			}
			if i > 0 {
				prev, _ := strconv.Atoi(recs[i][0])
				cur, _ := strconv.Atoi(rec[0])
				if cur != prev-1 {
					t.Fatalf("rows out of order at %d: %d after %d", i, cur, prev)
				}
			}
		}

		// JSON lines of the user entries: the diff is there, redacted.
		r = c.Post("/audit/export", url.Values{"format": {"jsonl"}, "action": {"user"}})
		wantStatus(t, r, http.StatusOK)
		lines := strings.Split(strings.TrimSpace(r.Body), "\n")
		if len(lines) != 1 {
			t.Fatalf("%d JSON lines, want the one user.create", len(lines))
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
			t.Fatal(err)
		}
		if line["action"] != "user.create" || !strings.HasPrefix(lines[0], `{"seq":`) {
			t.Errorf("line %s", lines[0])
		}
		for _, v := range []string{id.FirstName, id.LastName, id.SSNFull, id.DateOfBirth, id.Emails[0]} {
			if strings.Contains(r.Body, v) {
				t.Fatalf("the export carries a personal value %q", v)
			}
		}
		if !strings.Contains(lines[0], `"first_name":"[redacted]"`) {
			t.Errorf("no redacted first_name in %s", lines[0])
		}

		exports := entriesWithAction(t, db, "audit.export")
		if len(exports) != 2 {
			t.Fatalf("%d audit.export entries, want 2", len(exports))
		}
		e := exports[0]
		if e.ActorType != models.ActorMember || e.ActorID != auditor.ID {
			t.Errorf("export recorded for %s %s", e.ActorType, e.ActorID)
		}
		var diff models.AuditDiff
		json.Unmarshal([]byte(e.Diff), &diff)
		filter, _ := diff.After["filter"].(map[string]any)
		if diff.After["format"] != "csv" || filter["action"] != "test.export" {
			t.Errorf("export entry diff %s", e.Diff)
		}
		// The export of a filter that includes audit.export entries stops
		// at its own entry.
		r = c.Post("/audit/export", url.Values{"format": {"csv"}, "action": {"audit.export"}})
		recs, _ = csv.NewReader(strings.NewReader(r.Body)).ReadAll()
		if len(recs) != 3 {
			t.Errorf("export of exports has %d rows, want the 2 earlier ones", len(recs)-1)
		}
		if bad := c.Post("/audit/export", url.Values{"format": {"xlsx"}}); bad.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("unknown format answered %d", bad.StatusCode)
		}
		if noToken := c.PostRaw("/audit/export", url.Values{"format": {"csv"}}); noToken.StatusCode != http.StatusForbidden {
			t.Errorf("export without CSRF token answered %d", noToken.StatusCode)
		}
	})
}

func TestAuditIntegrity_VerifiesInTheBackgroundAndNamesTheBrokenSeq(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		appendEntries(t, db, system, "test.integrity", models.Target{Type: "test"}, 5)
		page := c.Get("/audit/integrity")
		wantStatus(t, page, http.StatusOK)
		head, _ := db.AuditHead(context.Background())
		if got := byTestID(page.Doc, "head-seq").Text(); got != strconv.FormatInt(head.Seq, 10) {
			t.Errorf("head seq shows %s, want %d", got, head.Seq)
		}
		if got := byTestID(page.Doc, "head-hash").Text(); got != head.Hash {
			t.Errorf("head hash shows %s", got)
		}

		run := func() *webtest.Response {
			t.Helper()
			r := c.Post("/audit/integrity/verify", nil, webtest.HTMX...)
			wantStatus(t, r, http.StatusOK)
			deadline := time.Now().Add(20 * time.Second)
			for byTestID(r.Doc, "verify-panel").AttrOr("data-state", "") == "running" {
				if r.Doc.Find("[hx-trigger='every 1s']").Length() != 1 {
					t.Fatal("a running verification does not poll")
				}
				if time.Now().After(deadline) {
					t.Fatal("verification did not finish")
				}
				time.Sleep(20 * time.Millisecond)
				r = c.Get("/audit/integrity/verify", webtest.HTMX...)
			}
			return r
		}
		r := run()
		if byTestID(r.Doc, "verify-ok").Length() != 1 || byTestID(r.Doc, "verify-checked").Text() != strconv.FormatInt(head.Seq, 10) {
			t.Fatalf("intact chain:\n%s", r.Body)
		}

		tamper(t, db, `UPDATE audit_entries SET reason = 'nothing happened' WHERE seq = 3`)
		r = run()
		if byTestID(r.Doc, "verify-broken").Length() != 1 || byTestID(r.Doc, "verify-bad-seq").Text() != "3" {
			t.Fatalf("tampered chain:\n%s", r.Body)
		}
	})
}

// tamper runs sql with the append-only guard lifted, as someone with
// direct database access as the tables' owner could.
func tamper(t *testing.T, db *models.DB, sql string) {
	t.Helper()
	db = testdb.Owner(t, db)
	var stmts []string
	if db.Dialect == models.Postgres {
		stmts = []string{`ALTER TABLE audit_entries DISABLE TRIGGER USER`, sql, `ALTER TABLE audit_entries ENABLE TRIGGER USER`}
	} else {
		stmts = []string{`DROP TRIGGER IF EXISTS audit_entries_no_update`, sql}
	}
	for _, s := range stmts {
		if err := db.Gorm().Exec(s).Error; err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestAuditCheckpoint_ListedAndDownloadedAsASignedFile(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleCompliance)
		if r := c.Get("/audit/integrity"); byTestID(r.Doc, "checkpoints-empty").Length() != 1 {
			t.Error("no empty state before the first checkpoint")
		}
		cp, err := db.CreateCheckpoint(context.Background(), system, testSigningKey)
		if err != nil {
			t.Fatal(err)
		}
		page := c.Get("/audit/integrity")
		if byTestID(page.Doc, "checkpoint-row").Length() != 1 {
			t.Fatalf("checkpoint not listed:\n%s", page.Body)
		}
		if got := byTestID(page.Doc, "public-key").Text(); got != models.EncodePublicKey(testSigningKey.Public().(ed25519.PublicKey)) {
			t.Errorf("public key shows %q", got)
		}
		href := byTestID(page.Doc, "checkpoint-download").AttrOr("href", "")
		r := c.Get(href)
		wantStatus(t, r, http.StatusOK)
		if !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") {
			t.Errorf("Content-Disposition %q", r.Header.Get("Content-Disposition"))
		}
		got, err := models.ParseCheckpointFile([]byte(r.Body))
		if err != nil {
			t.Fatalf("%v:\n%s", err, r.Body)
		}
		if got.Seq != cp.Seq || got.Hash != cp.Hash || !got.SignatureValid(testSigningKey.Public().(ed25519.PublicKey)) {
			t.Errorf("downloaded checkpoint %+v does not verify", got)
		}
		if r := c.Get("/audit/checkpoints/999999"); r.StatusCode != http.StatusNotFound {
			t.Errorf("missing checkpoint answered %d", r.StatusCode)
		}
	})
}

func TestAuditRoutes_NoRouteChangesAnEntry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		appendEntries(t, db, system, "test.before", models.Target{Type: "test"}, 3)
		if _, err := db.CreateCheckpoint(context.Background(), system, testSigningKey); err != nil {
			t.Fatal(err)
		}
		before := entriesWithAction(t, db, "")
		for _, role := range models.Roles {
			c, _ := h.SignIn(t, role)
			for _, p := range []string{"/audit", "/audit?action=test", "/audit/chart", "/audit/1/diff", "/audit/integrity",
				"/audit/integrity/verify", "/audit/checkpoints/1"} {
				if r := c.Get(p); r.StatusCode != http.StatusOK {
					t.Fatalf("%s GET %s: %d", role, p, r.StatusCode)
				}
			}
			for _, p := range []string{"/audit/export", "/audit/integrity/verify"} {
				if r := c.Post(p, url.Values{"format": {"jsonl"}}); r.StatusCode >= 400 {
					t.Fatalf("%s POST %s: %d", role, p, r.StatusCode)
				}
			}
		}
		after := entriesWithAction(t, db, "")
		for i, e := range before {
			a := after[i]
			if a.Seq != e.Seq || a.Hash != e.Hash || a.Diff != e.Diff || a.Action != e.Action {
				t.Fatalf("entry %d changed: %+v, was %+v", e.Seq, a, e)
			}
		}
		for _, e := range after[len(before):] {
			if e.Action != "audit.export" && e.Action != "auth.login" && e.Action != "team.create" {
				t.Errorf("the audit screens appended %s", e.Action)
			}
		}
		if res, err := db.VerifyAuditChain(context.Background(), nil); err != nil || !res.OK() {
			t.Fatalf("chain after the walk: %+v %v", res, err)
		}
	})
}

// entriesWithAction reads the entries with action (all for ""), oldest
// first.
func entriesWithAction(t *testing.T, db *models.DB, action string) []models.AuditEntry {
	t.Helper()
	q := db.Gorm().Order("seq")
	if action != "" {
		q = q.Where("action = ?", action)
	}
	var out []models.AuditEntry
	if err := q.Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUserShow_HistoryComesFromTheAuditLogAndLinksToIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, adminMember := h.SignIn(t, models.RoleAdmin)
		clientUserID := "audit-history-" + letters(6)
		created := admin.Post("/users", url.Values{"client_user_id": {clientUserID}})
		wantStatus(t, created, http.StatusCreated)
		userPath := byTestID(created.Doc, "token-continue").AttrOr("href", "")
		id := strings.TrimPrefix(userPath, "/users/")
		wantRedirect(t, admin.Post(userPath+"/remove", url.Values{"confirm": {clientUserID}}), userPath)

		c, _ := h.SignIn(t, models.RoleAuditor)
		page := c.Get(userPath)
		wantStatus(t, page, http.StatusOK)
		if got := byTestID(page.Doc, "history-actor").First().Text(); got != adminMember.EmailAddress {
			t.Errorf("history names %q, want the admin's email", got)
		}
		link := byTestID(page.Doc, "history-audit-link").AttrOr("href", "")
		if link != "/audit?target_id="+id+"&target_type=end_user" {
			t.Fatalf("history links to %q", link)
		}
		// The auditor's own view of the page is an access entry, found by
		// the user's data access list, not by target.
		list := c.Get(link)
		if got := rowActions(list); len(got) != 2 || got[0] != "user.remove" || got[1] != "user.create" {
			t.Errorf("the linked audit log shows %v", got)
		}
		if got := byTestID(page.Doc, "history-action"); got.Length() != 2 {
			t.Errorf("the History lists %d entries, want the 2 changes", got.Length())
		}
	})
}

func TestAuditIntegrity_TwoProcessesShareOneVerification(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		// Two portal processes on one database, a member on each.
		a, b := webtest.New(t, db), webtest.New(t, db)
		ca, _ := a.SignIn(t, models.RoleAuditor)
		cb, _ := b.SignIn(t, models.RoleCompliance)

		// Process A runs a verification (as if still walking the chain):
		// B's page shows its progress, and a click on B joins it.
		v, ok, err := db.StartVerification(context.Background(), "a@example.com", 500)
		if err != nil || !ok {
			t.Fatal(err)
		}
		if err := db.RecordVerificationProgress(context.Background(), v.ID, 200); err != nil {
			t.Fatal(err)
		}
		r := cb.Post("/audit/integrity/verify", nil, webtest.HTMX...)
		wantStatus(t, r, http.StatusOK)
		if byTestID(r.Doc, "verify-panel").AttrOr("data-state", "") != "running" || !strings.Contains(r.Body, "200 of 500") {
			t.Fatalf("B's click: %s", r.Body)
		}
		if n := countTable(t, db, "audit_verifications"); n != 1 {
			t.Fatalf("%d verifications, want the one running", n)
		}
		// A finishes; B's poll reads the outcome.
		if err := db.FinishVerification(context.Background(), v.ID, models.VerifyResult{Checked: 500, HeadSeq: 500}, nil); err != nil {
			t.Fatal(err)
		}
		r = cb.Get("/audit/integrity/verify", webtest.HTMX...)
		if byTestID(r.Doc, "verify-ok").Length() != 1 {
			t.Fatalf("B's poll after A finished: %s", r.Body)
		}

		// A process that stops mid-run: its page says so once it is
		// silent, and the next click, on the other process, starts again.
		v2, _, err := db.StartVerification(context.Background(), "a@example.com", 500)
		if err != nil {
			t.Fatal(err)
		}
		exec := func(sql string, args ...any) {
			if err := db.Gorm().Exec(sql, args...).Error; err != nil {
				t.Fatal(err)
			}
		}
		exec("UPDATE audit_verifications SET heartbeat_at = ? WHERE id = ?", models.Now().Add(-models.VerificationSilence-time.Second), v2.ID)
		r = ca.Get("/audit/integrity/verify", webtest.HTMX...)
		if byTestID(r.Doc, "verify-failed").Length() != 1 {
			t.Fatalf("a silent run: %s", r.Body)
		}
		r = cb.Post("/audit/integrity/verify", nil, webtest.HTMX...)
		wantStatus(t, r, http.StatusOK)
		deadline := time.Now().Add(20 * time.Second)
		for byTestID(r.Doc, "verify-ok").Length() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the new verification did not finish: %s", r.Body)
			}
			time.Sleep(20 * time.Millisecond)
			r = ca.Get("/audit/integrity/verify", webtest.HTMX...)
		}
		if n := countTable(t, db, "audit_verifications"); n != 3 {
			t.Fatalf("%d verifications, want 3", n)
		}
	})
}
