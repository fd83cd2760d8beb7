package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
	"ledgerdesk/webhooks"
)

// answer is how a receiver answered an attempt: a status (0: none, with
// err) and when to try again (nil: give up).
type answer struct {
	status int
	err    string
	next   *time.Time
}

// attemptDue records one attempt at `at` for every delivery due then, as
// the worker would after the receiver answered each as answerOf says.
func attemptDue(t *testing.T, db *models.DB, at time.Time, answerOf func(deliveryID int64) answer) {
	t.Helper()
	ctx := context.Background()
	claimed, err := db.ClaimDeliveries(ctx, at, time.Minute, 500)
	if err != nil {
		t.Fatal(err)
	}
	results := make([]models.AttemptResult, len(claimed))
	for i, c := range claimed {
		a := answerOf(c.DeliveryID)
		results[i] = models.AttemptResult{Delivery: c, AttemptedAt: at, StatusCode: a.status, Latency: 87 * time.Millisecond,
			Delivered: a.status >= 200 && a.status < 300, Error: a.err, NextAttemptAt: a.next}
	}
	if err := db.RecordAttempts(ctx, results); err != nil {
		t.Fatal(err)
	}
}

// deliveryFixture is an endpoint with one delivery in each state.
type deliveryFixture struct {
	endpoint                             models.WebhookEndpointSummary
	path                                 string // its deliveries page
	givenUp, failing, delivered, pending int64
	deliveredAt                          time.Time
}

// newDeliveryFixture makes, through an admin's form, an endpoint whose
// receiver answered three events so: one given up after a 500 and a
// timeout, one failing with 403 twice, one delivered on its second try
// after a 500; a fourth is not attempted yet.
func newDeliveryFixture(t *testing.T, db *models.DB, c *webtest.Client) deliveryFixture {
	t.Helper()
	wantStatus(t, c.Post("/webhooks", webhookForm(publicURL, models.EventUserCreated)), http.StatusCreated)
	f := deliveryFixture{endpoint: onlyEndpoint(t, db)}
	f.path = "/webhooks/" + strconv.FormatInt(f.endpoint.ID, 10) + "/deliveries"
	for range 3 {
		createUser(t, db, nil)
	}
	var ids []int64
	db.Gorm().Model(&models.WebhookDelivery{}).Order("id").Pluck("id", &ids)
	f.givenUp, f.failing, f.delivered = ids[0], ids[1], ids[2]
	first := models.Now().Add(time.Second).Truncate(time.Second)
	second, third := first.Add(time.Minute), first.Add(time.Hour)
	attemptDue(t, db, first, func(id int64) answer {
		if id == f.failing {
			return answer{status: 403, err: "HTTP 403", next: &second}
		}
		return answer{status: 500, err: "HTTP 500", next: &second}
	})
	attemptDue(t, db, second, func(id int64) answer {
		switch id {
		case f.failing:
			return answer{status: 403, err: "HTTP 403", next: &third}
		case f.delivered:
			return answer{status: 200}
		}
		return answer{err: "timed out"}
	})
	f.deliveredAt = second
	createUser(t, db, nil)
	db.Gorm().Model(&models.WebhookDelivery{}).Select("MAX(id)").Scan(&f.pending)
	return f
}

func deliveryRow(t *testing.T, doc *goquery.Document, id int64) *goquery.Selection {
	t.Helper()
	row := byTestID(doc, "delivery-row").FilterFunction(func(_ int, s *goquery.Selection) bool {
		return s.AttrOr("data-delivery-id", "") == strconv.FormatInt(id, 10)
	})
	if row.Length() != 1 {
		t.Fatalf("%d rows for delivery %d", row.Length(), id)
	}
	return row
}

func textOf(s *goquery.Selection, testid string) string {
	return strings.TrimSpace(s.Find(`[data-testid="` + testid + `"]`).Text())
}

