package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"ledgerdesk/models/querytrace"
)

// The fast path is how the reads every page makes reach the database: the
// users list, a user and their items, a record's history, the session and
// API-key lookups. GORM's reflection costs more than such a query itself,
// and through database/sql each query costs a goroutine and a value
// conversion per column. So on PostgreSQL, where GORM and pgx share one
// pgxpool (db.pool), GORM at most writes the statement, pgx runs it, and
// the rows are scanned straight into their fields; on SQLite, which has
// no pgx pool, the same reads go through database/sql, scanned the same
// way.
//
// Its entry point is fastRows, a row type read this way: each names its
// columns and, in the same order, its fields (fastpath_rows.go, where a
// test holds both to the GORM model), and its methods run a query GORM
// built, a fixed statement, or rows already open. Beside it:
// fastpath_plans.go sends the queries whose best plan depends on their
// values to be planned per run, and fastpath_cache.go keeps what changes
// rarely (the institutions, the count estimates) instead of asking again.

// fastRows is a row type the fast path reads: its columns and, in the same
// order, pointers to the fields each column scans into.
type fastRows[T any] struct {
	cols   columns
	fields func(*T) []any
}

// columns is a row type's column list, as SELECT takes it.
type columns []string

func (c columns) String() string { return strings.Join(c, ", ") }

// query runs q, a query GORM built, for r's columns and appends the rows
// to out. GORM only writes the statement. On PostgreSQL pgx runs it:
// unnamed, so it is planned for its values, when q came from db.planned.
func (r fastRows[T]) query(db *DB, q *gorm.DB, out []T) ([]T, error) {
	q = q.Select(r.cols.String())
	stmt := q.Session(&gorm.Session{DryRun: true}).Find(&[]T{})
	if stmt.Error != nil {
		return out, stmt.Error
	}
	ctx, text, args := stmt.Statement.Context, stmt.Statement.SQL.String(), stmt.Statement.Vars
	if db.pool == nil {
		// Not q.Rows(): GORM's logger would time the statement before its
		// rows are read, and SQLite runs it as they are.
		return r.direct(ctx, db, stmt.Statement.ConnPool, text, args, out)
	}
	if plansPerRun(q) {
		args = append([]any{pgx.QueryExecModeCacheDescribe}, args...)
	}
	rows, err := db.pool.Query(ctx, text, args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	return scanEach(rows, r.fields, out)
}

// one runs a fixed lookup by key: the row it finds, or nil.
func (r fastRows[T]) one(ctx context.Context, db *DB, s statement, args ...any) (*T, error) {
	rows, err := r.list(ctx, db, s, make([]T, 0, 1), args...)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
}

// list runs a fixed statement and appends its rows to out.
func (r fastRows[T]) list(ctx context.Context, db *DB, s statement, out []T, args ...any) ([]T, error) {
	if db.pool != nil {
		rows, err := db.pool.Query(ctx, s.postgres, args...)
		if err != nil {
			return out, err
		}
		defer rows.Close()
		return scanEach(rows, r.fields, out)
	}
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return out, err
	}
	return r.direct(ctx, db, sqlDB, s.sqlite, args, out)
}

// direct runs a statement on SQLite through database/sql and appends its
// rows to out. GORM's logger does not hear of it, so it is watched here,
// until its rows are read.
func (r fastRows[T]) direct(ctx context.Context, db *DB, conn gorm.ConnPool, text string, args []any, out []T) ([]T, error) {
	ctx, watched := db.watchDirect(ctx, text)
	rows, err := conn.QueryContext(ctx, text, args...)
	if err != nil {
		watched.End(-1, err)
		return out, err
	}
	n := len(out)
	out, err = r.scan(rows, out)
	watched.End(int64(len(out)-n), err)
	return out, err
}

// watchDirect watches a statement sent to database/sql directly, which
// GORM's logger does not hear of; on PostgreSQL pgx's tracer sees it
// already.
func (db *DB) watchDirect(ctx context.Context, text string) (context.Context, querytrace.Statement) {
	if db.pool != nil {
		return ctx, querytrace.Statement{}
	}
	return db.watch.Start(ctx, text)
}

// scan appends rows already open to out, and closes them.
func (r fastRows[T]) scan(rows *sql.Rows, out []T) ([]T, error) {
	defer rows.Close()
	return scanEach(rows, r.fields, out)
}

// resultRows is what database/sql's and pgx's result sets both offer.
type resultRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

func scanEach[T any](rows resultRows, fields func(*T) []any, out []T) ([]T, error) {
	for rows.Next() {
		var v T
		if err := rows.Scan(fields(&v)...); err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// jsonColumn scans a nullable JSON column (GORM's serializer:json) into
// a pointer: NULL leaves it nil.
type jsonColumn[T any] struct{ dst **T }

func (c jsonColumn[T]) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*c.dst = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("json column: cannot scan %T", src)
	}
	if len(b) == 0 || string(b) == "null" {
		*c.dst = nil
		return nil
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	*c.dst = v
	return nil
}

func (c jsonColumn[T]) target() any { return c.dst }

// statement is a fixed query the portal runs often, written with ?
// placeholders and kept in each database's form. It goes to the
// connection pool directly: for a lookup by key, building the statement
// through GORM costs more than running it.
type statement struct{ sqlite, postgres string }

func newStatement(q string) statement {
	var pg strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			pg.WriteString("$" + strconv.Itoa(n))
			continue
		}
		pg.WriteRune(r)
	}
	return statement{sqlite: q, postgres: pg.String()}
}

// insertReturningID runs a fixed INSERT … RETURNING id in the transaction
// tx, with the values fields point to.
func (db *DB) insertReturningID(tx *gorm.DB, s statement, fields []any) (int64, error) {
	args := make([]any, len(fields))
	for i, f := range fields {
		args[i] = reflect.ValueOf(f).Elem().Interface()
		// The SQLite driver takes only plain values.
		if v, ok := args[i].(driver.Valuer); ok {
			var err error
			if args[i], err = v.Value(); err != nil {
				return 0, err
			}
		}
	}
	var id int64
	q := db.Dialect.sql(s)
	ctx, watched := db.watchDirect(tx.Statement.Context, q)
	err := tx.Statement.ConnPool.QueryRowContext(ctx, q, args...).Scan(&id)
	watched.End(1, err)
	return id, err
}
