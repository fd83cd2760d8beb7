package models

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// planned is a handle for the list and filter queries whose best plan
// depends on their values. The driver prepares other statements once per
// connection, and after five runs PostgreSQL may keep a generic plan that
// knows no parameter: right for a lookup by key, wrong for a search, whose
// LIKE pattern decides between the trigram index (a rare term) and a walk
// of the newest users (a common one), the wrong one costing 100 times
// more. Through this handle each statement is sent unnamed, which
// PostgreSQL plans for the values it carries, still in one round trip.
func (db *DB) planned(ctx context.Context) *gorm.DB {
	g := db.gorm.WithContext(ctx)
	if db.Dialect == Postgres {
		g.Statement.ConnPool = customPlans{g.Statement.ConnPool}
	}
	return g
}

// customPlans passes pgx's describe-cached mode with every statement: the
// statement's description is cached, the statement itself is not.
type customPlans struct{ gorm.ConnPool }

func (p customPlans) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.ConnPool.ExecContext(ctx, query, withCustomPlan(args)...)
}

func (p customPlans) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.ConnPool.QueryContext(ctx, query, withCustomPlan(args)...)
}

func (p customPlans) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return p.ConnPool.QueryRowContext(ctx, query, withCustomPlan(args)...)
}

func withCustomPlan(args []any) []any {
	return append([]any{pgx.QueryExecModeCacheDescribe}, args...)
}
