package querytrace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestOperation_IsTheStatementsFirstKeyword(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT id FROM end_users WHERE id = $1": "SELECT",
		"\n\t  select 1":                         "SELECT",
		"INSERT INTO items (a) VALUES (?)":       "INSERT",
		"(SELECT 1) UNION (SELECT 2)":            "SELECT",
		"WITH c AS (SELECT 1) SELECT * FROM c":   "WITH",
		"begin":                                  "BEGIN",
		"commit;":                                "COMMIT",
		"":                                       "",
		"-- a comment\nSELECT 1":                 "",
		"$1":                                     "",
		"SELECT1":                                "",
		strings.Repeat("A", 40) + " x":           "",
	} {
		if got := operation(sql); got != want {
			t.Errorf("operation(%q) = %q, want %q", sql, got, want)
		}
	}
}

func TestCompact_PutsAStatementOnOneBoundedLine(t *testing.T) {
	if got := compact("SELECT a,\n\t\tb\n  FROM t"); got != "SELECT a, b FROM t" {
		t.Errorf("compact = %q", got)
	}
	long := "SELECT " + strings.Repeat("é", maxLoggedSQL)
	got := compact(long)
	if len(got) > maxLoggedSQL+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "SELECT é") {
		t.Errorf("compact of %d bytes gave %d bytes ending %q", len(long), len(got), got[len(got)-8:])
	}
	if !utf8Valid(got) {
		t.Error("compact cut a character in two")
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestErrorKind_NamesTheFailureWithoutItsText(t *testing.T) {
	const value = "s3cret-value"
	for err, want := range map[error]string{
		&pgconn.PgError{Code: "22P02", Message: `invalid input syntax for type integer: "` + value + `"`}:             "22P02",
		fmt.Errorf("load: %w", &pgconn.PgError{Code: "23505", Detail: "Key (email)=(" + value + ") already exists."}): "23505",
		fmt.Errorf("%w: %s", context.DeadlineExceeded, value):                                                         "timeout",
		context.Canceled: "canceled",
		sqliteError{19}:  "sqlite 19",
		errors.New(`unable to encode "` + value + `" into int8`): "error",
	} {
		if got := errorKind(err); got != want {
			t.Errorf("errorKind(%v) = %q, want %q", err, got, want)
		}
	}
}

type sqliteError struct{ code int }

func (e sqliteError) Error() string { return "constraint failed" }
func (e sqliteError) Code() int     { return e.code }

// Off, or tracing only and the statement outside any trace (background
// work), the Watch costs the statement nothing: no allocation on pgx's
// path, GORM's, or the models' own.
func TestWatch_OffAllocatesNothing(t *testing.T) {
	t.Run("off", func(t *testing.T) { allocatesNothing(t, New(true)) })
	t.Run("tracing, outside any trace", func(t *testing.T) {
		w := New(true)
		w.Set(Settings{Tracing: sdktrace.NewTracerProvider()})
		allocatesNothing(t, w)
	})
}

func allocatesNothing(t *testing.T, w *Watch) {
	ctx := context.Background()
	start := pgx.TraceQueryStartData{SQL: "SELECT 1", Args: []any{1}}
	end := pgx.TraceQueryEndData{CommandTag: pgconn.NewCommandTag("SELECT 1")}
	gormTrace := w.GORM().Trace
	fc := func() (string, int64) { return "SELECT 1", 1 }
	begin := time.Now()
	if n := testing.AllocsPerRun(100, func() {
		w.TraceQueryEnd(w.TraceQueryStart(ctx, nil, start), nil, end)
		gormTrace(ctx, begin, fc, nil)
		_, s := w.Start(ctx, "SELECT 1")
		s.End(1, nil)
	}); n != 0 {
		t.Fatalf("%v allocations per statement with nothing watched, want 0", n)
	}
}

// On, a statement costs one allocation on pgx's path, and none unless it
// is slow or traced on the others.
func TestWatch_SlowLogOnAllocatesOncePerPgxStatement(t *testing.T) {
	w := New(true)
	w.Set(Settings{Slow: time.Hour, Logger: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))})
	ctx := context.Background()
	start := pgx.TraceQueryStartData{SQL: "SELECT 1"}
	end := pgx.TraceQueryEndData{CommandTag: pgconn.NewCommandTag("SELECT 1")}
	if n := testing.AllocsPerRun(100, func() { w.TraceQueryEnd(w.TraceQueryStart(ctx, nil, start), nil, end) }); n != 1 {
		t.Errorf("%v allocations per pgx statement, want 1", n)
	}
	fc := func() (string, int64) { return "SELECT 1", 1 }
	begin := time.Now()
	if n := testing.AllocsPerRun(100, func() {
		w.GORM().Trace(ctx, begin, fc, nil)
		_, s := w.Start(ctx, "SELECT 1")
		s.End(1, nil)
	}); n != 0 {
		t.Errorf("%v allocations per fast statement on GORM's path and the direct one, want 0", n)
	}
}