func TestWebhookDeliveries_OneRowPerEventWithItsStateAndAttemptsBeneath(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		f := newDeliveryFixture(t, db, c)

		page := c.Get(f.path)
		wantStatus(t, page, http.StatusOK)
		if got := attrsOf("delivery-row", "data-delivery-id")(page.Doc); !slices.Equal(got, []string{
			strconv.FormatInt(f.pending, 10), strconv.FormatInt(f.delivered, 10),
			strconv.FormatInt(f.failing, 10), strconv.FormatInt(f.givenUp, 10)}) {
			t.Fatalf("rows %v, want one per delivery, newest first", got)
		}
		for _, tc := range []struct {
			id       int64
			state    string
			label    string
			last     string
			statuses []string // the attempts beneath, newest first
			retry    bool
		}{
			{f.pending, "pending", "Pending", "", nil, false},
			{f.delivered, "delivered", "Delivered", "HTTP 200", []string{"200", "500"}, false},
			{f.failing, "failing", "Failing", "HTTP 403", []string{"403", "403"}, true},
			{f.givenUp, "given_up", "Given up", "timed out", []string{"—", "500"}, true},
		} {
			row := deliveryRow(t, page.Doc, tc.id)
			badge := row.Find(`[data-testid="delivery-state"]`)
			if row.AttrOr("data-state", "") != tc.state || badge.AttrOr("data-state", "") != tc.state || strings.TrimSpace(badge.Text()) != tc.label {
				t.Errorf("delivery %d: state %q, badge %q, want %s", tc.id, row.AttrOr("data-state", ""), badge.Text(), tc.state)
			}
			if got := textOf(row, "delivery-last-response"); got != tc.last {
				t.Errorf("delivery %d: last response %q, want %q", tc.id, got, tc.last)
			}
			if got, want := textOf(row, "delivery-attempt-count"), strconv.Itoa(len(tc.statuses))+" attempts"; got != want {
				t.Errorf("delivery %d: %q, want %q", tc.id, got, want)
			}
			if !strings.HasPrefix(textOf(row, "delivery-event"), "evt_") || textOf(row, "delivery-event-type") != models.EventUserCreated {
				t.Errorf("delivery %d: event %q %q", tc.id, textOf(row, "delivery-event"), textOf(row, "delivery-event-type"))
			}
			// The attempts are in a <details> beneath the row's summary.
			details := row.Find(`details[data-testid="delivery-attempts"]`)
			if details.Length() != 1 || details.Find("summary").Length() != 1 {
				t.Fatalf("delivery %d: no attempts to open", tc.id)
			}
			var statuses []string
			details.Find(`[data-testid="attempt-row"]`).Each(func(_ int, a *goquery.Selection) {
				statuses = append(statuses, textOf(a, "attempt-status"))
				if !strings.HasSuffix(textOf(a, "attempt-latency"), " ms") || textOf(a, "attempt-time") == "" {
					t.Errorf("delivery %d: attempt without latency or time: %s", tc.id, a.Text())
				}
			})
			if !slices.Equal(statuses, tc.statuses) {
				t.Errorf("delivery %d: attempts %v, want %v", tc.id, statuses, tc.statuses)
			}
			if len(tc.statuses) == 0 && details.Find(`[data-testid="attempt-none"]`).Length() != 1 {
				t.Errorf("delivery %d: no word that it was not attempted", tc.id)
			}
			if n := row.Find(`[data-testid="delivery-retry"]`).Length(); (n == 1) != tc.retry || n > 1 {
				t.Errorf("delivery %d: %d Retry buttons, want retry=%v", tc.id, n, tc.retry)
			}
		}
		if got := textOf(deliveryRow(t, page.Doc, f.givenUp), "attempt-error"); !strings.Contains(got, "timed out") {
			t.Errorf("given-up delivery's errors %q", got)
		}
		// Every Retry form carries a CSRF token (masked anew in each) and posts
		// to its own delivery.
		byTestID(page.Doc, "delivery-retry-form").Each(func(_ int, form *goquery.Selection) {
			id := form.Closest(`[data-testid="delivery-row"]`).AttrOr("data-delivery-id", "")
			if form.AttrOr("method", "") != "post" || form.AttrOr("action", "") != f.path+"/"+id+"/retry" ||
				form.Find(`input[name="_csrf"]`).AttrOr("value", "") == "" {
				t.Errorf("retry form %s: action %q", id, form.AttrOr("action", ""))
			}
		})
	})
}

