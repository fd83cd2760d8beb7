package models

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// How a bulk load writes PostgreSQL: binary COPY on the transaction's own
// connection, the rows encoded by the goroutines that make them, and for a
// large load the tables' secondary indexes and foreign keys dropped for
// the load and rebuilt before commit.

// bulkRebuildMin is the smallest load that rebuilds indexes instead of
// updating them row by row: below it the rebuild does not pay, and the
// load would lock readers out for nothing. A load smaller than the table
// it goes into updates the indexes too.
const bulkRebuildMin = 10000

// bulkMaintenanceMem is the memory the index rebuild sorts in.
const bulkMaintenanceMem = "1GB"

// copyWriter writes a bulk load with COPY on conn, the connection tx runs
// on.
type copyWriter struct {
	conn    *sql.Conn
	indexes []string // CREATE INDEX statements of what a bulk load dropped
	fks     []string // ALTER TABLE ... ADD CONSTRAINT statements
	rebuild bool
}

// newCopyWriter locks end_users and items for a load of n users and
// checks their columns are what encode writes. A bulk load locks readers
// out too and drops the secondary indexes and foreign keys (the
// transaction puts them back if it fails); finish rebuilds them.
func newCopyWriter(tx *gorm.DB, conn *sql.Conn, n int) (*copyWriter, error) {
	var existing int64
	if err := tx.Raw(`SELECT COUNT(*) FROM end_users`).Scan(&existing).Error; err != nil {
		return nil, fmt.Errorf("count end users: %w", err)
	}
	bulk := n >= bulkRebuildMin && existing <= int64(n)
	mode := "SHARE ROW EXCLUSIVE" // other writers wait, readers go on
	if bulk {
		mode = "ACCESS EXCLUSIVE"
	}
	if err := tx.Exec(`LOCK TABLE end_users, items IN ` + mode + ` MODE`).Error; err != nil {
		return nil, fmt.Errorf("lock end_users and items: %w", err)
	}
	if err := checkBulkColumns(tx); err != nil {
		return nil, err
	}
	w := &copyWriter{conn: conn, rebuild: bulk}
	if !bulk {
		return w, nil
	}
	var fks []struct{ Tab, Name, Def string }
	err := tx.Raw(`SELECT conrelid::regclass::text AS tab, conname AS name, pg_get_constraintdef(oid) AS def
		FROM pg_constraint WHERE contype = 'f' AND conrelid IN ('end_users'::regclass, 'items'::regclass)
		ORDER BY conname`).Scan(&fks).Error
	if err != nil {
		return nil, fmt.Errorf("read foreign keys: %w", err)
	}
	for _, fk := range fks {
		name := pgx.Identifier{fk.Name}.Sanitize()
		if err := tx.Exec(`ALTER TABLE ` + fk.Tab + ` DROP CONSTRAINT ` + name).Error; err != nil {
			return nil, fmt.Errorf("drop foreign key %s: %w", fk.Name, err)
		}
		w.fks = append(w.fks, `ALTER TABLE `+fk.Tab+` ADD CONSTRAINT `+name+` `+fk.Def)
	}
	// Indexes that back a constraint (the primary keys, or another
	// table's foreign key) stay.
	var idx []struct{ Name, Def string }
	err = tx.Raw(`SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
		FROM pg_index i WHERE i.indrelid IN ('end_users'::regclass, 'items'::regclass)
		AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
		ORDER BY 1`).Scan(&idx).Error
	if err != nil {
		return nil, fmt.Errorf("read indexes: %w", err)
	}
	for _, ix := range idx {
		if err := tx.Exec(`DROP INDEX ` + ix.Name).Error; err != nil {
			return nil, fmt.Errorf("drop index %s: %w", ix.Name, err)
		}
		w.indexes = append(w.indexes, ix.Def)
	}
	return w, nil
}

func (w *copyWriter) bulk() bool { return w.rebuild }

func (*copyWriter) close() {}

