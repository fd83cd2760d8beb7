package querytrace

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// On PostgreSQL every statement runs on pgx, GORM's included (GORM is
// given the pgx pool through database/sql), so the Watch, as the pool's
// tracer, sees them all once.

var _ pgx.QueryTracer = (*Watch)(nil)

// pgxStatement carries a statement from TraceQueryStart to TraceQueryEnd:
// the context pgx runs it with, in one allocation.
type pgxStatement struct {
	context.Context
	r running
}

type pgxStatementKey struct{}

func (s *pgxStatement) Value(key any) any {
	if key == (pgxStatementKey{}) {
		return s
	}
	return s.Context.Value(key)
}

// TraceQueryStart is pgx's call before a Query, QueryRow or Exec.
func (w *Watch) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	ctx, r, on := w.begin(ctx, data.SQL)
	if !on {
		return ctx
	}
	return &pgxStatement{Context: ctx, r: r}
}

// TraceQueryEnd is pgx's call once the statement is done (for a query,
// when its rows are closed).
func (w *Watch) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	s, ok := ctx.Value(pgxStatementKey{}).(*pgxStatement)
	if !ok {
		return
	}
	rows := int64(-1)
	if data.Err == nil {
		rows = data.CommandTag.RowsAffected()
	}
	w.end(s.Context, s.r, rows, normalError(data.Err))
}