func TestWatch_PgxStatementIsLoggedWhenSlowWithItsRowsAndKind(t *testing.T) {
	var log bytes.Buffer
	w := New(true)
	w.Set(Settings{Slow: time.Nanosecond, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
	ctx := WithRequestID(context.Background(), "req-1")
	c := w.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: "UPDATE items\n  SET x = $1", Args: []any{"s3cret"}})
	w.TraceQueryEnd(c, nil, pgx.TraceQueryEndData{CommandTag: pgconn.NewCommandTag("UPDATE 3")})
	c = w.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: "SELECT $1::int", Args: []any{"s3cret"}})
	w.TraceQueryEnd(c, nil, pgx.TraceQueryEndData{Err: &pgconn.PgError{Code: "22P02", Message: `invalid input syntax for type integer: "s3cret"`}})
	c = w.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: "SELECT 1"})
	w.TraceQueryEnd(c, nil, pgx.TraceQueryEndData{Err: pgx.ErrNoRows})

	got := log.String()
	for _, want := range []string{`"sql":"UPDATE items SET x = $1"`, `"rows":3`, `"request_id":"req-1"`, `"error":"22P02"`, `"sql":"SELECT 1","duration_ms"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "s3cret") {
		t.Errorf("a value reached the log:\n%s", got)
	}
	if strings.Count(got, `"error"`) != 1 {
		t.Errorf("no rows found is not a failure:\n%s", got)
	}
}

func TestWatch_ATracedStatementsSpanNamesItsLogLinesTrace(t *testing.T) {
	var log bytes.Buffer
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	w := New(false)
	w.Set(Settings{Slow: time.Nanosecond, Logger: slog.New(slog.NewJSONHandler(&log, nil)), Tracing: tp})
	ctx, request := tp.Tracer("test").Start(context.Background(), "GET /users")
	_, s := w.Start(ctx, "SELECT 1")
	s.End(1, errors.New("disk I/O error"))
	request.End()

	got := spans.GetSpans()
	if len(got) != 2 || got[0].Name != "SELECT" || got[0].Status.Description != "error" {
		t.Fatalf("spans %+v, want a SELECT span that failed with %q", got, "error")
	}
	if want := `"trace_id":"` + request.SpanContext().TraceID().String() + `"`; !strings.Contains(log.String(), want) {
		t.Errorf("the log line does not name the trace (%s):\n%s", want, log.String())
	}
}

func TestRequestID_TravelsWithTheContextInOneAllocation(t *testing.T) {
	ctx := WithRequestID(context.Background(), "req-1")
	inner, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if got := RequestID(inner); got != "req-1" {
		t.Errorf("RequestID = %q, want req-1", got)
	}
	if got := RequestID(context.Background()); got != "" {
		t.Errorf("RequestID of a bare context = %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { kept = WithRequestID(ctx, "req-2") }); n != 1 {
		t.Errorf("%v allocations, want 1", n)
	}
}

// kept keeps what a test makes from being optimized away.
var kept context.Context
