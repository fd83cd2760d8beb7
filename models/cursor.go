package models

import (
	"bytes"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

// A cursor is where a page of a keyset-paged list starts: just past one
// row, reading on to the older rows after it or back to the newer rows
// before it. Page links carry it as one opaque, URL-safe token, the
// unpadded base64url of
//
//	"2" list dir "." time "." id "." pos
//
// "2" is the format's version. list is one letter per list, so a cursor
// made for one list is refused by every other. dir is "n" (on) or "p"
// (back). time is the row's sort time in Unix nanoseconds, empty for a
// list ordered by its id alone. id is the row's id (a positive number, or
// a member's key). pos is how many rows come before the row reading on,
// or before the page that starts at it reading back, so a page can say
// "26–50 of 1,005"; it is where the row was when the link was written,
// and rows added since move it. Version "1" is the same without pos: its
// links, bookmarked before, still work, without a position.
//
// Decoding is strict: a token is accepted only if it is exactly what the
// list would have written, so a changed, cut, padded or foreign token is
// refused as a whole, never half read.
type cursor struct {
	back bool      // read back, to the newer rows before the key
	at   time.Time // the row's time, for a list ordered by time, then id
	id   int64     // the row's id (or seq), for a list with numeric ids
	key  string    // the row's id, for a list whose ids are keys
	pos  int64     // see the format; -1: not known (a version 1 link)
}

// cursorList is how one list's cursors are written, and the keyset its
// rows are ordered and sought by.
type cursorList struct {
	tag   byte // the list's letter
	timed bool // ordered by (time, id); else by id alone
	keyed bool // the id is a 24-character key; else a positive number

	// The SQL of the keyset, written once: the order newest first and
	// oldest first, and the conditions for the rows before and after a key.
	newestFirst, oldestFirst, before, after string
}

// The lists paged by cursor.
var (
	userCursors     = newCursorList('u', false, "created_at", "id")
	memberCursors   = newCursorList('m', true, "created_at", "id")
	apiKeyCursors   = newCursorList('k', false, "created_at", "id")
	auditCursors    = newCursorList('a', false, "seq")
	deliveryCursors = newCursorList('d', false, "d.id")
)

// newCursorList describes a list ordered by key, newest first: a time
// column and an id, or an id alone. The comparison is a row comparison,
// not "a < x OR (a = x AND b < y)": only the row form becomes an index
// condition, so a page 10,000 deep seeks instead of scanning the rows
// before it.
func newCursorList(tag byte, keyed bool, key ...string) cursorList {
	desc, asc, marks := make([]string, len(key)), make([]string, len(key)), make([]string, len(key))
	for i, col := range key {
		desc[i], asc[i], marks[i] = col+" DESC", col+" ASC", "?"
	}
	cols, vals := strings.Join(key, ", "), strings.Join(marks, ", ")
	if len(key) > 1 {
		cols, vals = "("+cols+")", "("+vals+")"
	}
	return cursorList{tag: tag, timed: len(key) > 1, keyed: keyed,
		newestFirst: strings.Join(desc, ", "), oldestFirst: strings.Join(asc, ", "),
		before: cols + " < " + vals, after: cols + " > " + vals}
}

// seek orders q by the list's key and keeps the rows past from, in its
// direction; from nil is the first page.
func (l cursorList) seek(q *gorm.DB, from *cursor) *gorm.DB {
	if from == nil {
		return q.Order(l.newestFirst)
	}
	var id any = from.id
	if l.keyed {
		id = from.key
	}
	args := []any{id}
	if l.timed {
		args = []any{from.at, id}
	}
	if from.back {
		return q.Where(l.after, args...).Order(l.oldestFirst)
	}
	return q.Where(l.before, args...).Order(l.newestFirst)
}

// maxCursor is the longest token any list writes, with room to spare; a
// longer one is refused before it is decoded.
const maxCursor = 96

// memberKeyLen is the length of a member's id (NewMemberID).
const memberKeyLen = 24

func (l cursorList) encode(c cursor) string {
	b := make([]byte, 0, 64)
	b = append(b, '2', l.tag, 'n')
	if c.pos < 0 {
		b[0] = '1'
	}
	if c.back {
		b[2] = 'p'
	}
	b = append(b, '.')
	if l.timed {
		b = strconv.AppendInt(b, c.at.UnixNano(), 10)
	}
	b = append(b, '.')
	if l.keyed {
		b = append(b, c.key...)
	} else {
		b = strconv.AppendInt(b, c.id, 10)
	}
	if c.pos >= 0 {
		b = append(b, '.')
		b = strconv.AppendInt(b, c.pos, 10)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decode reads a token of the list: nil for "" (the first page), an
// invalid-field error for anything the list did not write.
func (l cursorList) decode(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	c, ok := l.read(s)
	if !ok {
		return nil, badCursor()
	}
	return c, nil
}

func (l cursorList) read(s string) (*cursor, bool) {
	if len(s) > maxCursor {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, false
	}
	parts := bytes.SplitN(b, []byte("."), 4)
	if len(parts) < 3 || len(parts[0]) != 3 {
		return nil, false
	}
	head, at, id := parts[0], parts[1], parts[2]
	c := &cursor{back: head[2] == 'p', pos: -1}
	switch {
	case head[0] == '1' && len(parts) == 3:
	case head[0] == '2' && len(parts) == 4:
		n, err := strconv.ParseInt(string(parts[3]), 10, 64)
		if err != nil || n < 0 {
			return nil, false
		}
		c.pos = n
	default:
		return nil, false
	}
	if head[1] != l.tag || (head[2] != 'n' && head[2] != 'p') {
		return nil, false
	}
	switch {
	case l.timed:
		ns, err := strconv.ParseInt(string(at), 10, 64)
		if err != nil {
			return nil, false
		}
		c.at = time.Unix(0, ns).UTC()
	case len(at) != 0:
		return nil, false
	}
	if l.keyed {
		c.key = string(id)
		if len(c.key) != memberKeyLen || !text.Key.Valid(c.key) {
			return nil, false
		}
	} else {
		n, err := strconv.ParseInt(string(id), 10, 64)
		if err != nil || n <= 0 {
			return nil, false
		}
		c.id = n
	}
	// One token per position: "+5" or "05" would parse as 5, but is not
	// what the list wrote.
	if l.encode(*c) != s {
		return nil, false
	}
	return c, true
}

// badCursor is what every list answers to a cursor it did not write: an
// old bookmark, a token from another list, or garbage.
func badCursor() error {
	return &Error{Kind: KindInvalid, Message: "This page link is not valid any more; start again from the first page.",
		Err: ErrBadCursor}
}

// ErrBadCursor is in every error a list returns for a cursor it did not
// write, so the page can link to the list's first page.
var ErrBadCursor = errors.New("bad page cursor")

// PageCursors are the cursors of the pages either side of a page of a
// keyset-paged list, newest first; "" where there is no such page.
type PageCursors struct {
	Next string // the older rows after the page
	Prev string // the newer rows before it
	// Offset is how many rows come before the page's first, when known
	// (OffsetKnown): exact on the first page, else as the link that led
	// here said.
	Offset      int64
	OffsetKnown bool
}

// keysetPage makes a page of rows read past from (nil: the first page) in
// its direction, one more than limit to tell whether more follow: it
// drops the extra row, puts the rows newest first and writes the cursors
// of the pages either side. at is the position of a row.
//
// Reading back, the rows come oldest first and are turned round. Going
// on, there is a newer page whenever the page came from a cursor; going
// back, an older one always exists.
func keysetPage[T any](l cursorList, rows []T, limit int, from *cursor, at func(*T) cursor) ([]T, PageCursors) {
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	back := from != nil && from.back
	if back {
		slices.Reverse(rows)
	}
	var p PageCursors
	switch {
	case from == nil || (back && !more):
		p.Offset, p.OffsetKnown = 0, true // the first page
	case from.pos >= 0 && !back:
		p.Offset, p.OffsetKnown = from.pos, true
	case from.pos >= 0:
		p.Offset, p.OffsetKnown = max(from.pos-int64(len(rows)), 0), true
	}
	if len(rows) == 0 {
		return rows, p
	}
	pos := func(n int64) int64 {
		if !p.OffsetKnown {
			return -1
		}
		return n
	}
	if more || back {
		last := at(&rows[len(rows)-1])
		last.back, last.pos = false, pos(p.Offset+int64(len(rows)))
		p.Next = l.encode(last)
	}
	if (from != nil && !back) || (back && more) {
		first := at(&rows[0])
		first.back, first.pos = true, pos(p.Offset)
		p.Prev = l.encode(first)
	}
	return rows, p
}
