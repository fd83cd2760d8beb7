package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"ledgerdesk/models"
	"ledgerdesk/models/querytrace"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// tracedHarness is the app with tracing on, its spans kept in memory, and
// the database's statements traced too, as serve sets them up.
func tracedHarness(t *testing.T, db *models.DB, opts ...func(*web.Config)) (*webtest.Harness, *tracetest.InMemoryExporter) {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	db.WatchQueries(querytrace.Settings{Tracing: tp})
	opts = append(opts, func(c *web.Config) { c.Tracing = tp })
	return webtest.New(t, db, opts...), spans
}

// serverSpan is the one request span among spans.
func serverSpan(t *testing.T, spans []tracetest.SpanStub) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindServer {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d request spans, want 1: %v", len(found), spanNames(spans))
	}
	return found[0]
}

func spanNames(spans []tracetest.SpanStub) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func spanAttrs(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// everyText is all the text the spans carry: names, attributes, events,
// statuses.
func everyText(spans []tracetest.SpanStub) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintln(&b, s.Name, s.Status.Description)
		for _, kv := range s.Attributes {
			fmt.Fprintln(&b, kv.Key, kv.Value.String())
		}
		for _, e := range s.Events {
			fmt.Fprintln(&b, e.Name)
			for _, kv := range e.Attributes {
				fmt.Fprintln(&b, kv.Key, kv.Value.String())
			}
		}
	}
	return b.String()
}

func TestTracing_ARequestIsASpanNamedAfterItsRouteWithItsStatementsBeneath(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h, spans := tracedHarness(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		secret := "s3cret-" + models.RandomHex(6)
		created, err := db.CreateEndUser(context.Background(), models.Origin{Actor: models.SystemActor},
			models.EndUserInput{ClientUserID: secret})
		if err != nil {
			t.Fatal(err)
		}
		id := created.User.ID

		spans.Reset()
		r := c.Get(fmt.Sprintf("/users/%d", id))
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET /users/%d: %d", id, r.StatusCode)
		}
		got := spans.GetSpans()
		req := serverSpan(t, got)
		attrs := spanAttrs(req.Attributes)
		if req.Name != "GET /users/:id<int>" || attrs["http.route"] != "/users/:id<int>" ||
			attrs["http.request.method"] != "GET" || attrs["http.response.status_code"] != "200" {
			t.Errorf("request span %q %v, want GET /users/:id<int> with its route, method and status", req.Name, attrs)
		}
		if attrs["ledgerdesk.request_id"] == "" || attrs["ledgerdesk.request_id"] != r.Header.Get("X-Request-Id") {
			t.Errorf("request span's request id %q, want the response's %q", attrs["ledgerdesk.request_id"], r.Header.Get("X-Request-Id"))
		}
		if req.Parent.IsValid() {
			t.Errorf("a request without traceparent has parent %v", req.Parent)
		}

		// Its statements (the session, the user, the items, the history)
		// are its children, in its trace.
		var statements []string
		for _, s := range got {
			if s.SpanKind != trace.SpanKindClient {
				continue
			}
			if s.Parent.SpanID() != req.SpanContext.SpanID() || s.SpanContext.TraceID() != req.SpanContext.TraceID() {
				t.Errorf("statement span %q is not a child of the request span", s.Name)
			}
			statements = append(statements, spanAttrs(s.Attributes)["db.query.text"])
		}
		if len(statements) < 3 || !strings.Contains(strings.Join(statements, "\n"), "FROM end_users WHERE id = ") ||
			!strings.Contains(strings.Join(statements, "\n"), "FROM sessions") {
			t.Fatalf("want the session and the user's statements under the request, got:\n%s", strings.Join(statements, "\n"))
		}

		// No id from the path, no value from a parameter.
		texts := everyText(got)
		if strings.Contains(texts, fmt.Sprintf("/users/%d", id)) || strings.Contains(texts, secret) {
			t.Fatalf("the spans carry the path or a value:\n%s", texts)
		}

		// A search: its term is in the query string and in the statements'
		// parameters, and in no span.
		spans.Reset()
		if r := c.Get("/users?q=" + secret); r.StatusCode != http.StatusOK {
			t.Fatalf("search: %d", r.StatusCode)
		}
		got = spans.GetSpans()
		if req := serverSpan(t, got); req.Name != "GET /users" {
			t.Errorf("search span %q, want GET /users", req.Name)
		}
		if len(got) < 3 {
			t.Errorf("the search's statements were not traced: %v", spanNames(got))
		}
		if texts := everyText(got); strings.Contains(texts, secret) {
			t.Fatalf("the search term reached a span:\n%s", texts)
		}
	})
}

