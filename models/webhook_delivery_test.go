package models_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// outcome is how a receiver answers one attempt: a status code (0: no
// answer) and, for a failure, when to try again (nil: give up).
type outcome struct {
	status int
	next   *time.Time
}

// attemptDue claims the deliveries due at `at` and records one attempt
// for each, answered by answer; it returns the delivery ids attempted.
func attemptDue(t testing.TB, db *models.DB, at time.Time, answer func(models.ClaimedDelivery) outcome) []int64 {
	t.Helper()
	claimed, err := db.ClaimDeliveries(ctx, at, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	results := make([]models.AttemptResult, len(claimed))
	for i, c := range claimed {
		o := answer(c)
		r := models.AttemptResult{Delivery: c, AttemptedAt: at, StatusCode: o.status, Latency: 42 * time.Millisecond,
			Delivered: o.status >= 200 && o.status < 300, NextAttemptAt: o.next}
		if !r.Delivered {
			r.Error = "HTTP " + strconv.Itoa(o.status)
		}
		results[i] = r
		ids = append(ids, c.DeliveryID)
	}
	if err := db.RecordAttempts(ctx, results); err != nil {
		t.Fatal(err)
	}
	return ids
}

func deliveryPage(t testing.TB, db *models.DB, r models.DeliveryPageRequest) *models.DeliveryPage {
	t.Helper()
	page, err := db.WebhookDeliveries(ctx, r)
	if err != nil {
		t.Fatalf("deliveries %+v: %v", r, err)
	}
	return page
}

func deliveryIDs(rows []models.DeliveryRow) []int64 {
	out := make([]int64, len(rows))
	for i, d := range rows {
		out[i] = d.ID
	}
	return out
}

func TestDeliveryState_IsReadFromStatusAndAttempts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    models.WebhookDelivery
		want models.DeliveryState
	}{
		{models.WebhookDelivery{Status: models.DeliveryPending}, models.DeliveryStatePending},
		{models.WebhookDelivery{Status: models.DeliveryPending, Attempts: 3}, models.DeliveryStateFailing},
		{models.WebhookDelivery{Status: models.DeliveryDelivered, Attempts: 2}, models.DeliveryStateDelivered},
		{models.WebhookDelivery{Status: models.DeliveryFailed, Attempts: 40}, models.DeliveryStateGivenUp},
	} {
		if got := tc.d.State(); got != tc.want {
			t.Errorf("status %s, %d attempts: state %s, want %s", tc.d.Status, tc.d.Attempts, got, tc.want)
		}
	}
	for _, s := range []string{"", "PENDING", "failed", "given up", "given_up\x00", "pending "} {
		if _, ok := models.ParseDeliveryState(s); ok {
			t.Errorf("state %q accepted", s)
		}
	}
	for _, s := range models.DeliveryStates {
		if got, ok := models.ParseDeliveryState(string(s)); !ok || got != s {
			t.Errorf("state %q read as %q, %v", s, got, ok)
		}
	}
}