func TestWebhookDeliveries_FilterByStateKeepsItAcrossPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		f := newDeliveryFixture(t, db, c)

		for state, want := range map[string]int64{"pending": f.pending, "delivered": f.delivered, "failing": f.failing, "given_up": f.givenUp} {
			page := c.Get(f.path + "?state=" + state)
			wantStatus(t, page, http.StatusOK)
			got := attrsOf("delivery-row", "data-delivery-id")(page.Doc)
			if !slices.Equal(got, []string{strconv.FormatInt(want, 10)}) {
				t.Errorf("state %s lists %v, want [%d]", state, got, want)
			}
			link := byTestID(page.Doc, "state-filter-"+state)
			if link.AttrOr("aria-current", "") != "page" || !strings.HasSuffix(strings.TrimSpace(link.Text()), "1") {
				t.Errorf("state %s: filter link %q not marked current", state, link.Text())
			}
		}
		all := c.Get(f.path)
		if byTestID(all.Doc, "state-filter-all").AttrOr("aria-current", "") != "page" || byTestID(all.Doc, "delivery-row").Length() != 4 {
			t.Fatal("the unfiltered page")
		}
		foreign := c.Get(f.path + "?state=pending&cursor=" + url.QueryEscape(models.AuditCursorBefore(5)))
		wantStatus(t, foreign, http.StatusUnprocessableEntity)

		// Enough pending deliveries for two pages: the pager keeps the filter.
		more := models.DeliveryPageSize + 2
		for range more {
			createUser(t, db, nil)
		}
		var ids []int64
		db.Gorm().Model(&models.WebhookDelivery{}).Where("attempts = 0").Order("id DESC").Pluck("id", &ids)
		var want []string
		for _, id := range ids {
			want = append(want, strconv.FormatInt(id, 10))
		}
		filter := url.Values{"state": {"pending"}}
		on, back := pagerWalk(t, c, f.path+"?state=pending", filter, "", attrsOf("delivery-row", "data-delivery-id"))
		wantWalk(t, on, back, want, models.DeliveryPageSize)
		if len(want) != more+1 {
			t.Fatalf("%d pending deliveries, want %d", len(want), more+1)
		}
	})
}

func TestWebhookDeliveries_UnknownOrHostileStateIs400(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		f := newDeliveryFixture(t, db, c)
		for _, state := range []string{"failed", "PENDING", "given up", "pending\x00", "\x00", "\xff\xfe", "<script>alert(1)</script>",
			strings.Repeat("a", 4000), "pending&state=failing"} {
			r := c.Get(f.path + "?state=" + url.QueryEscape(state))
			wantStatus(t, r, http.StatusBadRequest)
			if byTestID(r.Doc, "error-page").Length() != 1 || !strings.Contains(r.Body, "given_up") {
				t.Fatalf("state %q: no explanation\n%s", state, r.Body)
			}
			if strings.Contains(r.Body, "<script>alert") || strings.Contains(r.Body, "aaaaaaaaaa") {
				t.Fatalf("state %q is shown back", state)
			}
		}
		// Empty is every state.
		wantStatus(t, c.Get(f.path+"?state="), http.StatusOK)
	})
}

func TestWebhookDeliveryRetry_RequeuesFailingAndGivenUpAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, admin := h.SignIn(t, models.RoleAdmin)
		f := newDeliveryFixture(t, db, c)
		retry := func(c *webtest.Client, id int64, form url.Values) *webtest.Response {
			return c.Post(f.path+"/"+strconv.FormatInt(id, 10)+"/retry", form)
		}

		before := statusOfDelivery(t, db, strconv.FormatInt(f.failing, 10))
		r := retry(c, f.failing, url.Values{"state": {"failing"}})
		wantRedirect(t, r, f.path+"?state=failing")
		after := statusOfDelivery(t, db, strconv.FormatInt(f.failing, 10))
		if !after.NextAttemptAt.Before(before.NextAttemptAt) || after.State() != models.DeliveryStateFailing {
			t.Fatalf("retry did not bring the attempt forward: %v → %v", before.NextAttemptAt, after.NextAttemptAt)
		}
		page := c.Get(r.Header.Get("Location"))
		if !strings.Contains(byTestID(page.Doc, "flash").Text(), "will be retried") {
			t.Fatalf("no word of the retry:\n%s", page.Body)
		}

		wantRedirect(t, retry(c, f.givenUp, url.Values{"state": {"bogus\x00"}}), f.path)
		if d := statusOfDelivery(t, db, strconv.FormatInt(f.givenUp, 10)); d.State() != models.DeliveryStateFailing {
			t.Fatalf("a given-up delivery after retry: %s", d.State())
		}
		// The worker takes both at once.
		claimed, err := db.ClaimDeliveries(context.Background(), models.Now().Add(time.Second), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		var due []int64
		for _, d := range claimed {
			due = append(due, d.DeliveryID)
		}
		slices.Sort(due)
		if !slices.Equal(due, []int64{f.givenUp, f.failing, f.pending}) {
			t.Fatalf("due after retries: %v", due)
		}
		if err := db.ReleaseDeliveries(context.Background(), claimed); err != nil {
			t.Fatal(err)
		}
		es := auditEntries(t, db, "webhook.retry")
		if len(es) != 2 || es[0].ActorID != admin.ID || es[0].TargetID != strconv.FormatInt(f.endpoint.ID, 10) ||
			!strings.Contains(es[0].Diff, `"delivery":`+strconv.FormatInt(f.failing, 10)) {
			t.Fatalf("webhook.retry entries %+v", es)
		}

		// Nothing to retry in a delivered or a not yet attempted delivery.
		for _, id := range []int64{f.delivered, f.pending} {
			wantStatus(t, retry(c, id, nil), http.StatusConflict)
		}
		other := c.Post("/webhooks/"+strconv.FormatInt(f.endpoint.ID+99, 10)+"/deliveries/"+strconv.FormatInt(f.failing, 10)+"/retry", nil)
		wantStatus(t, other, http.StatusNotFound)
		// Without the CSRF token, refused.
		wantStatus(t, c.PostRaw(f.path+"/"+strconv.FormatInt(f.failing, 10)+"/retry", url.Values{}), http.StatusForbidden)
		for _, role := range []models.Role{models.RoleCompliance, models.RoleAuditor} {
			rc, _ := h.SignIn(t, role)
			wantStatus(t, retry(rc, f.failing, nil), http.StatusForbidden)
			wantStatus(t, rc.Get(f.path), http.StatusForbidden)
		}
		if n := len(auditEntries(t, db, "webhook.retry")); n != 2 {
			t.Fatalf("%d webhook.retry entries after refused retries", n)
		}
	})
}

