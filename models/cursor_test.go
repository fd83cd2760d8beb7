package models

import (
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

var everyCursorList = map[string]cursorList{
	"users": userCursors, "members": memberCursors, "api keys": apiKeyCursors,
	"audit": auditCursors, "deliveries": deliveryCursors,
}

// sampleCursor is a position in list l, at the row n.
func sampleCursor(l cursorList, n int64, back bool) cursor {
	c := cursor{back: back}
	if l.timed {
		c.at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n)*time.Second + 123456789)
	}
	if l.keyed {
		c.key = strings.Repeat("ab", memberKeyLen/2-1) + string(rune('a'+n%26)) + "f"
	} else {
		c.id = n
	}
	return c
}

func TestCursor_RoundTripsOnEveryList(t *testing.T) {
	for name, l := range everyCursorList {
		for _, n := range []int64{1, 42, 1 << 40, 1<<63 - 1} {
			for _, back := range []bool{false, true} {
				want := sampleCursor(l, n%100000, back)
				if !l.keyed {
					want.id = n
				}
				s := l.encode(want)
				if url.QueryEscape(s) != s || len(s) > maxCursor {
					t.Fatalf("%s: token %q is not short and URL-safe", name, s)
				}
				got, err := l.decode(s)
				if err != nil {
					t.Fatalf("%s: decode(encode(%+v)): %v", name, want, err)
				}
				if got.back != want.back || !got.at.Equal(want.at) || got.id != want.id || got.key != want.key {
					t.Fatalf("%s: round trip gave %+v, want %+v", name, *got, want)
				}
			}
		}
		if c, err := l.decode(""); c != nil || err != nil {
			t.Fatalf("%s: the empty cursor is %+v, %v; want the first page", name, c, err)
		}
	}
}

func TestCursor_KeepsNanosecondsAndReadsTimesAsUTC(t *testing.T) {
	at := time.Date(2025, 11, 30, 23, 59, 59, 999999999, time.FixedZone("east", 5*3600))
	got, err := userCursors.decode(userCursors.encode(cursor{at: at, id: 7}))
	if err != nil || !got.at.Equal(at) || got.at.Location() != time.UTC {
		t.Fatalf("decoded %v (%v), want %v in UTC", got, err, at)
	}
}

func TestCursor_HostileTokensAreInvalid(t *testing.T) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	hostile := map[string]string{
		"garbage":           "garbage!",
		"percent":           "%%%",
		"NUL bytes":         "\x00\x00\x00\x00",
		"NUL in payload":    b64("1un.1\x00.5"),
		"invalid UTF-8":     "\xff\xfe\xfd",
		"invalid UTF-8 b64": b64("1un.\xff.5"),
		"a megabyte":        strings.Repeat("A", 1<<20),
		"just too long":     strings.Repeat("A", maxCursor+1),
		"padded":            b64("1an..5") + "==",
		"standard alphabet": base64.StdEncoding.EncodeToString([]byte("1an..5>?")),
		"old users format":  b64(`{"t":"2024-01-01T00:00:00Z","i":5,"d":"n"}`),
		"old audit format":  b64(`{"s":5,"d":"n"}`),
		"old attempt form":  b64("a5"),
		"json array":        b64("[]"),
		"version 2":         b64("2an..5"),
		"direction x":       b64("1ax..5"),
		"no separators":     b64("1an5"),
		"one separator":     b64("1an.5"),
		"empty id":          b64("1an.."),
		"zero id":           b64("1an..0"),
		"negative id":       b64("1an..-5"),
		"leading zero":      b64("1an..05"),
		"plus sign":         b64("1an..+5"),
		"id overflow":       b64("1an..9223372036854775808"),
		"space":             b64("1an.. 5"),
	}
	for name, s := range hostile {
		for list, l := range everyCursorList {
			c, err := l.decode(s)
			var e *Error
			if c != nil || !errors.As(err, &e) || e.Kind != KindInvalid || !strings.Contains(e.Message, "first page") {
				t.Errorf("%s cursor on the %s list: %+v, %v; want the invalid page link error", name, list, c, err)
			}
		}
	}
}

