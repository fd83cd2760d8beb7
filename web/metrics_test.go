package web_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"ledgerdesk/metrics"
	"ledgerdesk/metrics/metricstest"
	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// withMetrics is webtest.New with the portal's metrics counting.
func withMetrics(t *testing.T, db *models.DB, opts ...func(*web.Config)) (*webtest.Harness, *metrics.Metrics) {
	t.Helper()
	m := metrics.New(db)
	h := webtest.New(t, db, append([]func(*web.Config){func(c *web.Config) { c.Metrics = m }}, opts...)...)
	return h, m
}

// counterDelta is how much name{labels} moved from before to after (a
// series absent from a scrape counts as 0).
func counterDelta(before, after metricstest.Scrape, name string, labels ...string) float64 {
	a, _ := after.Value(name, labels...)
	b, _ := before.Value(name, labels...)
	return a - b
}

// A request counts under the route pattern that served it, never its
// path: GET /users as an admin, a user's page by its pattern, and a path
// no route has under one label.
func TestMetrics_RequestsCountUnderTheirRoutePattern(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h, m := withMetrics(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		created, err := db.CreateEndUser(context.Background(), models.Origin{Actor: models.SystemActor},
			models.EndUserInput{ClientUserID: "metrics-label-probe"})
		if err != nil {
			t.Fatal(err)
		}
		userID := strconv.FormatInt(created.User.ID, 10)
		madeUp := "/no-such-page-" + models.RandomHex(6)

		before := metricstest.Get(t, m.Handler())
		wantStatus(t, admin.Get("/users"), http.StatusOK)
		wantStatus(t, admin.Get("/users/"+userID), http.StatusOK)
		wantStatus(t, admin.Get(madeUp), http.StatusNotFound)
		wantStatus(t, admin.Get("/users/"+userID+"0000"), http.StatusNotFound)
		after := metricstest.Get(t, m.Handler())

		for _, c := range []struct {
			labels []string
			want   float64
		}{
			{[]string{"route", "/users", "method", "GET", "status", "200"}, 1},
			{[]string{"route", "/users/:id<int>", "method", "GET", "status", "200"}, 1},
			{[]string{"route", "/users/:id<int>", "method", "GET", "status", "404"}, 1},
			{[]string{"route", metrics.UnmatchedRoute, "method", "GET", "status", "404"}, 1},
		} {
			if d := counterDelta(before, after, "ledgerdesk_http_requests_total", c.labels...); d != c.want {
				t.Errorf("ledgerdesk_http_requests_total%v moved by %v, want %v", c.labels, d, c.want)
			}
		}
		if d := counterDelta(before, after, "ledgerdesk_http_request_duration_seconds", "route", "/users", "method", "GET"); d != 1 {
			t.Errorf("latency of GET /users observed %v times, want 1", d)
		}
		// The sign-in itself counted under its route too.
		if n, _ := after.Value("ledgerdesk_http_requests_total", "route", "/login", "method", "POST", "status", "303"); n < 1 {
			t.Errorf("the sign-in was not counted under /login")
		}
		for _, route := range after.LabelValues("ledgerdesk_http_requests_total", "route") {
			if strings.Contains(route, userID) || strings.Contains(route, "no-such-page") {
				t.Errorf("a route label holds the request's own path: %q", route)
			}
		}
	})
}

// A failed sign-in moves the sign-in outcome counter by what failed; a
// right one by its success.
func TestMetrics_SignInOutcomesAreCounted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h, m := withMetrics(t, db)
		member, password := h.Member(t, models.RoleAuditor)
		before := metricstest.Get(t, m.Handler())

		r := h.Client(t).Post("/login", url.Values{"email": {member.EmailAddress}, "password": {"not-the-password"}})
		wantStatus(t, r, http.StatusUnauthorized)
		r = h.Client(t).Post("/login", url.Values{"email": {"nobody-" + models.RandomHex(4) + "@example.com"}, "password": {password}})
		wantStatus(t, r, http.StatusUnauthorized)
		h.Client(t).Login(member.EmailAddress, password)
		after := metricstest.Get(t, m.Handler())

		for outcome, want := range map[string]float64{"wrong_password": 1, "unknown_account": 1, "signed_in": 1, "throttled": 0} {
			if d := counterDelta(before, after, "ledgerdesk_signin_attempts_total", "step", "password", "outcome", outcome); d != want {
				t.Errorf("sign-ins %s moved by %v, want %v", outcome, d, want)
			}
		}
	})
}

// The per-address limit on credential forms counts what it refuses.
func TestMetrics_RateLimitedCredentialFormsAreCounted(t *testing.T) {
	db := testdb.SQLite(t)
	h, m := withMetrics(t, db, func(c *web.Config) { c.CredentialAttemptsPerMinute = 1 })
	c := h.Client(t)
	form := url.Values{"email": {"someone@example.com"}, "password": {"a guess"}}
	wantStatus(t, c.Post("/login", form), http.StatusUnauthorized)
	wantStatus(t, c.Post("/login", form), http.StatusTooManyRequests)
	s := metricstest.Get(t, m.Handler())
	if n, _ := s.Value("ledgerdesk_rate_limited_total", "limit", "credentials"); n != 1 {
		t.Errorf("credential limit refusals %v, want 1", n)
	}
	if n, _ := s.Value("ledgerdesk_http_requests_total", "route", "/login", "method", "POST", "status", "429"); n != 1 {
		t.Errorf("the refused POST /login counted %v times with 429, want 1", n)
	}
}

// The portal itself serves no metrics: they have their own listener.
func TestMetrics_ThePortalServesNoMetrics(t *testing.T) {
	h, _ := withMetrics(t, testdb.SQLite(t))
	admin, _ := h.SignIn(t, models.RoleAdmin)
	for _, c := range []*webtest.Client{h.Client(t), admin} {
		r := c.Get(metrics.Path)
		if r.StatusCode == http.StatusOK || strings.Contains(r.Body, "ledgerdesk_http_requests_total") {
			t.Fatalf("GET %s on the portal: %d\n%s", metrics.Path, r.StatusCode, r.Body)
		}
	}
}

// A scrape while PostgreSQL hangs (a silent network, connections open and
// nothing answered) still answers within the figures' timeout, with
// ledgerdesk_db_up 0; the next scrape does not wait again.
func TestMetrics_ScrapeWhileTheDatabaseHangs(t *testing.T) {
	_, dsn := testdb.PostgresWithDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	proxy := startPGProxy(t, target)
	u.Host = proxy.Addr()
	db, err := models.OpenPostgres(u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	testdb.Configure(t, db)

	proxy.Silence()
	defer proxy.Restore()
	m := metrics.New(db)
	for i, limit := range []time.Duration{4 * time.Second, 500 * time.Millisecond} {
		start := time.Now()
		s := metricstest.Get(t, m.Handler())
		if took := time.Since(start); took > limit {
			t.Errorf("scrape %d took %v, want under %v", i+1, took, limit)
		}
		if up, found := s.Value("ledgerdesk_db_up"); !found || up != 0 {
			t.Errorf("scrape %d: ledgerdesk_db_up = %v (found: %v), want 0", i+1, up, found)
		}
		if s["ledgerdesk_audit_chain_head_seq"] != nil || s["ledgerdesk_webhook_outbox_backlog"] != nil {
			t.Errorf("scrape %d: figures served without the database", i+1)
		}
		if s["go_goroutines"] == nil || s["ledgerdesk_db_connections"] == nil {
			t.Errorf("scrape %d: the process's own metrics are missing", i+1)
		}
	}
}
