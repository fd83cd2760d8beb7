package models

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Every value the field cipher seals is listed here, so that reading key
// ids (FieldKeyStatus) and moving values to the current key (ResealFields)
// cover them all; a test fails when a migration adds a sealed column this
// list does not name.

// sealedGroup is the sealed columns of a table that one key id column
// describes: a row's values in a group are always sealed with one key.
type sealedGroup struct {
	table     string
	idColumn  string // primary key, walked in order
	textID    bool   // the primary key is text, not a number
	keyColumn string
	// refColumn, when set, is read as the reference the sealing context
	// names (end users are sealed under their user_id, not their id).
	refColumn string
	versioned bool // the rows carry an optimistic version column
	fields    []sealedField
}

// sealedField is one sealed column and the context its values are bound to.
type sealedField struct {
	name    string // as reports and the audit log name it
	column  string
	context func(r *storedSealed) string
}

// storedSealed is a row of a group as reads return it: at most two sealed
// columns (the widest group, end users, has two).
type storedSealed struct {
	IntID   int64  `gorm:"column:int_id"`
	TextID  string `gorm:"column:text_id"`
	Ref     string `gorm:"column:ref"`
	KeyID   string `gorm:"column:key_id"`
	Version int64  `gorm:"column:version"`
	Sealed0 string `gorm:"column:sealed0"`
	Sealed1 string `gorm:"column:sealed1"`
}

func (r *storedSealed) sealed(i int) string {
	if i == 0 {
		return r.Sealed0
	}
	return r.Sealed1
}

// id is the row's primary key as the database compares it.
func (r *storedSealed) id(g *sealedGroup) any {
	if g.textID {
		return r.TextID
	}
	return r.IntID
}

// label names the row in messages: its primary key, never a value.
func (r *storedSealed) label(g *sealedGroup) string {
	if g.textID {
		return r.TextID
	}
	return strconv.FormatInt(r.IntID, 10)
}

var sealedGroups = []*sealedGroup{
	{table: "end_users", idColumn: "id", keyColumn: "pii_key_id", refColumn: "user_id", versioned: true,
		fields: []sealedField{
			{name: "ssn", column: "ssn_cipher", context: func(r *storedSealed) string { return piiContext(r.Ref, "ssn") }},
			{name: "date_of_birth", column: "dob_cipher", context: func(r *storedSealed) string { return piiContext(r.Ref, "date_of_birth") }},
		}},
	{table: "member_mfa", idColumn: "member_id", textID: true, keyColumn: "key_id",
		fields: []sealedField{
			{name: "totp_secret", column: "secret_cipher", context: func(r *storedSealed) string { return totpSecretContext(r.TextID) }},
		}},
	{table: "webhook_endpoints", idColumn: "id", keyColumn: "secret_key_id",
		fields: []sealedField{
			{name: "secret", column: "secret_cipher", context: func(r *storedSealed) string { return webhookSecretContext(r.IntID) }},
		}},
	{table: "webhook_endpoints", idColumn: "id", keyColumn: "previous_secret_key_id",
		fields: []sealedField{
			{name: "previous_secret", column: "previous_secret_cipher", context: func(r *storedSealed) string { return previousSecretContext(r.IntID) }},
		}},
}

// selectColumns reads a group's rows into storedSealed.
func (g *sealedGroup) selectColumns() string {
	cols := []string{g.idColumn + " AS int_id"}
	if g.textID {
		cols = []string{g.idColumn + " AS text_id"}
	}
	if g.refColumn != "" {
		cols = append(cols, g.refColumn+" AS ref")
	}
	cols = append(cols, g.keyColumn+" AS key_id")
	if g.versioned {
		cols = append(cols, "version")
	}
	for i, f := range g.fields {
		cols = append(cols, f.column+" AS sealed"+strconv.Itoa(i))
	}
	return strings.Join(cols, ", ")
}

// anySealed is the condition that a row holds at least one sealed value.
func (g *sealedGroup) anySealed() string {
	var or []string
	for _, f := range g.fields {
		or = append(or, f.column+" <> ''")
	}
	return "(" + strings.Join(or, " OR ") + ")"
}

// SealedColumns names every column that holds sealed values, as
// table.column.
func SealedColumns() []string {
	var out []string
	for _, g := range sealedGroups {
		for _, f := range g.fields {
			out = append(out, g.table+"."+f.column)
		}
	}
	return out
}

// SealedValues is how many values of one field one key seals.
type SealedValues struct {
	Table, Field string
	KeyID        string // "" for values stored without a key id
	Values       int64
}

// FieldKeyStatus counts the sealed values of every field by the key that
// sealed them. It reads the key id stored beside each value and decrypts
// nothing, so it needs no key; one scan per group of columns.
func (db *DB) FieldKeyStatus(ctx context.Context) ([]SealedValues, error) {
	var out []SealedValues
	for _, g := range sealedGroups {
		counts := []string{g.keyColumn + " AS key_id"}
		for i, f := range g.fields {
			counts = append(counts, fmt.Sprintf("COUNT(CASE WHEN %s <> '' THEN 1 END) AS n%d", f.column, i))
		}
		var rows []struct {
			KeyID string `gorm:"column:key_id"`
			N0    int64  `gorm:"column:n0"`
			N1    int64  `gorm:"column:n1"`
		}
		err := db.gorm.WithContext(ctx).Table(g.table).Select(strings.Join(counts, ", ")).
			Where(g.anySealed()).Group(g.keyColumn).Find(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("count sealed values of %s: %w", g.table, err)
		}
		for _, r := range rows {
			for i, f := range g.fields {
				n := r.N0
				if i == 1 {
					n = r.N1
				}
				if n > 0 {
					out = append(out, SealedValues{Table: g.table, Field: f.name, KeyID: r.KeyID, Values: n})
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b SealedValues) int {
		return fieldKeyOrder(a.Table, a.Field, a.KeyID, b.Table, b.Field, b.KeyID)
	})
	return out, nil
}

// fieldKeyOrder orders per-field counts by table, field, then key id.
func fieldKeyOrder(aTable, aField, aKey, bTable, bField, bKey string) int {
	return cmp.Or(cmp.Compare(aTable, bTable), cmp.Compare(aField, bField), cmp.Compare(aKey, bKey))
}
