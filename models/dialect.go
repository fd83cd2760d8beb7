package models

import (
	"bytes"
	"fmt"
	"text/template"
)

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
