package models

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// Part of the fast path (fastpath.go): the queries whose best plan depends
// on their values are planned for those values on every run.

// planned is a handle for the list and filter queries whose best plan
// depends on their values. The driver prepares other statements once per
// connection, and after five runs PostgreSQL may keep a generic plan that
// knows no parameter: right for a lookup by key, wrong for a search, whose
// LIKE pattern decides between the trigram index (a rare term) and a walk
// of the newest users (a common one), the wrong one costing 100 times
// more. Through this handle each statement is sent unnamed, which
// PostgreSQL plans for the values it carries, still in one round trip.
// Sending it so is pgx's mode; without a pgx pool (SQLite) the handle is
// a plain one.
func (db *DB) planned(ctx context.Context) *gorm.DB {
	g := db.gorm.WithContext(ctx)
	if db.pool != nil {
		g.Statement.ConnPool = customPlans{g.Statement.ConnPool}
	}
	return g
}

// plannedFor is the handle for a users-list query: planned per run when
// the filter's values decide the plan (a search term; an institution or
// error code, which may hold most items or a handful; a creation day), else a plain handle. A page of
// the whole list, a cursor or a health filter has one best plan, which
// PostgreSQL keeps once it has planned it a few times: planning page 1
// costs twice what running it does.
func (db *DB) plannedFor(ctx context.Context, f UserFilter) *gorm.DB {
	if f.Search != "" || f.Institution != "" || f.ErrorCode != "" || f.CreatedFrom != "" {
		return db.planned(ctx)
	}
	return db.gorm.WithContext(ctx)
}

// plansPerRun says q came from db.planned.
func plansPerRun(q *gorm.DB) bool {
	_, ok := q.Statement.ConnPool.(customPlans)
	return ok
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