func TestCursor_OneListRefusesAnothersCursor(t *testing.T) {
	for from, a := range everyCursorList {
		s := a.encode(sampleCursor(a, 5, false))
		for to, b := range everyCursorList {
			_, err := b.decode(s)
			if (from == to) != (err == nil) {
				t.Errorf("a %s cursor on the %s list: %v", from, to, err)
			}
		}
	}
}

func TestCursor_RefusesWhatTheListWouldNotWrite(t *testing.T) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	key := strings.Repeat("0123456789ab", 2)
	for _, tc := range []struct {
		name string
		l    cursorList
		s    string
		ok   bool
	}{
		{"users", userCursors, b64("1un.1700000000000000000.5"), true},
		{"users back", userCursors, b64("1up.1700000000000000000.5"), true},
		{"users without a time", userCursors, b64("1un..5"), false},
		{"users time with a sign", userCursors, b64("1un.+1700000000000000000.5"), false},
		{"users time not a number", userCursors, b64("1un.2024-01-01T00:00:00Z.5"), false},
		{"audit", auditCursors, b64("1an..5"), true},
		{"audit with a time", auditCursors, b64("1an.1700000000000000000.5"), false},
		{"deliveries", deliveryCursors, b64("1dp..5"), true},
		{"members", memberCursors, b64("1mn.1700000000000000000." + key), true},
		{"members short key", memberCursors, b64("1mn.1700000000000000000." + key[1:]), false},
		{"members long key", memberCursors, b64("1mn.1700000000000000000." + key + "0"), false},
		{"members key with a control", memberCursors, b64("1mn.1700000000000000000." + key[1:] + "\x01"), false},
		{"members key with a NUL", memberCursors, b64("1mn.1700000000000000000." + key[1:] + "\x00"), false},
		{"members key, bad UTF-8", memberCursors, b64("1mn.1700000000000000000." + key[2:] + "\xc3\x28"), false},
		{"members numeric id", memberCursors, b64("1mn.1700000000000000000.5"), false},
	} {
		_, err := tc.l.decode(tc.s)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %q accepted %v, want %v (%v)", tc.name, tc.s, err == nil, tc.ok, err)
		}
	}
}

// rowAt is a row of a list paged by id alone.
type rowAt struct{ id int64 }

func rowCursor(r *rowAt) cursor { return cursor{id: r.id} }

func ids(rows []rowAt) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.id
	}
	return out
}

// read is what a list's query returns past from: up to limit+1 rows of
// 1..n, newest (highest) first going on, oldest first going back.
func read(n, limit int, from *cursor) []rowAt {
	var out []rowAt
	if from != nil && from.back {
		for id := from.id + 1; id <= int64(n) && len(out) <= limit; id++ {
			out = append(out, rowAt{id})
		}
		return out
	}
	start := int64(n)
	if from != nil {
		start = from.id - 1
	}
	for id := start; id >= 1 && len(out) <= limit; id-- {
		out = append(out, rowAt{id})
	}
	return out
}

