package querytrace

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// On SQLite GORM's statements are heard through its logger. GORM gives a
// logger each statement as a function that writes the values into the
// text (Dialector.Explain); the logger's ParamsFilter, and for Scan the
// recorder's, keep them out.

func init() {
	// Scan records its statement with a logger of its own, whose filter
	// is this package-wide hook: by default it writes the values in.
	logger.RecorderParamsFilter = withoutValues
}

func withoutValues(_ context.Context, sql string, _ ...any) (string, []any) { return sql, nil }

// GORM is the Watch as a GORM logger. GORM's own messages are dropped:
// some quote values.
func (w *Watch) GORM() logger.Interface { return gormLogger{w} }

type gormLogger struct{ w *Watch }

var (
	_ logger.Interface  = gormLogger{}
	_ gorm.ParamsFilter = gormLogger{}
)

func (l gormLogger) LogMode(logger.LogLevel) logger.Interface { return l }
func (gormLogger) Info(context.Context, string, ...any)       {}
func (gormLogger) Warn(context.Context, string, ...any)       {}
func (gormLogger) Error(context.Context, string, ...any)      {}

// ParamsFilter keeps the values out of the text GORM hands Trace.
func (gormLogger) ParamsFilter(ctx context.Context, sql string, params ...any) (string, []any) {
	return withoutValues(ctx, sql, params...)
}

// Trace hears of a statement GORM has run.
func (l gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	on := l.w.on.Load()
	if on == nil {
		return
	}
	took := time.Since(begin)
	traced := on.tracer != nil && trace.SpanFromContext(ctx).IsRecording()
	if !traced && (on.slow == 0 || took < on.slow) {
		return
	}
	sql, rows := fc()
	l.w.ran(ctx, on, sql, begin, took, rows, normalError(err), traced)
}
