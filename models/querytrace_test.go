package models_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"ledgerdesk/models"
	"ledgerdesk/models/querytrace"
	"ledgerdesk/models/testdb"
)

// secretStatements runs statements on every path a statement takes to the
// database, each carrying secret as a parameter value: a query GORM
// builds, a GORM Raw scanned with Scan (which records its statement its
// own way), a fixed lookup on the fast path, the users list (GORM-built,
// run by pgx on PostgreSQL) and an audited create whose INSERT goes to
// the connection directly.
func secretStatements(t *testing.T, db *models.DB, ctx context.Context, secret string) {
	t.Helper()
	var users []models.EndUser
	if err := db.Gorm().WithContext(ctx).Where("client_user_id = ?", secret).Find(&users).Error; err != nil {
		t.Fatalf("GORM query: %v", err)
	}
	var n int64
	if err := db.Gorm().WithContext(ctx).Raw("SELECT count(*) FROM end_users WHERE client_user_id = ?", secret).Scan(&n).Error; err != nil {
		t.Fatalf("GORM Raw Scan: %v", err)
	}
	if _, err := db.EndUserByUserID(ctx, "usr-"+secret); err == nil {
		t.Fatal("a user_id nobody has was found")
	}
	if _, err := db.ListEndUsers(ctx, models.UserPageRequest{Filter: models.UserFilter{Search: secret}, Limit: 25}); err != nil {
		t.Fatalf("users list: %v", err)
	}
	if _, err := db.CreateEndUser(ctx, systemOrigin, models.EndUserInput{ClientUserID: secret, Identity: carmen()}); err != nil {
		t.Fatalf("create end user: %v", err)
	}
}

type slowLine struct {
	Level      string  `json:"level"`
	Msg        string  `json:"msg"`
	SQL        string  `json:"sql"`
	DurationMS float64 `json:"duration_ms"`
	Rows       *int64  `json:"rows"`
	Error      string  `json:"error"`
	RequestID  string  `json:"request_id"`
}

func slowLines(t *testing.T, log *bytes.Buffer) []slowLine {
	t.Helper()
	var out []slowLine
	for _, raw := range bytes.Split(bytes.TrimSpace(log.Bytes()), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		var l slowLine
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("a log line is not JSON: %v\n%s", err, raw)
		}
		out = append(out, l)
	}
	return out
}

func placeholder(db *models.DB) string {
	if db.Dialect == models.Postgres {
		return "$1"
	}
	return "?"
}

func TestWatchQueries_SlowStatementsLogTheirSQLButNeverTheirValues(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		var log bytes.Buffer
		// Every statement is slow at a nanosecond.
		db.WatchQueries(querytrace.Settings{Slow: time.Nanosecond, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
		secret := "s3cret-" + models.RandomHex(6)
		secretStatements(t, db, querytrace.WithRequestID(ctx, "req-slow-1"), secret)

		for _, v := range append([]string{secret}, personalValues...) {
			if strings.Contains(log.String(), v) {
				t.Fatalf("a parameter value (%q) reached the log:\n%s", v, log.String())
			}
		}
		lines := slowLines(t, &log)
		sawWhere, sawInsert := false, false
		for _, l := range lines {
			if l.Level != "WARN" || l.Msg != "slow query" || l.SQL == "" || l.DurationMS < 0 {
				t.Errorf("not a slow-query line: %+v", l)
			}
			// The statements a group commit runs for many callers at once
			// (on PostgreSQL) carry no one's request id; the callers' own do.
			if strings.Contains(l.SQL, "end_users") && l.RequestID != "req-slow-1" {
				t.Errorf("request_id %q, want req-slow-1, on %q", l.RequestID, l.SQL)
			}
			if strings.Contains(l.SQL, "client_user_id = "+placeholder(db)) {
				sawWhere = true
			}
			if strings.HasPrefix(l.SQL, "INSERT INTO end_users") {
				sawInsert = true
				if l.Rows == nil || *l.Rows != 1 {
					t.Errorf("the INSERT's rows: %v, want 1", l.Rows)
				}
			}
		}
		if !sawWhere || !sawInsert {
			t.Fatalf("the log lacks the statements (WHERE client_user_id = %s: %v, INSERT INTO end_users: %v):\n%s",
				placeholder(db), sawWhere, sawInsert, log.String())
		}
		// Every path was heard: the GORM query and its Raw twin, the fast
		// path's lookup, the list and the create.
		if !strings.Contains(log.String(), "FROM end_users WHERE user_id = "+placeholder(db)) {
			t.Errorf("the fast path's lookup by user_id was not logged:\n%s", log.String())
		}
		if !strings.Contains(log.String(), "SELECT count(*) FROM end_users WHERE client_user_id = "+placeholder(db)) {
			t.Errorf("the Raw statement read with Scan was not logged:\n%s", log.String())
		}
	})
}

