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
)

// Reads that every page makes scan their rows straight into the fields:
// GORM's reflection costs more than the query itself. Each row type read
// this way names its columns and, in the same order, its fields; a test
// holds both to the GORM model.

// columns is a row type's column list, as SELECT takes it.
type columns []string

func (c columns) String() string { return strings.Join(c, ", ") }

// readRows runs q for the columns and scans each row through fields,
// appending to out. On PostgreSQL GORM only writes the statement and pgx
// runs it: unnamed, so it is planned for its values, when q came from
// db.planned.
func readRows[T any](db *DB, q *gorm.DB, cols columns, fields func(*T) []any, out []T) ([]T, error) {
	q = q.Select(cols.String())
	if db.pool == nil {
		rows, err := q.Rows()
		if err != nil {
			return out, err
		}
		return scanRows(rows, fields, out)
	}
	stmt := q.Session(&gorm.Session{DryRun: true}).Find(&[]T{})
	if stmt.Error != nil {
		return out, stmt.Error
	}
	args := stmt.Statement.Vars
	if plansPerRun(q) {
		args = append([]any{pgx.QueryExecModeCacheDescribe}, args...)
	}
	rows, err := db.pool.Query(stmt.Statement.Context, stmt.Statement.SQL.String(), args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	return scanEach(rows, fields, out)
}

// scanRows appends the rows, scanned through fields, to out and closes
// them.
func scanRows[T any](rows *sql.Rows, fields func(*T) []any, out []T) ([]T, error) {
	defer rows.Close()
	return scanEach(rows, fields, out)
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

// endUserColumns are every column of EndUser, for reading whole users.
var endUserColumns = columns{"id", "user_id", "client_user_id", "user_token_hash", "created_at", "updated_at",
	"removed_at", "version", "has_identity", "first_name", "last_name", "phone_numbers", "emails", "ssn_kind",
	"ssn_cipher", "dob_cipher", "pii_key_id", "address_street", "address_city", "address_region",
	"address_postal_code", "address_country", "search_text", "item_count", "error_item_count",
	"next_consent_expiration"}

func endUserFields(u *EndUser) []any {
	return []any{&u.ID, &u.UserID, &u.ClientUserID, &u.UserTokenHash, &u.CreatedAt, &u.UpdatedAt,
		&u.RemovedAt, &u.Version, &u.HasIdentity, &u.FirstName, &u.LastName, &u.PhoneNumbers, &u.Emails, &u.SSNKind,
		&u.SSNCipher, &u.DOBCipher, &u.PIIKeyID, &u.AddressStreet, &u.AddressCity, &u.AddressRegion,
		&u.AddressPostalCode, &u.AddressCountry, &u.SearchText, &u.ItemCount, &u.ErrorItemCount,
		&u.NextConsentExpiration}
}

// insertEndUser stores a new user (every column but the id, which it
// returns): each create through the API runs it.
var insertEndUser = newStatement("INSERT INTO end_users (" + endUserColumns[1:].String() + ") VALUES (" +
	strings.TrimSuffix(strings.Repeat("?, ", len(endUserColumns)-1), ", ") + ") RETURNING id")

// ListColumns are the columns a page of the users list shows: not the
// sealed identity, the token hash or the search text, which would only be
// read and thrown away.
var ListColumns = columns{"id", "user_id", "client_user_id", "created_at", "updated_at", "removed_at",
	"has_identity", "first_name", "last_name", "emails", "item_count", "error_item_count", "next_consent_expiration"}

func listFields(u *EndUser) []any {
	return []any{&u.ID, &u.UserID, &u.ClientUserID, &u.CreatedAt, &u.UpdatedAt, &u.RemovedAt,
		&u.HasIdentity, &u.FirstName, &u.LastName, &u.Emails, &u.ItemCount, &u.ErrorItemCount,
		&u.NextConsentExpiration}
}

var itemColumns = columns{"id", "item_id", "end_user_id", "institution_id", "institution_name", "webhook",
	"auth_method", "error", "error_code", "available_products", "billed_products", "products",
	"consented_products", "consent_expiration_time", "update_type", "created_at", "updated_at"}

func itemFields(i *Item) []any {
	return []any{&i.ID, &i.ItemID, &i.EndUserID, &i.InstitutionID, &i.InstitutionName, &i.Webhook,
		&i.AuthMethod, jsonColumn[ItemError]{&i.Error}, &i.ErrorCode, &i.AvailableProducts, &i.BilledProducts, &i.Products,
		&i.ConsentedProducts, &i.ConsentExpirationTime, &i.UpdateType, &i.CreatedAt, &i.UpdatedAt}
}

var apiKeyColumns = columns{"id", "client_id", "name", "scope", "secret_hash", "secret_hint", "created_by",
	"created_at", "last_used_at", "revoked_at", "revoked_by"}

func apiKeyFields(k *APIKey) []any {
	return []any{&k.ID, &k.ClientID, &k.Name, &k.Scope, &k.SecretHash, &k.SecretHint, &k.CreatedBy,
		&k.CreatedAt, &k.LastUsedAt, &k.RevokedAt, &k.RevokedBy}
}

// auditColumns are every column of AuditEntry.
var auditColumns = columns{"seq", "occurred_at", "actor_type", "actor_id", "action", "target_type", "target_id",
	"request_id", "ip", "user_agent", "diff", "reason", "prev_hash", "hash"}

func auditFields(e *AuditEntry) []any {
	return []any{&e.Seq, &e.OccurredAt, &e.ActorType, &e.ActorID, &e.Action, &e.TargetType, &e.TargetID,
		&e.RequestID, &e.IP, &e.UserAgent, &e.Diff, &e.Reason, &e.PrevHash, &e.Hash}
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

// readOne runs a fixed lookup by key: the row it finds, or nil.
func readOne[T any](ctx context.Context, db *DB, s statement, fields func(*T) []any, args ...any) (*T, error) {
	rows, err := readStatement(ctx, db, s, fields, make([]T, 0, 1), args...)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
}

// readStatement runs a fixed statement and scans each row through fields,
// appending to out.
func readStatement[T any](ctx context.Context, db *DB, s statement, fields func(*T) []any, out []T, args ...any) ([]T, error) {
	if db.pool != nil {
		rows, err := db.pool.Query(ctx, s.postgres, args...)
		if err != nil {
			return out, err
		}
		defer rows.Close()
		return scanEach(rows, fields, out)
	}
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return out, err
	}
	rows, err := sqlDB.QueryContext(ctx, s.sqlite, args...)
	if err != nil {
		return out, err
	}
	return scanRows(rows, fields, out)
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
	err := tx.Statement.ConnPool.QueryRowContext(tx.Statement.Context, db.Dialect.sql(s), args...).Scan(&id)
	return id, err
}