// One delivery in each state, as the worker leaves them: the list shows
// each with its state, the filter finds each alone, the counts agree.
func TestWebhookDeliveries_EachStateListedFilteredAndCounted(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := newEndpoint(t, db)
		for i := 0; i < 3; i++ {
			createUser(t, db, "states-"+strconv.Itoa(i), nil)
		}
		ds := deliveries(t, db)
		delivered, failing, givenUp := ds[0].ID, ds[1].ID, ds[2].ID
		at := models.Now().Add(time.Second).Truncate(time.Second)
		later := at.Add(time.Hour)
		attemptDue(t, db, at, func(d models.ClaimedDelivery) outcome {
			switch d.DeliveryID {
			case delivered:
				return outcome{status: 200}
			case failing:
				return outcome{status: 500, next: &later}
			}
			return outcome{status: 403}
		})
		createUser(t, db, "states-pending", nil)
		pending := deliveries(t, db)[3].ID

		page := deliveryPage(t, db, models.DeliveryPageRequest{EndpointID: c.Endpoint.ID})
		want := map[int64]models.DeliveryState{pending: models.DeliveryStatePending, givenUp: models.DeliveryStateGivenUp,
			failing: models.DeliveryStateFailing, delivered: models.DeliveryStateDelivered}
		if got := deliveryIDs(page.Deliveries); !slices.Equal(got, []int64{pending, givenUp, failing, delivered}) {
			t.Fatalf("deliveries %v, want one row per delivery, newest first", got)
		}
		for _, d := range page.Deliveries {
			if d.State() != want[d.ID] {
				t.Errorf("delivery %d: state %s, want %s", d.ID, d.State(), want[d.ID])
			}
			if !strings.HasPrefix(d.PublicEventID, "evt_") || d.EventType != models.EventUserCreated {
				t.Errorf("delivery %d lacks its event: %+v", d.ID, d)
			}
			// Its own attempts only, under it.
			if len(d.Recent) != d.Attempts {
				t.Errorf("delivery %d: %d attempts listed, %d made", d.ID, len(d.Recent), d.Attempts)
			}
			for _, a := range d.Recent {
				if a.DeliveryID != d.ID || a.StatusCode != d.LastStatusCode || a.LatencyMS != 42 || !a.AttemptedAt.Equal(at) {
					t.Errorf("delivery %d shows attempt %+v", d.ID, a)
				}
			}
		}
		for id, state := range want {
			got := deliveryPage(t, db, models.DeliveryPageRequest{EndpointID: c.Endpoint.ID, State: state})
			if ids := deliveryIDs(got.Deliveries); !slices.Equal(ids, []int64{id}) {
				t.Errorf("filter %s: deliveries %v, want [%d]", state, ids, id)
			}
		}
		if _, err := db.WebhookDeliveries(ctx, models.DeliveryPageRequest{EndpointID: c.Endpoint.ID, State: "failed"}); models.ErrorKind(err) != models.KindInvalid {
			t.Fatalf("an unknown state: %v", err)
		}

		s, err := db.WebhookEndpointSummaryByID(ctx, c.Endpoint.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.Pending != 1 || s.Failing != 1 || s.Delivered != 1 || s.GivenUp != 1 || s.Failures() != 2 {
			t.Fatalf("counts %+v", s.DeliveryCounts)
		}
		if s.LastDeliveredAt == nil || !s.LastDeliveredAt.Equal(at) {
			t.Fatalf("last delivered %v, want %v", s.LastDeliveredAt, at)
		}
	})
}

// countQueries counts the statements that read table, from now on.
func countQueries(t *testing.T, db *models.DB, table string) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	count := func(tx *gorm.DB) {
		if strings.Contains(tx.Statement.SQL.String(), table) {
			n.Add(1)
		}
	}
	cb := db.Gorm().Callback()
	name := "count:" + table + ":" + t.Name()
	if err := cb.Query().After("gorm:query").Register(name, count); err != nil {
		t.Fatal(err)
	}
	if err := cb.Row().After("gorm:row").Register(name, count); err != nil {
		t.Fatal(err)
	}
	return &n
}

