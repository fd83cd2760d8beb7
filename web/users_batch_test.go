package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/batches"
	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// runBatches runs every queued batch job to its end, as serve's runner
// does in the background.
func runBatches(t *testing.T, db *models.DB) {
	t.Helper()
	r := &batches.Runner{DB: db, Logger: webtest.Logger()}
	for {
		ran, err := r.RunOnce(context.Background())
		if err != nil {
			t.Fatalf("batch runner: %v", err)
		}
		if !ran {
			return
		}
	}
}

// selected is the query of a batch over ticked rows.
func selected(users ...*models.EndUser) url.Values {
	q := url.Values{"scope": {"selected"}}
	for _, u := range users {
		q.Add("ids", strconv.FormatInt(u.ID, 10))
	}
	return q
}

// formValues are the values a page's form would send, as the browser
// reads them: every named input but the buttons.
func formValues(form *goquery.Selection) url.Values {
	v := url.Values{}
	form.Find("input[name]").Each(func(_ int, in *goquery.Selection) {
		if in.AttrOr("name", "") != "_csrf" {
			v.Add(in.AttrOr("name", ""), in.AttrOr("value", ""))
		}
	})
	return v
}

// jobPath is where a started batch's answer sends the browser.
func jobIDFrom(t *testing.T, r *webtest.Response) int64 {
	t.Helper()
	loc := r.Header.Get("Location")
	id, err := strconv.ParseInt(strings.TrimPrefix(loc, "/batches/"), 10, 64)
	if r.StatusCode != http.StatusSeeOther || err != nil {
		t.Fatalf("status %d, Location %q: want a redirect to the job", r.StatusCode, loc)
	}
	return id
}

func TestUserBatch_RemovingTickedRowsAsksForTheCountAndRunsAsAJob(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, admin := h.SignIn(t, models.RoleAdmin)
		users := createUsers(t, db, 4)
		for _, u := range users {
			addItem(t, db, u.ID, nil)
		}

		// Each row has a checkbox that belongs to the batch form, above
		// the link that covers the row.
		list := c.Get("/users")
		boxes := list.Doc.Find(`[data-testid="user-row"] input[type="checkbox"][name="ids"][form="user-batch"]`)
		if boxes.Length() != 4 || !strings.Contains(boxes.First().AttrOr("class", ""), "z-10") {
			t.Fatalf("%d row checkboxes", boxes.Length())
		}
		for _, id := range []string{"batch-export", "batch-reset-login", "batch-remove", "user-select-page", "batch-scope"} {
			if byTestID(list.Doc, id).Length() != 1 {
				t.Errorf("the list has no %s", id)
			}
		}
		if byTestID(list.Doc, "user-batch").Find(`input[name="_csrf"]`).Length() != 0 {
			t.Error("the batch form, a GET, carries the CSRF token into the URL")
		}

		confirm := c.Get("/users/batch/remove?" + selected(users[0], users[1], users[2]).Encode())
		wantStatus(t, confirm, http.StatusOK)
		if got := byTestID(confirm.Doc, "batch-title").Text(); got != "Remove 3 end users" {
			t.Fatalf("title %q", got)
		}
		if n := byTestID(confirm.Doc, "batch-sample-row").Length(); n != 3 {
			t.Errorf("%d users listed, want the 3 selected", n)
		}
		form := formValues(byTestID(confirm.Doc, "batch-form"))
		if form.Get("expect") != "3" || len(form["ids"]) != 3 || form.Get("scope") != "selected" {
			t.Fatalf("the form sends %v", form)
		}

		// A wrong count: the message beside the field, what was typed kept,
		// nothing written.
		form.Set("confirm", "2")
		r := c.Post("/users/batch/remove", form)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantFieldError(t, r.Doc, "confirm", "Type 3, the number of users to remove, to confirm.")
		if fieldValue(t, r.Doc, "confirm") != "2" {
			t.Error("the typed count was not kept")
		}
		// The selection changed since the page was shown: a fresh count.
		if err := db.RemoveEndUser(context.Background(), models.Origin{Actor: models.SystemActor}, users[2].ID, users[2].ClientUserID); err != nil {
			t.Fatal(err)
		}
		form.Set("confirm", "3")
		r = c.Post("/users/batch/remove", form)
		wantStatus(t, r, http.StatusConflict)
		if !strings.Contains(byTestID(r.Doc, "batch-problem").Text(), "now holds 2 users, not 3") ||
			formValues(byTestID(r.Doc, "batch-form")).Get("expect") != "2" {
			t.Fatalf("stale count: %s", byTestID(r.Doc, "batch-problem").Text())
		}
		if n := countTable(t, db, "batch_jobs"); n != 0 {
			t.Fatalf("refused batches wrote %d jobs", n)
		}

		form.Set("expect", "2")
		form.Set("confirm", "2")
		id := jobIDFrom(t, c.Post("/users/batch/remove", form))
		page := c.Get("/batches/" + strconv.FormatInt(id, 10))
		wantStatus(t, page, http.StatusOK)
		if byTestID(page.Doc, "job-progress").AttrOr("hx-trigger", "") != "every 1s" || byTestID(page.Doc, "job-requester").Text() != admin.EmailAddress {
			t.Fatalf("a queued job's page does not poll: %s", byTestID(page.Doc, "job-progress").Text())
		}

		runBatches(t, db)
		frag := c.Get("/batches/"+strconv.FormatInt(id, 10), htmxTo("batch-progress")...)
		wantFragment(t, frag)
		progress := byTestID(frag.Doc, "job-progress")
		if progress.AttrOr("data-state", "") != models.BatchDone || progress.AttrOr("hx-trigger", "") != "" ||
			byTestID(frag.Doc, "job-succeeded").Text() != "2" || byTestID(frag.Doc, "job-failed").Text() != "0" {
			t.Fatalf("finished job: %s", progress.Text())
		}
		for _, u := range users[:2] {
			if !reloadUser(t, db, u.ID).Removed() {
				t.Errorf("user %d was not removed", u.ID)
			}
			if e := auditForUser(t, db, u.ID, "user.remove"); len(e) != 1 || e[0].ActorID != admin.ID || !strings.Contains(e[0].Diff, `"batch_job":`+strconv.FormatInt(id, 10)) {
				t.Errorf("user %d's history: %+v", u.ID, e)
			}
		}
		if reloadUser(t, db, users[3].ID).Removed() {
			t.Error("a user that was not ticked was removed")
		}
		list = c.Get("/batches")
		if rows := byTestID(list.Doc, "job-row"); rows.Length() != 1 || rows.Find(`[data-testid="job-row-state"]`).Text() != "done" {
			t.Errorf("the jobs list: %s", byTestID(list.Doc, "job-list").Text())
		}
	})
}

