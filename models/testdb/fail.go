package testdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"ledgerdesk/models"
)

// ErrInjected is the failure FailOn makes statements return: an error that
// is not a domain error and not an outage, as a constraint the code did
// not expect or a value the database refuses would be.
var ErrInjected = errors.New("injected database failure")

// Op is a kind of statement FailOn can break.
type Op string

const (
	Create Op = "create"
	Query  Op = "query"
	Update Op = "update"
	Delete Op = "delete"
)

var failures atomic.Int64

// FailOn makes every op statement that GORM runs on table fail with
// ErrInjected, until the test ends or the returned function is called.
// The statement has run when it fails, as a late constraint error would:
// only the surrounding transaction's rollback undoes it.
func FailOn(t testing.TB, db *models.DB, op Op, table string) (stop func()) {
	t.Helper()
	var on atomic.Bool
	on.Store(true)
	name := fmt.Sprintf("testdb:fail:%d", failures.Add(1))
	fail := func(tx *gorm.DB) {
		if !on.Load() || tx.Error != nil {
			return
		}
		if tx.Statement.Table == table || strings.Contains(tx.Statement.SQL.String(), `"`+table+`"`) ||
			strings.Contains(tx.Statement.SQL.String(), " "+table+" ") {
			_ = tx.AddError(ErrInjected)
		}
	}
	cb := db.Gorm().Callback()
	var err error
	switch op {
	case Create:
		err = cb.Create().After("gorm:create").Register(name, fail)
	case Query:
		err = cb.Query().After("gorm:query").Register(name, fail)
	case Update:
		err = cb.Update().After("gorm:update").Register(name, fail)
	case Delete:
		err = cb.Delete().After("gorm:delete").Register(name, fail)
	default:
		t.Fatalf("testdb.FailOn: unknown op %q", op)
	}
	if err != nil {
		t.Fatal(err)
	}
	stop = func() { on.Store(false) }
	t.Cleanup(stop)
	return stop
}

// PasswordMatches checks a stored hash against a password, failing the
// test if the check cannot run.
func PasswordMatches(t testing.TB, encoded, password string) bool {
	t.Helper()
	ok, err := models.VerifyPassword(context.Background(), encoded, password)
	if err != nil {
		t.Fatalf("verify password: %v", err)
	}
	return ok
}