func TestWebhookDeliveries_KeysetPagesWithTheirAttemptsInOneQuery(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := newEndpoint(t, db)
		createUser(t, db, "retried", nil)
		now := models.Now()
		tries := models.DeliveryAttemptsShown + 2
		for i := 0; i < tries; i++ {
			at := now.Add(time.Duration(i+1) * time.Hour)
			next := at.Add(time.Second)
			attemptDue(t, db, at, func(models.ClaimedDelivery) outcome { return outcome{status: 500 + i, next: &next} })
		}
		for i := 0; i < 6; i++ {
			createUser(t, db, "paged-"+strconv.Itoa(i), nil)
		}
		retried := deliveries(t, db)[0].ID
		attempts := countQueries(t, db, "webhook_attempts")

		var pages []*models.DeliveryPage
		var seen []int64
		cursor := ""
		for {
			page := deliveryPage(t, db, models.DeliveryPageRequest{EndpointID: c.Endpoint.ID, Cursor: cursor, Limit: 3})
			if (cursor == "") != (page.Prev == "") {
				t.Fatalf("page %d: Prev %q", len(pages), page.Prev)
			}
			pages = append(pages, page)
			seen = append(seen, deliveryIDs(page.Deliveries)...)
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		if n := attempts.Load(); n != int64(len(pages)) {
			t.Fatalf("%d queries of attempts for %d pages, want one a page", n, len(pages))
		}
		if len(seen) != 7 || seen[6] != retried || !slices.IsSortedFunc(seen, func(a, b int64) int { return int(b - a) }) {
			t.Fatalf("deliveries %v, want 7, newest first", seen)
		}
		last := pages[len(pages)-1].Deliveries
		d := last[len(last)-1]
		if d.Attempts != tries || len(d.Recent) != models.DeliveryAttemptsShown || d.Recent[0].Attempt != tries ||
			d.Recent[len(d.Recent)-1].Attempt != tries-models.DeliveryAttemptsShown+1 || d.Recent[0].StatusCode != 500+tries-1 {
			t.Fatalf("the retried delivery shows %d of %d attempts, newest %+v", len(d.Recent), d.Attempts, d.Recent[0])
		}
		for i := len(pages) - 1; i > 0; i-- {
			back := deliveryPage(t, db, models.DeliveryPageRequest{EndpointID: c.Endpoint.ID, Cursor: pages[i].Prev, Limit: 3})
			if !slices.Equal(deliveryIDs(back.Deliveries), deliveryIDs(pages[i-1].Deliveries)) || back.Next == "" || (back.Prev == "") != (i == 1) {
				t.Fatalf("back from page %d: %v, want %v", i, deliveryIDs(back.Deliveries), deliveryIDs(pages[i-1].Deliveries))
			}
		}

		// A filter pages the same way and keeps to its state.
		first := deliveryPage(t, db, models.DeliveryPageRequest{EndpointID: c.Endpoint.ID, State: models.DeliveryStatePending, Limit: 4})
		second := deliveryPage(t, db, models.DeliveryPageRequest{EndpointID: c.Endpoint.ID, State: models.DeliveryStatePending, Limit: 4, Cursor: first.Next})
		if len(first.Deliveries) != 4 || len(second.Deliveries) != 2 || second.Next != "" {
			t.Fatalf("pending pages of %d and %d", len(first.Deliveries), len(second.Deliveries))
		}
		for _, d := range append(first.Deliveries, second.Deliveries...) {
			if d.State() != models.DeliveryStatePending || d.ID == retried {
				t.Fatalf("the pending filter lists %+v", d.WebhookDelivery)
			}
		}
		// Another endpoint's list is its own.
		other := newEndpoint(t, db)
		if page := deliveryPage(t, db, models.DeliveryPageRequest{EndpointID: other.Endpoint.ID}); len(page.Deliveries) != 0 {
			t.Fatalf("a new endpoint lists %d deliveries", len(page.Deliveries))
		}
	})
}