func TestUserBatch_ResetLoginOfAFilterReportsEachFailureAtTheEnd(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		users := createUsers(t, db, 5)
		for _, u := range users[:3] {
			addItem(t, db, u.ID, inError("ITEM_LOCKED"))
		}
		addItem(t, db, users[3].ID, nil)

		// The list's filter goes with the batch form.
		list := c.Get("/users?error_code=ITEM_LOCKED")
		if v := formValues(byTestID(list.Doc, "user-batch")); v.Get("error_code") != "ITEM_LOCKED" {
			t.Fatalf("the batch form sends %v", v)
		}
		confirm := c.Get("/users/batch/reset-login?scope=filter&error_code=ITEM_LOCKED")
		wantStatus(t, confirm, http.StatusOK)
		if got := byTestID(confirm.Doc, "batch-title").Text(); got != "Reset the login of 3 end users" {
			t.Fatalf("title %q", got)
		}
		if !strings.Contains(byTestID(confirm.Doc, "batch-selection").Text(), `error code “ITEM_LOCKED”`) {
			t.Errorf("selection: %s", byTestID(confirm.Doc, "batch-selection").Text())
		}
		id := jobIDFrom(t, c.Post("/users/batch/reset-login", formValues(byTestID(confirm.Doc, "batch-form"))))

		// One target goes away before the runner reaches it.
		if err := db.RemoveEndUser(context.Background(), models.Origin{Actor: models.SystemActor}, users[1].ID, users[1].ClientUserID); err != nil {
			t.Fatal(err)
		}
		runBatches(t, db)
		page := c.Get("/batches/" + strconv.FormatInt(id, 10))
		if got := byTestID(page.Doc, "job-state").Text(); got != "Finished with failures: 1 of 3 users could not be changed." {
			t.Fatalf("state %q", got)
		}
		fails := byTestID(page.Doc, "job-failure")
		if fails.Length() != 1 || !strings.Contains(fails.Text(), strconv.FormatInt(users[1].ID, 10)) ||
			!strings.Contains(fails.Text(), "This user was removed; it has no items.") {
			t.Fatalf("failures: %s", fails.Text())
		}
		for _, u := range []*models.EndUser{users[0], users[2]} {
			if e := auditForUser(t, db, u.ID, "item.reset_login"); len(e) != 1 {
				t.Errorf("user %d: %d reset entries", u.ID, len(e))
			}
		}
		if n := len(auditForUser(t, db, users[3].ID, "item.reset_login")); n != 0 {
			t.Error("a user outside the filter was reset")
		}
	})
}

