package models

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// This file is where SQLite and PostgreSQL differ: the SQL that is written
// differently, the locks one needs and the other does not, what only one
// of them can do. Other files ask the dialect and do not branch on it
// themselves. Two parts of the data layer are one database's alone, and
// the dialect only picks them: binary COPY for bulk loads
// (bulk_postgres.go, picked by bulkWriter and applyBulk), and the pgx
// fast path (fastpath.go), which reads through pgx when the DB holds a
// pgx pool, as only OpenPostgres gives it, and through database/sql when
// it does not.

// Dialect names the database engine behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// openGormOnPool opens GORM on a pgx pool, writing row limits as numbers.
func openGormOnPool(pool *pgxpool.Pool, gc *gorm.Config) (*gorm.DB, error) {
	g, err := gorm.Open(postgres.New(postgres.Config{Conn: stdlib.OpenDBFromPool(pool)}), gc)
	if err != nil {
		return nil, err
	}
	g.ClauseBuilders["LIMIT"] = literalLimit
	return g, nil
}

// literalLimit writes a LIMIT as a number, not a parameter. PostgreSQL
// plans a cached statement's LIMIT $n for a tenth of the table, so its
// generic plan never wins and every run of, say, the users page was
// planned anew: 0.14 ms of the database's 0.18 ms at 200,000 users. With
// the number in the text the plan is made once per connection. A limit is
// an int, so nothing can be injected. Most are page sizes and caps, a few
// values; a limit an API client picks (Powens' 1 to 1,000) costs at worst
// one more round trip to prepare its statement, which pgx's cache keeps.
// An OFFSET, whose values are many, stays a parameter.
func literalLimit(c clause.Clause, b clause.Builder) {
	l, ok := c.Expression.(clause.Limit)
	if !ok {
		c.Build(b)
		return
	}
	hasLimit := l.Limit != nil && *l.Limit >= 0
	if hasLimit {
		b.WriteString("LIMIT " + strconv.Itoa(*l.Limit))
	}
	if l.Offset > 0 {
		if hasLimit {
			b.WriteByte(' ')
		}
		b.WriteString("OFFSET ")
		b.AddVar(b, l.Offset)
	}
}

// dialectOf is the dialect of a transaction, for code that has no DB at
// hand.
func dialectOf(tx *gorm.DB) Dialect {
	if tx.Dialector.Name() == "postgres" {
		return Postgres
	}
	return SQLite
}

// sqlTypes are the column types and clauses that differ between the two
// databases. Migrations are templates over this struct, so each difference
// is written once, here.
type sqlTypes struct {
	Postgres  bool
	SQLite    bool
	Time      string // a point in time
	AutoID    string // an auto-incrementing integer primary key
	JSON      string // a JSON document
	Bool      string
	BigInt    string
	Text      string
	TrueValue string
}

func (d Dialect) types() sqlTypes {
	switch d {
	case Postgres:
		return sqlTypes{Postgres: true, Time: "TIMESTAMPTZ", AutoID: "BIGSERIAL PRIMARY KEY",
			JSON: "JSONB", Bool: "BOOLEAN", BigInt: "BIGINT", Text: "TEXT", TrueValue: "TRUE"}
	default:
		return sqlTypes{SQLite: true, Time: "DATETIME", AutoID: "INTEGER PRIMARY KEY AUTOINCREMENT",
			JSON: "TEXT", Bool: "BOOLEAN", BigInt: "INTEGER", Text: "TEXT", TrueValue: "1"}
	}
}

// render expands a migration template for this dialect.
func (d Dialect) render(name, src string) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(src)
	if err != nil {
		return "", fmt.Errorf("parse migration %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d.types()); err != nil {
		return "", fmt.Errorf("render migration %s: %w", name, err)
	}
	return buf.String(), nil
}

// likeEscape is the clause that makes backslash LIKE's escape character:
// PostgreSQL has it by default (and an explicit clause would keep the
// planner from using a trigram index), SQLite has none.
func (d Dialect) likeEscape() string {
	if d == Postgres {
		return ""
	}
	return ` ESCAPE '\'`
}

// actionGroup is the SQL for an audit entry's action group, the part of
// the action before the first dot; it matches the expression index.
func (d Dialect) actionGroup() string {
	if d == Postgres {
		return "split_part(action, '.', 1)"
	}
	return "substr(action, 1, instr(action || '.', '.') - 1)"
}

// utcDay is the SQL for the UTC calendar day a time column falls in, and
// dayEpoch turns that value into the day's start in Unix seconds. Counting
// per day groups by the first (cheap per row), then converts the groups.
func (d Dialect) utcDay(col string) string {
	if d == Postgres {
		return "date_bin('1 day', " + col + ", TIMESTAMPTZ '2000-01-01 00:00:00+00')"
	}
	// SQLite keeps times as RFC 3339 text in UTC.
	return "substr(" + col + ", 1, 10)"
}

func (d Dialect) dayEpoch(day string) string {
	if d == Postgres {
		return "CAST(EXTRACT(EPOCH FROM " + day + ") AS BIGINT)"
	}
	return "CAST(strftime('%s', " + day + ") AS INTEGER)"
}

// unixSeconds is the SQL for a time expression as whole Unix seconds. An
// aggregate such as MAX(delivered_at) has no column type on SQLite, so
// its driver hands the time back as text: a number reads the same on both.
func (d Dialect) unixSeconds(expr string) string {
	if d == Postgres {
		return "CAST(FLOOR(EXTRACT(EPOCH FROM " + expr + ")) AS BIGINT)"
	}
	return "CAST(strftime('%s', " + expr + ") AS INTEGER)"
}