func TestDeliveryCounts_FailuresAndLastSuccessPerEndpointInOneQuery(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		a := newEndpoint(t, db)
		b := newEndpoint(t, db, models.EventUserDeleted)
		quiet := newEndpoint(t, db, models.EventUserDeleted)
		if _, err := db.UpdateWebhookEndpoint(ctx, adminOrigin, quiet.Endpoint.ID, models.WebhookEndpointInput{
			URL: quiet.Endpoint.URL, Events: []string{models.EventUserDeleted}}); err != nil {
			t.Fatal(err)
		}
		users := []*models.Created{createUser(t, db, "counts-1", nil), createUser(t, db, "counts-2", nil)}
		for _, u := range users {
			if err := db.RemoveEndUser(ctx, adminOrigin, u.User.ID, u.User.ClientUserID); err != nil {
				t.Fatal(err)
			}
		}
		// a: two USER_CREATED and two USER_DELETED; b: the two USER_DELETED.
		first := models.Now().Add(time.Second).Truncate(time.Second)
		second := first.Add(time.Minute)
		next := second.Add(time.Hour)
		var aDelivered int
		attemptDue(t, db, first, func(d models.ClaimedDelivery) outcome {
			if d.EndpointID == a.Endpoint.ID && aDelivered == 0 {
				aDelivered++
				return outcome{status: 204}
			}
			return outcome{status: 500, next: &second}
		})
		attemptDue(t, db, second, func(d models.ClaimedDelivery) outcome {
			if d.EndpointID == a.Endpoint.ID && aDelivered == 1 {
				aDelivered++
				return outcome{status: 200}
			}
			if d.EndpointID == b.Endpoint.ID {
				return outcome{status: 0}
			}
			return outcome{status: 503, next: &next}
		})

		queries := countQueries(t, db, "webhook_deliveries")
		eps, err := db.WebhookEndpoints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := queries.Load(); n != 1 {
			t.Fatalf("%d queries of deliveries for %d endpoints, want one", n, len(eps))
		}
		got := map[int64]models.DeliveryCounts{}
		for _, e := range eps {
			got[e.ID] = e.DeliveryCounts
		}
		ca, cb, cq := got[a.Endpoint.ID], got[b.Endpoint.ID], got[quiet.Endpoint.ID]
		if ca.Delivered != 2 || ca.Failing != 2 || ca.GivenUp != 0 || ca.Failures() != 2 || ca.LastDeliveredAt == nil || !ca.LastDeliveredAt.Equal(second) {
			t.Errorf("endpoint a: %+v", ca)
		}
		if cb.Delivered != 0 || cb.GivenUp != 2 || cb.Failures() != 2 || cb.LastDeliveredAt != nil {
			t.Errorf("endpoint b: %+v", cb)
		}
		if cq != (models.DeliveryCounts{}) {
			t.Errorf("an endpoint without deliveries: %+v", cq)
		}
	})
}

func TestRetryDelivery_RequeuesOnlyFailingOrGivenUpAndAudits(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := newEndpoint(t, db)
		id := c.Endpoint.ID
		for i := 0; i < 3; i++ {
			createUser(t, db, "retry-"+strconv.Itoa(i), nil)
		}
		ds := deliveries(t, db)
		givenUp, failing, delivered := ds[0].ID, ds[1].ID, ds[2].ID
		at := models.Now().Add(time.Second)
		later := at.Add(time.Hour)
		attemptDue(t, db, at, func(d models.ClaimedDelivery) outcome {
			switch d.DeliveryID {
			case delivered:
				return outcome{status: 200}
			case failing:
				return outcome{status: 500, next: &later}
			}
			return outcome{status: 500}
		})
		createUser(t, db, "retry-pending", nil)
		pending := deliveries(t, db)[3].ID

		for _, d := range []int64{delivered, pending} {
			if err := db.RetryDelivery(ctx, adminOrigin, id, d); models.ErrorKind(err) != models.KindConflict {
				t.Fatalf("retry of delivery %d: %v", d, err)
			}
		}
		if err := db.RetryDelivery(ctx, adminOrigin, id+1000, givenUp); models.ErrorKind(err) != models.KindNotFound {
			t.Fatalf("retry through another endpoint: %v", err)
		}
		if n := len(entriesWithAction(t, db, "webhook.retry")); n != 0 {
			t.Fatalf("%d webhook.retry entries for refused retries", n)
		}
		for _, d := range []int64{givenUp, failing} {
			if err := db.RetryDelivery(ctx, adminOrigin, id, d); err != nil {
				t.Fatal(err)
			}
		}
		// Both are due now; the given-up one gets its one more attempt.
		again, err := db.ClaimDeliveries(ctx, models.Now().Add(time.Second), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]int{}
		for _, a := range again {
			got[a.DeliveryID] = a.Attempt
		}
		if len(again) != 3 || got[givenUp] != 2 || got[failing] != 2 || got[pending] != 1 {
			t.Fatalf("claimed after retry: %v", got)
		}
		var events []models.WebhookEvent
		db.Gorm().Order("id").Find(&events)
		es := entriesWithAction(t, db, "webhook.retry")
		if len(es) != 2 || es[0].TargetID != strconv.FormatInt(id, 10) || !strings.Contains(es[0].Diff, `"given_up"`) ||
			!strings.Contains(es[0].Diff, events[0].EventID) || !strings.Contains(es[1].Diff, `"delivery":`+strconv.FormatInt(failing, 10)) ||
			!strings.Contains(es[1].Diff, "next_attempt_at") {
			t.Fatalf("webhook.retry entries %+v", es)
		}
	})
}