func TestTracing_AnUnknownPathNamesNoRoute(t *testing.T) {
	h, spans := tracedHarness(t, testdb.SQLite(t))
	h.Client(t).Get("/no/such/s3cret-path")
	req := serverSpan(t, spans.GetSpans())
	if req.Name != "GET" || spanAttrs(req.Attributes)["http.response.status_code"] != "404" {
		t.Errorf("span %q %v, want GET with status 404", req.Name, spanAttrs(req.Attributes))
	}
	if strings.Contains(everyText(spans.GetSpans()), "s3cret-path") {
		t.Error("a path reached a span")
	}
}

// A client's traceparent is linked to, never the parent: the client
// chooses neither the trace nor whether it is recorded.
func TestTracing_AClientsTraceparentIsOnlyLinked(t *testing.T) {
	h, spans := tracedHarness(t, testdb.SQLite(t))
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, flags := range []string{"01", "00"} {
		spans.Reset()
		h.Client(t).Get("/login", "traceparent", "00-"+callerTrace+"-"+callerSpan+"-"+flags, "tracestate", "k=v")
		req := serverSpan(t, spans.GetSpans())
		if req.Parent.IsValid() || req.SpanContext.TraceID().String() == callerTrace {
			t.Errorf("flags %s: the client's traceparent became the parent (%v)", flags, req.Parent)
		}
		if len(req.Links) != 1 || req.Links[0].SpanContext.TraceID().String() != callerTrace ||
			req.Links[0].SpanContext.SpanID().String() != callerSpan || req.Links[0].SpanContext.TraceState().Len() != 0 {
			t.Errorf("flags %s: links %+v, want one to the caller's span, without its tracestate", flags, req.Links)
		}
	}
	// A malformed header is ignored.
	for _, bad := range []string{
		"00-" + strings.Repeat("0", 32) + "-" + callerSpan + "-01", // no trace
		"ff-" + callerTrace + "-" + callerSpan + "-01",             // a version that cannot be
		"00-" + callerTrace + "-" + callerSpan + "-01-" + strings.Repeat("x", 8000),
		"00-\xff\xfe" + callerTrace[4:] + "-" + callerSpan + "-01",
		"00-" + callerTrace + "-" + callerSpan + "-01\x00",
	} {
		spans.Reset()
		h.Client(t).Get("/login", "traceparent", bad)
		if req := serverSpan(t, spans.GetSpans()); req.Parent.IsValid() || len(req.Links) != 0 {
			t.Errorf("traceparent %.60q was taken: parent %v, links %v", bad, req.Parent, req.Links)
		}
	}
}

// From a trusted proxy, the traceparent makes the request part of the
// proxy's trace, its sampling decision included.
func TestTracing_ATrustedProxysTraceparentIsTheParent(t *testing.T) {
	h, spans := tracedHarness(t, testdb.SQLite(t), func(c *web.Config) { c.TrustedProxies = []string{webtest.ClientIP} })
	const proxyTrace, proxySpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	h.Client(t).Get("/login", "traceparent", "00-"+proxyTrace+"-"+proxySpan+"-01")
	req := serverSpan(t, spans.GetSpans())
	if req.SpanContext.TraceID().String() != proxyTrace || req.Parent.SpanID().String() != proxySpan || !req.Parent.IsRemote() {
		t.Errorf("trace %s parent %v, want the proxy's trace and span", req.SpanContext.TraceID(), req.Parent)
	}
	spans.Reset()
	h.Client(t).Get("/login", "traceparent", "00-"+proxyTrace+"-"+proxySpan+"-00")
	if n := len(spans.GetSpans()); n != 0 {
		t.Errorf("%d spans recorded for a request the proxy did not sample, want none", n)
	}
}