func TestWatchQueries_ARefusedValueIsNamedByItsCodeNotItsText(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		var log bytes.Buffer
		db.WatchQueries(querytrace.Settings{Slow: time.Nanosecond, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
		// PostgreSQL refuses text with a NUL byte, and its message quotes
		// the bytes it refused; an integer column refuses text and quotes it.
		secret := "nul\x00s3cret-" + models.RandomHex(6)
		err := db.Gorm().WithContext(ctx).Exec("UPDATE end_users SET first_name = ? WHERE id = -1", secret).Error
		var n int64
		err2 := db.Gorm().WithContext(ctx).Raw("SELECT count(*) FROM end_users WHERE id = CAST(? AS integer)", "s3cret-not-a-number").Scan(&n).Error
		if db.Dialect == models.Postgres && (err == nil || err2 == nil) {
			t.Fatalf("PostgreSQL took a NUL byte (%v) or text as an integer (%v)", err, err2)
		}
		for _, v := range []string{"s3cret-", "nul"} {
			if strings.Contains(log.String(), v) {
				t.Fatalf("a refused value reached the log:\n%s", log.String())
			}
		}
		if db.Dialect == models.Postgres {
			var codes []string
			for _, l := range slowLines(t, &log) {
				codes = append(codes, l.Error)
			}
			if strings.Join(codes, ",") != "22021,22P02" {
				t.Fatalf("errors logged %q, want the SQLSTATEs 22021 (bad byte) and 22P02 (bad integer):\n%s", codes, log.String())
			}
		}
	})
}

func TestWatchQueries_OnlyStatementsAsSlowAsTheThresholdAreLogged(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		var log bytes.Buffer
		db.WatchQueries(querytrace.Settings{Slow: 100 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
		if _, err := db.CountMembers(ctx); err != nil {
			t.Fatal(err)
		}
		if log.Len() != 0 {
			t.Fatalf("a fast statement was logged:\n%s", log.String())
		}
		// A statement that takes longer: pg_sleep, or on SQLite a
		// recursive count of two million rows (0.3–0.5 s here; half a million
		// sometimes took under the threshold).
		slow, args := "SELECT count(*) FROM (SELECT pg_sleep(?)) s", []any{0.15}
		if db.Dialect == models.SQLite {
			slow, args = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?) SELECT count(*) FROM c", []any{2_000_000}
		}
		var out int64
		if err := db.Gorm().WithContext(ctx).Raw(slow, args...).Scan(&out).Error; err != nil {
			t.Fatal(err)
		}
		lines := slowLines(t, &log)
		if len(lines) != 1 || lines[0].DurationMS < 100 || !strings.HasPrefix(lines[0].SQL, slow[:15]) {
			t.Fatalf("want the one slow statement logged, with its duration:\n%s", log.String())
		}

		db.WatchQueries(querytrace.Settings{})
		log.Reset()
		if err := db.Gorm().WithContext(ctx).Raw(slow, args...).Scan(&out).Error; err != nil {
			t.Fatal(err)
		}
		if log.Len() != 0 {
			t.Fatalf("with the slow-query log off, a statement was logged:\n%s", log.String())
		}
	})
}

func TestWatchQueries_TracedStatementsAreChildSpansWithoutValues(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		spans := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
		db.WatchQueries(querytrace.Settings{Tracing: tp})

		// No span around it: no statement span either.
		if _, err := db.CountMembers(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(spans.GetSpans()); n != 0 {
			t.Fatalf("%d spans for a statement outside any trace, want none", n)
		}

		reqCtx, request := tp.Tracer("test").Start(ctx, "GET /users")
		secret := "s3cret-" + models.RandomHex(6)
		secretStatements(t, db, reqCtx, secret)
		request.End()

		got := spans.GetSpans()
		parent := request.SpanContext().SpanID()
		var requestSpan tracetest.SpanStub
		for _, s := range got {
			if s.SpanContext.SpanID() == parent {
				requestSpan = s
			}
		}
		var children []tracetest.SpanStub
		for _, s := range got {
			if s.Name == "GET /users" {
				continue
			}
			children = append(children, s)
			if s.Parent.SpanID() != parent || s.SpanKind != trace.SpanKindClient {
				t.Errorf("span %q: parent %v kind %v, want a client span under the request", s.Name, s.Parent.SpanID(), s.SpanKind)
			}
			if s.StartTime.Before(requestSpan.StartTime) || s.EndTime.After(requestSpan.EndTime) {
				t.Errorf("span %q runs outside its request", s.Name)
			}
			for _, text := range spanTexts(s) {
				for _, v := range append([]string{secret}, personalValues...) {
					if strings.Contains(text, v) {
						t.Errorf("span %q carries a parameter value (%q): %q", s.Name, v, text)
					}
				}
			}
		}
		system := map[models.Dialect]string{models.Postgres: "postgresql", models.SQLite: "sqlite"}[db.Dialect]
		sawWhere, sawInsert := false, false
		for _, s := range children {
			attrs := attrMap(s.Attributes)
			if attrs["db.system.name"] != system {
				t.Errorf("span %q: db.system.name %q, want %s", s.Name, attrs["db.system.name"], system)
			}
			q := attrs["db.query.text"]
			if strings.Contains(q, "client_user_id = "+placeholder(db)) && s.Name == "SELECT" {
				sawWhere = true
			}
			if strings.HasPrefix(q, "INSERT INTO end_users") && s.Name == "INSERT" && attrs["db.rows_affected"] == "1" {
				sawInsert = true
			}
		}
		if !sawWhere || !sawInsert {
			var names []string
			for _, s := range children {
				names = append(names, s.Name+": "+attrMap(s.Attributes)["db.query.text"])
			}
			t.Fatalf("want SELECT … client_user_id = %s and INSERT INTO end_users spans, got:\n%s", placeholder(db), strings.Join(names, "\n"))
		}
	})
}

// spanTexts is every piece of text a span carries.
func spanTexts(s tracetest.SpanStub) []string {
	out := []string{s.Name, s.Status.Description}
	for _, kv := range s.Attributes {
		out = append(out, kv.Value.String())
	}
	for _, e := range s.Events {
		out = append(out, e.Name)
		for _, kv := range e.Attributes {
			out = append(out, kv.Value.String())
		}
	}
	return out
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}
