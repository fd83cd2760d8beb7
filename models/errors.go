package models

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	sqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "modernc.org/sqlite/lib"
)

// Kind says what went wrong in terms a page can act on.
type Kind int

const (
	KindInvalid      Kind = iota + 1 // the input breaks a rule; see Fields
	KindNotFound                     // no such record
	KindConflict                     // the record changed or already exists
	KindForbidden                    // the actor may not do this
	KindUnauthorized                 // the credentials are wrong
	KindThrottled                    // too many attempts; try later
	KindBusy                         // the server is at capacity; try again shortly
	// KindInternal is every error that is not a domain error: a failed
	// query, a lost connection. It is never 0, so a switch on ErrorKind
	// cannot mistake a failure for success.
	KindInternal
)

// Error is a domain error whose Message is safe to show to the member.
// Internal causes stay in Err and only reach the log.
type Error struct {
	Kind    Kind
	Message string
	Fields  FieldErrors
	Advice  FieldAdvice
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// FieldErrors maps a form field's name to the message shown beside it.
type FieldErrors map[string]string

// Add records msg for field unless it already has one.
func (f FieldErrors) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// FieldAdvice maps a form field's name to suggestions shown under its
// message: how to fix it, where the message alone does not say.
type FieldAdvice map[string][]string

// Err returns an invalid-input error when any field failed, else nil.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Message: "Please correct the highlighted fields.", Fields: f}
}

// ErrorKind returns the Kind of a domain error, 0 for nil and
// KindInternal for any other error.
func ErrorKind(err error) Kind {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

func notFound(format string, args ...any) error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// IsUnavailable reports whether err means the database could not be reached
// (refused, reset, timed out), as opposed to a query that was wrong.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P0x: the server is shutting down.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P0")
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset")
}

// isUniqueViolation recognizes a unique-index refusal on both databases
// by the code the engine gives it, not its wording: a new engine release
// may word its messages differently.
func isUniqueViolation(err error) bool {
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		code := sqliteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