func TestSendWebhookTestEvent_QueuesForThatEndpointOnlyAudited(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		target := newEndpoint(t, db, models.EventUserDeleted)
		bystander := newEndpoint(t, db)
		eventID, err := db.SendWebhookTestEvent(ctx, adminOrigin, target.Endpoint.ID)
		if err != nil {
			t.Fatal(err)
		}
		events := outboxEvents(t, db)
		if len(events) != 1 || events[0].EventID != eventID || events[0].EventType != models.EventWebhookTest {
			t.Fatalf("outbox %+v, want the one test event %s", events, eventID)
		}
		var body models.WebhookTestPayload
		if err := json.Unmarshal([]byte(events[0].Payload), &body); err != nil || body.EndpointID != target.Endpoint.ID || body.Created == "" {
			t.Fatalf("payload %s: %v", events[0].Payload, err)
		}
		ds := deliveries(t, db)
		if len(ds) != 1 || ds[0].EndpointID != target.Endpoint.ID || ds[0].EventID != events[0].ID || ds[0].State() != models.DeliveryStatePending {
			t.Fatalf("deliveries %+v, want one to endpoint %d", ds, target.Endpoint.ID)
		}
		es := entriesWithAction(t, db, "webhook.test")
		if len(es) != 1 || es[0].TargetID != strconv.FormatInt(target.Endpoint.ID, 10) || !strings.Contains(es[0].Diff, eventID) {
			t.Fatalf("webhook.test entries %+v", es)
		}
		// Ordinary events still go to their subscribers only.
		createUser(t, db, "after-test", nil)
		ds = deliveries(t, db)
		if len(ds) != 2 || ds[1].EndpointID != bystander.Endpoint.ID {
			t.Fatalf("deliveries after a USER_CREATED: %+v", ds)
		}

		// A disabled endpoint is sent nothing, so it is refused a test.
		if _, err := db.UpdateWebhookEndpoint(ctx, adminOrigin, target.Endpoint.ID, models.WebhookEndpointInput{
			URL: target.Endpoint.URL, Events: []string{models.EventUserDeleted}}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SendWebhookTestEvent(ctx, adminOrigin, target.Endpoint.ID); models.ErrorKind(err) != models.KindConflict {
			t.Fatalf("a test to a disabled endpoint: %v", err)
		}
		if _, err := db.SendWebhookTestEvent(ctx, adminOrigin, target.Endpoint.ID+1000); models.ErrorKind(err) != models.KindNotFound {
			t.Fatalf("a test to no endpoint: %v", err)
		}
		if n := countRows(t, db, "webhook_events"); n != 2 {
			t.Fatalf("%d events after refused tests, want 2", n)
		}
		if n := len(entriesWithAction(t, db, "webhook.test")); n != 1 {
			t.Fatalf("%d webhook.test entries", n)
		}
	})
}
