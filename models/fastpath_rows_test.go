package models

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm/schema"
)

// Each row type read without GORM names its columns and its fields in the
// same order: a column added to a model, or two swapped, must show here
// rather than as a value in the wrong field.
func TestScannedColumnsMatchTheirModels(t *testing.T) {
	cases := []struct {
		name  string
		cols  columns
		row   func() (model any, fields []any)
		whole bool // every column of the model
	}{
		{"end user", endUserColumns, func() (any, []any) { u := &EndUser{}; return u, endUserFields(u) }, true},
		{"users list", ListColumns, func() (any, []any) { u := &EndUser{}; return u, listFields(u) }, false},
		{"item", itemColumns, func() (any, []any) { i := &Item{}; return i, itemFields(i) }, true},
		{"api key", apiKeyColumns, func() (any, []any) { k := &APIKey{}; return k, apiKeyFields(k) }, true},
		{"audit entry", auditColumns, func() (any, []any) { e := &AuditEntry{}; return e, auditFields(e) }, true},
		{"session", sessionPart("s."), func() (any, []any) {
			r := &SessionWithMember{}
			return &r.Session, sessionWithMemberFields(r)[:len(sessionPart("s."))]
		}, true},
		// Every column of the member but its password hash, which the
		// session's reader never needs.
		{"session's member", append(sessionPart("m."), "password_hash"), func() (any, []any) {
			r := &SessionWithMember{}
			return &r.Member, append(sessionWithMemberFields(r)[len(sessionPart("s.")):], &r.Member.PasswordHash)
		}, true},
	}
	for _, tc := range cases {
		model, fields := tc.row()
		s, err := schema.Parse(model, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			t.Fatal(err)
		}
		if len(fields) != len(tc.cols) {
			t.Errorf("%s: %d columns, %d fields", tc.name, len(tc.cols), len(fields))
			continue
		}
		if tc.whole && !sameSet(tc.cols, s.DBNames) {
			t.Errorf("%s: columns %v, model has %v", tc.name, tc.cols, s.DBNames)
		}
		// Each pointer must address the field GORM maps its column to.
		base := reflect.ValueOf(model).Elem()
		for i, col := range tc.cols {
			f := s.LookUpField(col)
			if f == nil {
				t.Errorf("%s: no field for column %s", tc.name, col)
				continue
			}
			want := base.FieldByIndex(f.StructField.Index).Addr().Pointer()
			target := fields[i]
			if c, ok := target.(interface{ target() any }); ok {
				target = c.target()
			}
			if got := reflect.ValueOf(target).Pointer(); got != want {
				t.Errorf("%s: column %d (%s) scans into another field", tc.name, i, col)
			}
		}
	}
}

// sessionPart is the session row's columns of one table, without the
// table's prefix.
func sessionPart(prefix string) columns {
	var out columns
	for _, c := range sessionColumns {
		if name, ok := strings.CutPrefix(c, prefix); ok {
			out = append(out, name)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