func TestWebhookList_ShowsFailuresAndLastSuccessPerEndpoint(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		f := newDeliveryFixture(t, db, c)
		wantStatus(t, c.Post("/webhooks", webhookForm(publicURL+"/quiet", models.EventUserDeleted)), http.StatusCreated)

		list := c.Get("/webhooks")
		wantStatus(t, list, http.StatusOK)
		if head := list.Doc.Find(`[data-testid="webhook-table"] thead`).Text(); !strings.Contains(head, "Failing or given up") || !strings.Contains(head, "Last delivered") {
			t.Fatalf("header %q", head)
		}
		rows := byTestID(list.Doc, "webhook-row")
		if rows.Length() != 2 {
			t.Fatalf("%d rows", rows.Length())
		}
		busy, quiet := rows.Eq(0), rows.Eq(1)
		if busy.AttrOr("data-webhook-id", "") != strconv.FormatInt(f.endpoint.ID, 10) {
			t.Fatal("rows out of order")
		}
		if textOf(busy, "webhook-failures") != "2" || textOf(busy, "webhook-failing") != "1 failing" || textOf(busy, "webhook-given-up") != "1 given up" {
			t.Errorf("failures %q (%q, %q)", textOf(busy, "webhook-failures"), textOf(busy, "webhook-failing"), textOf(busy, "webhook-given-up"))
		}
		if href := busy.Find(`[data-testid="webhook-failing"]`).AttrOr("href", ""); href != f.path+"?state=failing" {
			t.Errorf("failing link %q", href)
		}
		last := busy.Find(`[data-testid="webhook-last-delivered"] time`)
		if got, want := last.AttrOr("datetime", ""), f.deliveredAt.UTC().Format(time.RFC3339); got != want || utcTitle(last) != f.deliveredAt.UTC().Format("2006-01-02 15:04:05 UTC") {
			t.Errorf("last delivered at %q (%s), want %q", got, utcTitle(last), want)
		}
		// The fixture's delivery is a minute ahead of the clock, less the
		// time the fixture took.
		if got := text(last); got != "in 1 minute" && got != "in under a minute" {
			t.Errorf("last delivered %q, want in 1 minute", got)
		}
		if textOf(quiet, "webhook-failures") != "0" || textOf(quiet, "webhook-last-delivered") != "never" ||
			quiet.Find(`[data-testid="webhook-failing"]`).Length() != 0 {
			t.Errorf("an endpoint without deliveries: %q, %q", textOf(quiet, "webhook-failures"), textOf(quiet, "webhook-last-delivered"))
		}
		show := c.Get("/webhooks/" + strconv.FormatInt(f.endpoint.ID, 10))
		if got := byTestID(show.Doc, "webhook-counts").Text(); got != "1 pending · 1 failing · 1 delivered · 1 given up" {
			t.Errorf("endpoint page counts %q", got)
		}
	})
}

// testReceiver records the requests an endpoint receives.
type testReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []receivedRequest
}

type receivedRequest struct {
	header http.Header
	body   []byte
}

