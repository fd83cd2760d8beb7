package models

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// A bulk load adds many end users and their items in one audited change,
// as the demo data (models/demo) does: the caller makes the rows, the
// database's writer stores them as fast as it takes them (binary COPY on
// PostgreSQL, see bulk_postgres.go; one-row INSERTs on SQLite).

// BulkUser is one end_users row of a bulk load. Its identity is sealed
// when the batch is encoded, as every user's is.
type BulkUser struct {
	ID                    int64
	UserID, ClientUserID  string
	TokenHash             string
	CreatedAt, UpdatedAt  time.Time
	Version               int32
	Identity              *Identity // nil: only a client_user_id
	ItemCount, ErrorItems int32
	NextConsentExpiration *time.Time
}

// BulkItem is one items row of a bulk load: the product lists as JSON
// arrays, the error as Plaid's error object in JSON.
type BulkItem struct {
	ItemID                                 string
	EndUserID                              int64
	InstitutionID, InstitutionName         *string
	Webhook, AuthMethod                    *string
	Error, ErrorCode                       *string
	Available, Billed, Products, Consented string
	ConsentExpirationTime                  *time.Time
	UpdateType                             string
	CreatedAt, UpdatedAt                   time.Time
}

// BulkBatch is a batch of users and their items made ready to write by
// BulkLoad.Encode.
type BulkBatch struct {
	// On SQLite, the rows and the users' sealed identities.
	users  []BulkUser
	sealed []storedIdentity
	items  []BulkItem
	// On PostgreSQL, the rows in binary COPY format.
	userCopy, itemCopy []byte
}

// BulkLoad is a bulk load in progress, as LoadEndUsers hands it to its
// caller.
type BulkLoad struct {
	// FirstID is the first of the ids reserved for the load's users:
	// they are FirstID, FirstID+1, ... and no one else takes them.
	FirstID int64
	// Bulk says the tables' secondary indexes and foreign keys were
	// dropped for the load and are rebuilt before it commits.
	Bulk bool

	db *DB
	w  bulkWriter
}

// Encode makes users and their items ready to write, sealing the users'
// identities. It may run on any goroutine, so batches can be made in
// parallel while another is written.
func (l *BulkLoad) Encode(users []BulkUser, items []BulkItem) *BulkBatch {
	return l.w.encode(l.db, users, items)
}

// Write stores a batch in the load's transaction. Batches are written one
// at a time, on the goroutine that runs the load.
func (l *BulkLoad) Write(ctx context.Context, b *BulkBatch) error { return l.w.write(ctx, b) }

// bulkWriter is how one database takes a bulk load: it encodes batches,
// writes them, and finishes once the last is written.
type bulkWriter interface {
	bulk() bool
	encode(db *DB, users []BulkUser, items []BulkItem) *BulkBatch
	write(ctx context.Context, b *BulkBatch) error
	finish(tx *gorm.DB, note func(string)) error
	// close runs once the load's transaction has ended, either way.
	close()
}

// LoadEndUsers adds n end users and their items as one audited change,
// committed with the rows or not at all. fn writes the rows through the
// load, adds anything else the change needs through tx, and describes the
// change for the audit log.
//
// On PostgreSQL other writers to end_users and items wait until the load
// commits. A bulk load (see bulkRebuildMin) also drops the two tables'
// secondary indexes and foreign keys and rebuilds them before committing,
// several times faster than updating them row by row; readers of the two
// tables wait for it too. note, if not nil, hears about that rebuild,
// which follows the last batch.
func (db *DB) LoadEndUsers(ctx context.Context, o Origin, n int, note func(string), fn func(tx *gorm.DB, l *BulkLoad) (Change, error)) error {
	if note == nil {
		note = func(string) {}
	}
	var w bulkWriter
	defer func() {
		if w != nil {
			w.close()
		}
	}()
	return db.applyBulk(ctx, o, func(tx *gorm.DB, conn *sql.Conn) (Change, error) {
		var err error
		if w, err = db.bulkWriter(ctx, tx, conn, n, note); err != nil {
			return Change{}, err
		}
		first, err := db.Dialect.reserveEndUserIDs(tx, n)
		if err != nil {
			return Change{}, err
		}
		c, err := fn(tx, &BulkLoad{FirstID: first, Bulk: w.bulk(), db: db, w: w})
		if err != nil {
			return Change{}, err
		}
		if err := w.finish(tx, note); err != nil {
			return Change{}, err
		}
		return c, nil
	})
}