func TestUserBatch_ExportOfTickedRowsHoldsExactlyThem(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		users := createUsers(t, db, 3)

		list := c.Get("/users")
		if byTestID(list.Doc, "batch-export").Length() != 1 || byTestID(list.Doc, "batch-remove").Length() != 0 || byTestID(list.Doc, "batch-reset-login").Length() != 0 {
			t.Fatal("an auditor's batch form offers more than an export")
		}
		confirm := c.Get("/users/batch/export?" + selected(users[0], users[2]).Encode())
		wantStatus(t, confirm, http.StatusOK)
		form := formValues(byTestID(confirm.Doc, "batch-form"))
		form.Set("format", "csv")
		r := c.Post("/users/export", form)
		wantStatus(t, r, http.StatusOK)
		recs, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 3 || recs[1][0] != strconv.FormatInt(users[2].ID, 10) || recs[2][0] != strconv.FormatInt(users[0].ID, 10) {
			t.Fatalf("export: %v", recs)
		}
		e := auditEntries(t, db, models.ActionUserExport)
		if len(e) != 1 || !strings.Contains(e[0].Diff, `"ids":[`+strconv.FormatInt(users[0].ID, 10)+`,`+strconv.FormatInt(users[2].ID, 10)+`]`) {
			t.Fatalf("export entry: %+v", e)
		}
		// Reset and remove are admins' only, on the server too.
		wantStatus(t, c.Get("/users/batch/remove?"+selected(users[0]).Encode()), http.StatusForbidden)
		wantStatus(t, c.Post("/users/batch/remove", url.Values{"scope": {"selected"}, "ids": {"1"}, "expect": {"1"}, "confirm": {"1"}}), http.StatusForbidden)
	})
}

func TestUserBatch_HostileSelectionsAreRefusedAndWriteNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		users := createUsers(t, db, 1)
		many := url.Values{"scope": {"selected"}}
		for i := range models.MaxSelectedIDs + 1 {
			many.Add("ids", strconv.Itoa(i+1))
		}
		for name, q := range map[string]url.Values{
			"nothing ticked":   {"scope": {"selected"}},
			"a word for an id": {"scope": {"selected"}, "ids": {"12abc"}},
			"a NUL in an id":   {"scope": {"selected"}, "ids": {"1\x00"}},
			"too many ids":     many,
			"a NUL in search":  {"scope": {"filter"}, "q": {"ann\x00"}},
			"bad UTF-8":        {"scope": {"filter"}, "error_code": {"\xff\xfe"}},
			"a long search":    {"scope": {"filter"}, "q": {strings.Repeat("a", 2000)}},
		} {
			r := c.Get("/users/batch/remove?" + q.Encode())
			if r.StatusCode != http.StatusUnprocessableEntity || byTestID(r.Doc, "batch-invalid").Length() != 1 {
				t.Errorf("%s: GET answered %d", name, r.StatusCode)
			}
			form := url.Values{"expect": {"1"}, "confirm": {"1"}}
			for k, v := range q {
				form[k] = v
			}
			if r := c.Post("/users/batch/remove", form); r.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("%s: POST answered %d", name, r.StatusCode)
			}
		}
		// Most of a megabyte (the body limit) in a posted field.
		if r := c.Post("/users/batch/remove", url.Values{"scope": {"filter"}, "q": {strings.Repeat("a", 900_000)}, "expect": {"1"}, "confirm": {"1"}}); r.StatusCode != http.StatusUnprocessableEntity && r.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("a huge search: POST answered %d", r.StatusCode)
		}
		if n := countTable(t, db, "batch_jobs"); n != 0 || reloadUser(t, db, users[0].ID).Removed() {
			t.Fatalf("hostile batches wrote %d jobs", n)
		}
	})
}

func TestUserBatch_AStoppedJobKeepsWhatItChanged(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		users := createUsers(t, db, 2)
		confirm := c.Get("/users/batch/reset-login?" + selected(users...).Encode())
		id := jobIDFrom(t, c.Post("/users/batch/reset-login", formValues(byTestID(confirm.Doc, "batch-form"))))
		path := "/batches/" + strconv.FormatInt(id, 10)

		r := c.Post(path+"/cancel", nil, htmxTo("batch-progress")...)
		wantStatus(t, r, http.StatusOK)
		if byTestID(r.Doc, "job-progress").AttrOr("data-state", "") != models.BatchCancelling || byTestID(r.Doc, "job-cancel").Length() != 0 {
			t.Fatalf("after stop: %s", byTestID(r.Doc, "job-progress").Text())
		}
		runBatches(t, db)
		page := c.Get(path)
		if byTestID(page.Doc, "job-progress").AttrOr("data-state", "") != models.BatchCancelled || byTestID(page.Doc, "job-pending").Text() != "2" {
			t.Fatalf("stopped job: %s", byTestID(page.Doc, "job-progress").Text())
		}
		// Stopping a finished job says so and changes nothing.
		r = c.Post(path+"/cancel", nil)
		wantStatus(t, r, http.StatusSeeOther)
		if n := len(auditEntries(t, db, models.ActionBatchCancel)); n != 1 {
			t.Errorf("%d cancel entries, want 1", n)
		}
		wantStatus(t, c.Get("/batches/999999"), http.StatusNotFound)
	})
}