func newTestReceiver(t *testing.T) *testReceiver {
	r := &testReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, receivedRequest{req.Header.Clone(), body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *testReceiver) requests() []receivedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func TestWebhookTestEvent_QueuedForThatEndpointAndDeliveredSigned(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		open := &webhooks.Guard{AllowPrivate: true}
		h := webtest.New(t, db, func(cfg *web.Config) { cfg.WebhookGuard = open })
		c, admin := h.SignIn(t, models.RoleAdmin)
		target, bystander := newTestReceiver(t), newTestReceiver(t)
		secret := createdSecret(t, c.Post("/webhooks", webhookForm(target.srv.URL+"/hook", models.EventUserDeleted)))
		createdSecret(t, c.Post("/webhooks", webhookForm(bystander.srv.URL+"/hook", models.EventUserCreated, models.EventUserDeleted)))
		eps, _ := db.WebhookEndpoints(context.Background())
		id := strconv.FormatInt(eps[0].ID, 10)

		show := c.Get("/webhooks/" + id)
		form := byTestID(show.Doc, "webhook-test-form")
		if form.AttrOr("action", "") != "/webhooks/"+id+"/test-event" || form.Find(`input[name="_csrf"]`).Length() != 1 ||
			byTestID(show.Doc, "webhook-send-test").Length() != 1 {
			t.Fatalf("no Send test event form:\n%s", show.Body)
		}
		r := c.Post("/webhooks/"+id+"/test-event", nil)
		wantRedirect(t, r, "/webhooks/"+id)
		page := c.Get(r.Header.Get("Location"))
		flash := byTestID(page.Doc, "flash")
		if !strings.Contains(flash.Text(), "Test event evt_") || !strings.Contains(flash.Text(), "queued") ||
			flash.Find(`[data-testid="flash-link"]`).AttrOr("href", "") != "/webhooks/"+id+"/deliveries" {
			t.Fatalf("flash %q:\n%s", flash.Text(), page.Body)
		}
		es := auditEntries(t, db, "webhook.test")
		if len(es) != 1 || es[0].ActorID != admin.ID || es[0].TargetID != id {
			t.Fatalf("webhook.test entries %+v", es)
		}

		w := &webhooks.Worker{DB: db, Guard: open, Logger: webtest.Logger()}
		if n, err := w.RunOnce(context.Background()); err != nil || n != 1 {
			t.Fatalf("worker round: %d, %v", n, err)
		}
		got := target.requests()
		if len(got) != 1 || len(bystander.requests()) != 0 {
			t.Fatalf("the endpoint received %d requests, the other %d; want 1 and 0", len(got), len(bystander.requests()))
		}
		req := got[0]
		if req.header.Get(webhooks.HeaderEventType) != models.EventWebhookTest || !strings.Contains(es[0].Diff, req.header.Get(webhooks.HeaderID)) {
			t.Fatalf("event %q, id %q", req.header.Get(webhooks.HeaderEventType), req.header.Get(webhooks.HeaderID))
		}
		if err := webhooks.Verify(secret, req.header, req.body, 5*time.Minute, time.Now()); err != nil {
			t.Fatalf("the test event does not verify with the endpoint's secret: %v", err)
		}
		if !strings.Contains(string(req.body), `"endpoint_id":`+id) {
			t.Fatalf("body %s", req.body)
		}
		deliveries := c.Get("/webhooks/" + id + "/deliveries")
		row := byTestID(deliveries.Doc, "delivery-row")
		if row.Length() != 1 || row.AttrOr("data-state", "") != "delivered" || textOf(row, "delivery-event-type") != models.EventWebhookTest {
			t.Fatalf("deliveries page after the test:\n%s", deliveries.Body)
		}

		// Admins only, with the token, to an enabled endpoint.
		for _, role := range []models.Role{models.RoleCompliance, models.RoleAuditor} {
			rc, _ := h.SignIn(t, role)
			wantStatus(t, rc.Post("/webhooks/"+id+"/test-event", nil), http.StatusForbidden)
		}
		wantStatus(t, c.PostRaw("/webhooks/"+id+"/test-event", url.Values{}), http.StatusForbidden)
		wantRedirect(t, c.Post("/webhooks/"+id, url.Values{"url": {target.srv.URL + "/hook"}, "events": {models.EventUserDeleted}}), "/webhooks/"+id)
		if byTestID(c.Get("/webhooks/"+id).Doc, "webhook-test-form").Length() != 0 {
			t.Fatal("a disabled endpoint offers a test event")
		}
		wantStatus(t, c.Post("/webhooks/"+id+"/test-event", nil), http.StatusConflict)
		if n := len(auditEntries(t, db, "webhook.test")); n != 1 {
			t.Fatalf("%d webhook.test entries after refused tests", n)
		}
		var events int64
		db.Gorm().Model(&models.WebhookEvent{}).Count(&events)
		if events != 1 {
			t.Fatalf("%d events after refused tests", events)
		}
	})
}