var bulkUserColumns = []string{"id", "user_id", "client_user_id", "user_token_hash", "created_at", "updated_at", "version",
	"has_identity", "first_name", "last_name", "phone_numbers", "emails", "ssn_kind", "ssn_cipher", "dob_cipher", "pii_key_id",
	"address_street", "address_city", "address_region", "address_postal_code", "address_country", "search_text",
	"item_count", "error_item_count", "next_consent_expiration"}

var bulkItemColumns = []string{"item_id", "end_user_id", "institution_id", "institution_name", "webhook", "auth_method",
	"error", "error_code", "available_products", "billed_products", "products", "consented_products",
	"consent_expiration_time", "update_type", "created_at", "updated_at"}

// insertWriter writes a bulk load on SQLite, one row per INSERT: the
// driver compiles every statement anew, and one-row statements compile
// fastest (multi-row ones were 2-4 times slower in total).
type insertWriter struct{ tx *gorm.DB }

func (insertWriter) bulk() bool { return false }

func (insertWriter) encode(db *DB, users []BulkUser, items []BulkItem) *BulkBatch {
	sealed := make([]storedIdentity, len(users))
	for i := range users {
		sealed[i] = db.sealIdentity(users[i].UserID, users[i].Identity)
	}
	return &BulkBatch{users: users, sealed: sealed, items: items}
}

func (w insertWriter) write(ctx context.Context, b *BulkBatch) error {
	if err := insertRows(ctx, w.tx, "end_users", bulkUserColumns, len(b.users), func(i int, v []any) { userValues(&b.users[i], &b.sealed[i], v) }); err != nil {
		return fmt.Errorf("insert end users: %w", err)
	}
	if err := insertRows(ctx, w.tx, "items", bulkItemColumns, len(b.items), func(i int, v []any) { itemValues(&b.items[i], v) }); err != nil {
		return fmt.Errorf("insert items: %w", err)
	}
	return nil
}

func (insertWriter) finish(*gorm.DB, func(string)) error { return nil }

func (insertWriter) close() {}

// userValues are a user's columns in bulkUserColumns order.
func userValues(u *BulkUser, s *storedIdentity, v []any) {
	v[0], v[1], v[2], v[3], v[4], v[5], v[6] = &u.ID, &u.UserID, &u.ClientUserID, &u.TokenHash, &u.CreatedAt, &u.UpdatedAt, &u.Version
	v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15] = &s.HasIdentity, &s.FirstName, &s.LastName,
		&s.PhoneNumbers, &s.Emails, &s.SSNKind, &s.SSNCipher, &s.DOBCipher, &s.PIIKeyID
	v[16], v[17], v[18], v[19], v[20], v[21] = &s.Street, &s.City, &s.Region, &s.PostalCode, &s.Country, &s.SearchText
	v[22], v[23], v[24] = &u.ItemCount, &u.ErrorItems, u.NextConsentExpiration
}

// itemValues are an item's columns in bulkItemColumns order.
func itemValues(it *BulkItem, v []any) {
	v[0], v[1], v[2], v[3], v[4], v[5] = &it.ItemID, &it.EndUserID, it.InstitutionID, it.InstitutionName, it.Webhook, it.AuthMethod
	v[6], v[7], v[8], v[9], v[10], v[11] = it.Error, it.ErrorCode, &it.Available, &it.Billed, &it.Products, &it.Consented
	v[12], v[13], v[14], v[15] = it.ConsentExpirationTime, &it.UpdateType, &it.CreatedAt, &it.UpdatedAt
}

func insertRows(ctx context.Context, tx *gorm.DB, table string, cols []string, n int, fill func(i int, v []any)) error {
	stmt := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	conn := tx.Statement.ConnPool
	vals := make([]any, len(cols))
	for i := 0; i < n; i++ {
		fill(i, vals)
		if _, err := conn.ExecContext(ctx, stmt, vals...); err != nil {
			return err
		}
	}
	return nil
}