// finish rebuilds what newCopyWriter dropped, exactly as it was, then
// gathers planner statistics for the new rows. A unique index that no
// longer builds (a loaded id collided) fails the load.
func (w *copyWriter) finish(tx *gorm.DB, note func(string)) error {
	if !w.rebuild {
		return nil
	}
	note(fmt.Sprintf("rebuilding %d indexes", len(w.indexes)))
	if err := tx.Exec(`SET LOCAL maintenance_work_mem = '` + bulkMaintenanceMem + `'`).Error; err != nil {
		return err
	}
	for _, def := range w.indexes {
		start := time.Now()
		if err := tx.Exec(def).Error; err != nil {
			return fmt.Errorf("rebuild index: %s: %w", def, err)
		}
		note(fmt.Sprintf("  %s in %.1f s", indexName(def), time.Since(start).Seconds()))
	}
	start := time.Now()
	for _, def := range w.fks {
		if err := tx.Exec(def).Error; err != nil {
			return fmt.Errorf("restore foreign key: %s: %w", def, err)
		}
	}
	if err := tx.Exec(`ANALYZE end_users, items`).Error; err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	note(fmt.Sprintf("  foreign keys and statistics in %.1f s", time.Since(start).Seconds()))
	return nil
}

// indexName is the name a CREATE INDEX statement gives its index.
func indexName(def string) string {
	_, rest, _ := strings.Cut(def, " INDEX ")
	name, _, _ := strings.Cut(rest, " ON ")
	return name
}

// bulkColumnType is the PostgreSQL type encode writes a column as.
func bulkColumnType(col string) string {
	switch col {
	case "id", "end_user_id":
		return "bigint"
	case "version", "item_count", "error_item_count":
		return "integer"
	case "has_identity":
		return "boolean"
	case "created_at", "updated_at", "next_consent_expiration", "consent_expiration_time":
		return "timestamp with time zone"
	case "user_token_hash":
		return "character(64)"
	}
	return "text"
}

// checkBulkColumns makes a schema change that the binary encoding does not
// follow fail with a clear message instead of a COPY format error.
func checkBulkColumns(tx *gorm.DB) error {
	var cols []struct{ Tab, Col, Typ string }
	err := tx.Raw(`SELECT c.relname AS tab, a.attname AS col, format_type(a.atttypid, a.atttypmod) AS typ
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE a.attrelid IN ('end_users'::regclass, 'items'::regclass) AND a.attnum > 0 AND NOT a.attisdropped`).Scan(&cols).Error
	if err != nil {
		return fmt.Errorf("read column types: %w", err)
	}
	have := map[string]string{}
	for _, c := range cols {
		have[c.Tab+"."+c.Col] = c.Typ
	}
	for tab, names := range map[string][]string{"end_users": bulkUserColumns, "items": bulkItemColumns} {
		for _, col := range names {
			if got, want := have[tab+"."+col], bulkColumnType(col); got != want {
				return fmt.Errorf("seed: %s.%s is %q in the database, the seeder writes %q", tab, col, got, want)
			}
		}
	}
	return nil
}

// write sends a batch's users, then its items, with COPY on the
// transaction's own connection.
func (w *copyWriter) write(ctx context.Context, b *BulkBatch) error {
	return w.conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("seed: COPY needs a pgx connection, not %T", dc)
		}
		return copyBatch(ctx, sc.Conn().PgConn(), b)
	})
}

// copyBatch sends a batch's users, then its items, with COPY on pg.
func copyBatch(ctx context.Context, pg *pgconn.PgConn, b *BulkBatch) error {
	if err := copyTable(ctx, pg, "", "end_users", b.userCopy); err != nil {
		return err
	}
	return copyTable(ctx, pg, "", "items", b.itemCopy)
}

// copyTable sends one table's rows of a batch with COPY on pg, into the
// table of schema (the search path's when empty).
func copyTable(ctx context.Context, pg *pgconn.PgConn, schema, table string, data []byte) error {
	cols, name := bulkUserColumns, table
	if table == "items" {
		cols = bulkItemColumns
	}
	if schema != "" {
		name = pgx.Identifier{schema, table}.Sanitize()
	}
	stmt := "COPY " + name + " (" + strings.Join(cols, ", ") + ") FROM STDIN (FORMAT binary)"
	if _, err := pg.CopyFrom(ctx, bytes.NewReader(data), stmt); err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	return nil
}