// applyBulk runs a bulk load's change (bulk.go). On PostgreSQL it runs
// alone, on a connection of its own that fn gets for COPY; on SQLite it is
// any change, and fn gets no connection.
func (db *DB) applyBulk(ctx context.Context, o Origin, fn func(tx *gorm.DB, conn *sql.Conn) (Change, error)) error {
	if db.Dialect == Postgres {
		return db.applyOnConn(ctx, o, fn)
	}
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) { return fn(tx, nil) })
}

// bulkWriter is how a bulk load of n users writes: on PostgreSQL binary
// COPY, into tables swapped in at the end for a bulk load into empty ones
// (bulk_staged.go), else on conn (bulk_postgres.go); one-row INSERTs on
// SQLite (bulk.go).
func (db *DB) bulkWriter(ctx context.Context, tx *gorm.DB, conn *sql.Conn, n int, note func(string)) (bulkWriter, error) {
	if db.Dialect == Postgres {
		if n >= bulkRebuildMin {
			w, err := newStagedWriter(ctx, db, tx, note)
			if err != nil {
				return nil, err
			}
			if w != nil {
				return w, nil
			}
		}
		return newCopyWriter(tx, conn, n)
	}
	return insertWriter{tx}, nil
}

// reserveEndUserIDs returns the first of n consecutive end_users ids no one
// else will take. On PostgreSQL, where the bulk load locked the table
// against other writers, it moves the id sequence past the range; on
// SQLite the transaction is the only writer.
func (d Dialect) reserveEndUserIDs(tx *gorm.DB, n int) (int64, error) {
	var first int64
	if d == Postgres {
		if err := tx.Raw(`SELECT nextval(pg_get_serial_sequence('end_users', 'id'))`).Scan(&first).Error; err != nil {
			return 0, fmt.Errorf("reserve end user ids: %w", err)
		}
		if n > 1 {
			if err := tx.Exec(`SELECT setval(pg_get_serial_sequence('end_users', 'id'), ?)`, first+int64(n)-1).Error; err != nil {
				return 0, fmt.Errorf("reserve end user ids: %w", err)
			}
		}
		return first, nil
	}
	// AUTOINCREMENT never reuses an id, not even one whose row is gone:
	// start after both the largest id and the recorded sequence.
	err := tx.Raw(`SELECT MAX(COALESCE((SELECT MAX(id) FROM end_users), 0),
		COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'end_users'), 0)) + 1`).Scan(&first).Error
	if err != nil {
		return 0, fmt.Errorf("reserve end user ids: %w", err)
	}
	return first, nil
}

// lockForUpdate makes a read inside an audited change lock the rows it
// reads, on PostgreSQL; SQLite's writers are already one at a time (see
// lockWrites).
func lockForUpdate(tx *gorm.DB) *gorm.DB {
	if dialectOf(tx) == Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

// lockWrites keeps SQLite to one writer at a time, until unlockWrites;
// on PostgreSQL, where row locks order writers, both do nothing.
func (db *DB) lockWrites() {
	if db.Dialect == SQLite {
		db.writeMu.Lock()
	}
}

func (db *DB) unlockWrites() {
	if db.Dialect == SQLite {
		db.writeMu.Unlock()
	}
}

// groupsCommits says audited writes share their transactions
// (audit_batch.go). On PostgreSQL each commit waits for a WAL flush, which
// a batch pays once; SQLite has one writer at a time and nothing to share.
func (d Dialect) groupsCommits() bool { return d == Postgres }

// skipLocked is the clause that makes a claim pass over rows another
// worker is claiming (FOR UPDATE OF alias SKIP LOCKED) on PostgreSQL;
// SQLite has one writer at a time, and no such clause.
func (d Dialect) skipLocked(alias string) string {
	if d == Postgres {
		return " FOR UPDATE OF " + alias + " SKIP LOCKED"
	}
	return ""
}

// searchColumn is the column a user search matches substrings in, and the
// pattern for s. PostgreSQL has search_key, which its trigram index
// covers (see SearchKey); SQLite matches the lower-case search_text.
func (d Dialect) searchColumn(s string) (column, pattern string) {
	if d == Postgres {
		return "search_key", escapeLike(SearchKey(s))
	}
	return "search_text", escapeLike(strings.ToLower(s))
}

// estimatesRows says the planner can estimate how many rows a filter
// selects, cheaply, so a large count need not be counted (PostgreSQL's
// EXPLAIN and table statistics); on SQLite counts are exact, up to a cap.
func (d Dialect) estimatesRows() bool { return d == Postgres }

// hasRoles says the database has roles and privileges (PostgreSQL); the
// embedded database has none.
func (d Dialect) hasRoles() bool { return d == Postgres }

// lockMigrations keeps other processes from migrating until tx ends; on
// SQLite the write transaction already does.
func (db *DB) lockMigrations(tx *gorm.DB) error {
	if db.Dialect != Postgres {
		return nil
	}
	return tx.Exec(`SELECT pg_advisory_xact_lock(4242001)`).Error
}

// sql is a fixed statement in this database's placeholders.
func (d Dialect) sql(s statement) string {
	if d == Postgres {
		return s.postgres
	}
	return s.sqlite
}
