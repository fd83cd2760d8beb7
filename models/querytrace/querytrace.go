// Package querytrace watches the SQL statements the portal runs: it logs
// the slow ones and, when tracing is on, gives each statement of a traced
// request a span of its own. It writes a statement's text, never its
// parameter values: the text comes from the code, with placeholders where
// the values go, and the values come from people.
package querytrace

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// Settings say what becomes of the statements watched.
type Settings struct {
	// Slow is the duration from which a statement is logged; 0 logs none.
	Slow time.Duration
	// Logger receives the slow statements (nil: slog's default).
	Logger *slog.Logger
	// Tracing gives a span to each statement run under a span being
	// recorded (a traced request's); nil: no spans.
	Tracing trace.TracerProvider
}

// Watch watches one database's statements. The database installs it where
// its statements run when it is opened; it does nothing until Set gives it
// something to do, and then costs one atomic load per statement beyond it.
type Watch struct {
	system attribute.KeyValue // db.system.name
	on     atomic.Pointer[watching]
}

// watching is what Set asked for, fixed until the next Set.
type watching struct {
	slow   time.Duration
	log    *slog.Logger
	tracer trace.Tracer // nil: no spans
}

// New is a Watch for statements run on PostgreSQL (postgres true) or
// SQLite.
func New(postgres bool) *Watch {
	w := &Watch{system: semconv.DBSystemNameSQLite}
	if postgres {
		w.system = semconv.DBSystemNamePostgreSQL
	}
	return w
}

// Set starts watching as s says; settings that log nothing and trace
// nothing stop it.
func (w *Watch) Set(s Settings) {
	if s.Slow <= 0 && s.Tracing == nil {
		w.on.Store(nil)
		return
	}
	v := &watching{slow: max(s.Slow, 0), log: s.Logger}
	if v.log == nil {
		v.log = slog.Default()
	}
	if s.Tracing != nil {
		v.tracer = s.Tracing.Tracer("ledgerdesk/models")
	}
	w.on.Store(v)
}

// running is a statement under way.
type running struct {
	on    *watching
	sql   string
	start time.Time
	span  trace.Span // nil when the statement is not traced
}

// begin starts watching a statement, unless there is nothing to watch it
// for. The context it returns carries the statement's span, if it has one.
func (w *Watch) begin(ctx context.Context, sql string) (context.Context, running, bool) {
	on := w.on.Load()
	if on == nil {
		return ctx, running{}, false
	}
	traced := on.tracer != nil && trace.SpanFromContext(ctx).IsRecording()
	if !traced && on.slow == 0 {
		return ctx, running{}, false
	}
	r := running{on: on, sql: sql, start: time.Now()}
	if traced {
		ctx, r.span = on.tracer.Start(ctx, w.spanName(sql), w.spanStart(sql)...)
	}
	return ctx, r, true
}

// end finishes a statement begin started: rows is how many it returned or
// changed, negative when unknown.
func (w *Watch) end(ctx context.Context, r running, rows int64, err error) {
	took := time.Since(r.start)
	if r.span != nil {
		finishSpan(r.span, r.sql, rows, err)
		r.span.End()
	}
	if r.on.slow > 0 && took >= r.on.slow {
		r.on.logSlow(ctx, r.sql, took, rows, err)
	}
}

// ran reports a statement that has already finished, as GORM's logger
// hears of them: a span, if traced, spans the time it ran.
func (w *Watch) ran(ctx context.Context, on *watching, sql string, start time.Time, took time.Duration, rows int64, err error, traced bool) {
	if traced {
		opts := append(w.spanStart(sql), trace.WithTimestamp(start))
		_, span := on.tracer.Start(ctx, w.spanName(sql), opts...)
		finishSpan(span, sql, rows, err)
		span.End(trace.WithTimestamp(start.Add(took)))
	}
	if on.slow > 0 && took >= on.slow {
		on.logSlow(ctx, sql, took, rows, err)
	}
}