func TestKeysetPage_WalksOnAndBackThroughEveryRow(t *testing.T) {
	const n, limit = 23, 5
	var pages [][]int64
	var cursors []PageCursors
	var from *cursor
	for {
		rows, pc := keysetPage(auditCursors, read(n, limit, from), limit, from, rowCursor)
		pages, cursors = append(pages, ids(rows)), append(cursors, pc)
		if pc.Next == "" {
			break
		}
		var err error
		if from, err = auditCursors.decode(pc.Next); err != nil || from.back {
			t.Fatalf("Next %q: %+v, %v", pc.Next, from, err)
		}
	}
	if got := slices.Concat(pages...); len(pages) != 5 || len(got) != n || got[0] != n || got[n-1] != 1 {
		t.Fatalf("walking on: pages %v", pages)
	}
	if cursors[0].Prev != "" {
		t.Fatalf("the first page has a Prev: %q", cursors[0].Prev)
	}
	for i, pc := range cursors {
		if !pc.OffsetKnown || pc.Offset != int64(i*limit) {
			t.Fatalf("page %d on: offset %d (known %v), want %d", i, pc.Offset, pc.OffsetKnown, i*limit)
		}
	}
	// Back from the last page gives the same pages, each with both links
	// but the first.
	for i := len(pages) - 1; i > 0; i-- {
		from, err := auditCursors.decode(cursors[i].Prev)
		if err != nil || !from.back {
			t.Fatalf("page %d Prev %q: %+v, %v", i, cursors[i].Prev, from, err)
		}
		rows, pc := keysetPage(auditCursors, read(n, limit, from), limit, from, rowCursor)
		if !slices.Equal(ids(rows), pages[i-1]) {
			t.Fatalf("back from page %d: %v, want %v", i, ids(rows), pages[i-1])
		}
		if pc.Next == "" || (pc.Prev == "") != (i == 1) {
			t.Fatalf("back on page %d: cursors %+v", i-1, pc)
		}
		if !pc.OffsetKnown || pc.Offset != int64((i-1)*limit) {
			t.Fatalf("page %d back: offset %d (known %v), want %d", i-1, pc.Offset, pc.OffsetKnown, (i-1)*limit)
		}
	}
}

func TestKeysetPage_AVersionOneLinkWorksWithoutAPosition(t *testing.T) {
	old := base64.RawURLEncoding.EncodeToString([]byte("1an..12"))
	from, err := auditCursors.decode(old)
	if err != nil || from.pos != -1 {
		t.Fatalf("version 1 link: %+v, %v", from, err)
	}
	rows, pc := keysetPage(auditCursors, read(23, 5, from), 5, from, rowCursor)
	if !slices.Equal(ids(rows), []int64{11, 10, 9, 8, 7}) || pc.OffsetKnown {
		t.Fatalf("from a version 1 link: %v, %+v", ids(rows), pc)
	}
	// Its Next carries no position either, and reads as version 1.
	if next, err := auditCursors.decode(pc.Next); err != nil || next.pos != -1 {
		t.Fatalf("Next of a version 1 page: %+v, %v", next, err)
	}
}

func TestKeysetPage_EmptyPageHasNoLinks(t *testing.T) {
	from := &cursor{id: 1}
	rows, pc := keysetPage(auditCursors, read(10, 5, from), 5, from, rowCursor)
	if len(rows) != 0 || pc.Next != "" || pc.Prev != "" {
		t.Fatalf("past the oldest row: %v, %+v", rows, pc)
	}
}

// The keyset SQL is what the lists' indexes are built for: the order
// matches the index and the seek is a row comparison.
func TestCursorList_KeysetSQLMatchesTheIndexes(t *testing.T) {
	for _, tc := range []struct {
		l                                       cursorList
		newestFirst, oldestFirst, before, after string
	}{
		{userCursors, "created_at DESC, id DESC", "created_at ASC, id ASC", "(created_at, id) < (?, ?)", "(created_at, id) > (?, ?)"},
		{memberCursors, "created_at DESC, id DESC", "created_at ASC, id ASC", "(created_at, id) < (?, ?)", "(created_at, id) > (?, ?)"},
		{auditCursors, "seq DESC", "seq ASC", "seq < ?", "seq > ?"},
		{deliveryCursors, "d.id DESC", "d.id ASC", "d.id < ?", "d.id > ?"},
	} {
		got := [4]string{tc.l.newestFirst, tc.l.oldestFirst, tc.l.before, tc.l.after}
		want := [4]string{tc.newestFirst, tc.oldestFirst, tc.before, tc.after}
		if got != want {
			t.Errorf("list %c: keyset %q, want %q", tc.l.tag, got, want)
		}
	}
}