// copyBuf is rows in PostgreSQL's binary COPY format: a header, per row
// the field count and each field as its length and bytes (-1 for NULL),
// and a trailer.
type copyBuf []byte

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

func newCopyBuf(size int) copyBuf { return append(make(copyBuf, 0, size), copyHeader...) }

func (b *copyBuf) row(fields int) { *b = binary.BigEndian.AppendUint16(*b, uint16(fields)) }
func (b *copyBuf) null()          { *b = binary.BigEndian.AppendUint32(*b, 0xffffffff) }
func (b *copyBuf) end()           { *b = binary.BigEndian.AppendUint16(*b, 0xffff) }

func (b *copyBuf) text(s string) {
	*b = binary.BigEndian.AppendUint32(*b, uint32(len(s)))
	*b = append(*b, s...)
}

func (b *copyBuf) textOrNull(s *string) {
	if s == nil {
		b.null()
		return
	}
	b.text(*s)
}

func (b *copyBuf) int8(v int64) {
	*b = binary.BigEndian.AppendUint32(*b, 8)
	*b = binary.BigEndian.AppendUint64(*b, uint64(v))
}

func (b *copyBuf) int4(v int32) {
	*b = binary.BigEndian.AppendUint32(*b, 4)
	*b = binary.BigEndian.AppendUint32(*b, uint32(v))
}

func (b *copyBuf) bool(v bool) {
	*b = binary.BigEndian.AppendUint32(*b, 1)
	if v {
		*b = append(*b, 1)
	} else {
		*b = append(*b, 0)
	}
}

// pgEpoch is where timestamptz counts microseconds from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

func (b *copyBuf) time(t time.Time) { b.int8(t.UnixMicro() - pgEpoch) }

func (b *copyBuf) timeOrNull(t *time.Time) {
	if t == nil {
		b.null()
		return
	}
	b.time(*t)
}

func (*copyWriter) encode(db *DB, users []BulkUser, items []BulkItem) *BulkBatch {
	return encodeCopy(db, users, items)
}

// encodeCopy writes a batch's rows in bulkUserColumns and bulkItemColumns
// order, sealing each user's identity on the way.
func encodeCopy(db *DB, users []BulkUser, items []BulkItem) *BulkBatch {
	ub := newCopyBuf(len(users) * 640)
	for i := range users {
		u := &users[i]
		sealed := db.sealIdentity(u.UserID, u.Identity)
		s := &sealed
		ub.row(len(bulkUserColumns))
		ub.int8(u.ID)
		ub.text(u.UserID)
		ub.text(u.ClientUserID)
		ub.text(u.TokenHash)
		ub.time(u.CreatedAt)
		ub.time(u.UpdatedAt)
		ub.int4(u.Version)
		ub.bool(s.HasIdentity)
		for _, v := range []string{s.FirstName, s.LastName, s.PhoneNumbers, s.Emails, s.SSNKind, s.SSNCipher, s.DOBCipher,
			s.PIIKeyID, s.Street, s.City, s.Region, s.PostalCode, s.Country, s.SearchText} {
			ub.text(v)
		}
		ub.int4(u.ItemCount)
		ub.int4(u.ErrorItems)
		ub.timeOrNull(u.NextConsentExpiration)
	}
	ub.end()
	ib := newCopyBuf(len(items) * 512)
	for i := range items {
		it := &items[i]
		ib.row(len(bulkItemColumns))
		ib.text(it.ItemID)
		ib.int8(it.EndUserID)
		ib.textOrNull(it.InstitutionID)
		ib.textOrNull(it.InstitutionName)
		ib.textOrNull(it.Webhook)
		ib.textOrNull(it.AuthMethod)
		ib.textOrNull(it.Error)
		ib.textOrNull(it.ErrorCode)
		ib.text(it.Available)
		ib.text(it.Billed)
		ib.text(it.Products)
		ib.text(it.Consented)
		ib.timeOrNull(it.ConsentExpirationTime)
		ib.text(it.UpdateType)
		ib.time(it.CreatedAt)
		ib.time(it.UpdatedAt)
	}
	ib.end()
	return &BulkBatch{userCopy: ub, itemCopy: ib}
}