// Statement is a statement under way on a path no hook sees: the models'
// own reads through database/sql on SQLite.
type Statement struct {
	w   *Watch
	ctx context.Context
	r   running
	on  bool
}

// Start watches a statement about to run; the context it returns carries
// the statement's span, if it has one. End it with End.
func (w *Watch) Start(ctx context.Context, sql string) (context.Context, Statement) {
	if w == nil {
		return ctx, Statement{}
	}
	ctx, r, on := w.begin(ctx, sql)
	return ctx, Statement{w: w, ctx: ctx, r: r, on: on}
}

// End reports how the statement went: rows is how many it returned or
// changed, negative when unknown.
func (s Statement) End(rows int64, err error) {
	if s.on {
		s.w.end(s.ctx, s.r, rows, normalError(err))
	}
}

// --- spans ---

func (w *Watch) spanName(sql string) string {
	if op := operation(sql); op != "" {
		return op
	}
	return w.system.Value.AsString()
}

func (w *Watch) spanStart(sql string) []trace.SpanStartOption {
	attrs := []attribute.KeyValue{w.system, semconv.DBQueryText(sql)}
	if op := operation(sql); op != "" {
		attrs = append(attrs, semconv.DBOperationName(op))
	}
	return []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)}
}

// finishSpan records the outcome: the rows and, for a failure, what kind
// of failure, never the error's text.
func finishSpan(span trace.Span, sql string, rows int64, err error) {
	if rows >= 0 {
		if operation(sql) == "SELECT" {
			span.SetAttributes(semconv.DBResponseReturnedRows(int(rows)))
		} else {
			span.SetAttributes(attribute.Int64("db.rows_affected", rows))
		}
	}
	if err != nil {
		kind := errorKind(err)
		span.SetAttributes(semconv.ErrorTypeKey.String(kind))
		var pg *pgconn.PgError
		if errors.As(err, &pg) {
			span.SetAttributes(semconv.DBResponseStatusCode(pg.Code))
		}
		span.SetStatus(codes.Error, kind)
	}
}

// operation is the statement's first keyword (SELECT, INSERT, WITH ...),
// or "" when it does not start with one.
func operation(sql string) string {
	s := strings.TrimLeft(sql, " \t\r\n(")
	end := 0
	for end < len(s) && end < 16 && isLetter(s[end]) {
		end++
	}
	if end == 0 || end == 16 || end < len(s) && !isSpace(s[end]) && s[end] != '(' && s[end] != ';' {
		return ""
	}
	return strings.ToUpper(s[:end])
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isSpace(c byte) bool  { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// --- the slow-query log ---

// maxLoggedSQL bounds a statement's text in the log: a bulk INSERT can
// hold thousands of placeholders.
const maxLoggedSQL = 4096

func (on *watching) logSlow(ctx context.Context, sql string, took time.Duration, rows int64, err error) {
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs,
		slog.String("sql", compact(sql)),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
	)
	if rows >= 0 {
		attrs = append(attrs, slog.Int64("rows", rows))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", errorKind(err)))
	}
	if id := RequestID(ctx); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	on.log.LogAttrs(ctx, slog.LevelWarn, "slow query", attrs...)
}

// compact puts a statement on one line, each run of blanks made one space,
// and cuts it at maxLoggedSQL bytes.
func compact(sql string) string {
	s := strings.Join(strings.Fields(sql), " ")
	if len(s) <= maxLoggedSQL {
		return s
	}
	cut := maxLoggedSQL
	for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

// errorKind names what went wrong without the error's text: the
// database's messages can quote the value they refused (invalid input
// syntax for type integer: "…").
func errorKind(err error) string {
	var pg *pgconn.PgError
	var coded interface{ Code() int } // SQLite's errors
	switch {
	case errors.As(err, &pg):
		return pg.Code // the SQLSTATE, e.g. 23505
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &coded):
		return "sqlite " + strconv.Itoa(coded.Code())
	}
	return "error"
}

// normalError is err, or nil when it only says that no row was found.
func normalError(err error) error {
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) || errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	return err
}
