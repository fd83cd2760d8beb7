package models

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// auditDaySettle is how long after a UTC day ends its count of entries is
// final. An entry's time is taken when it is appended, and the log takes
// no other writes, so a day over for longer than a commit can wait (the
// request timeout) and a clock between processes can drift never gains
// an entry again.
const auditDaySettle = time.Hour

// auditDayCache keeps the whole log's entry count of each settled UTC
// day, so the unfiltered activity chart counts only the days still
// open: at ten million entries in 30 days, counting them all took 1.5 s a
// request. The open days are counted once too, and then only the entries
// appended since: a busy day's 345,000 entries took 22 ms to count on
// every request. Each process keeps its own; a filtered chart counts live.
type auditDayCache struct {
	mu   sync.Mutex
	n    map[int64]int64 // settled day's Unix time → entries
	open openDays
}

// openDays is the count of each open day from a day on, as of the entry
// with seq upTo. Entries are appended under the chain head's lock, so
// every snapshot of the log holds all the entries up to some seq and none
// after it: what a later snapshot adds is exactly the entries past upTo.
type openDays struct {
	from int64 // first open day's Unix time; 0 when nothing is counted
	upTo int64
	n    map[int64]int64
}

// counts is the unfiltered chart's days (see AuditDailyCounts): settled
// days from the cache, counted once when missing, the rest counted now.
func (c *auditDayCache) counts(ctx context.Context, db *DB, now time.Time, days int) ([]DayCount, error) {
	out := emptyDays(now, days)
	// Days before open are settled.
	open := len(out)
	for open > 0 && out[open-1].Day.Add(24*time.Hour+auditDaySettle).After(now) {
		open--
	}
	c.mu.Lock()
	missing := -1
	for i := 0; i < open; i++ {
		if v, ok := c.n[out[i].Day.Unix()]; ok {
			out[i].N = v
		} else if missing < 0 {
			missing = i
		}
	}
	c.mu.Unlock()
	if missing >= 0 {
		settled, err := db.countDaysBetween(ctx, db.planned(ctx).Model(&AuditEntry{}), "occurred_at",
			out[missing].Day, out[open-1].Day.Add(24*time.Hour))
		if err != nil {
			return nil, fmt.Errorf("count audit entries per settled day: %w", err)
		}
		c.mu.Lock()
		if c.n == nil {
			c.n = map[int64]int64{}
		}
		for i := missing; i < open; i++ {
			out[i].N = settled[out[i].Day.Unix()]
			c.n[out[i].Day.Unix()] = out[i].N
		}
		c.mu.Unlock()
	}
	if open < len(out) {
		live, err := c.openCounts(ctx, db, out[open].Day)
		if err != nil {
			return nil, fmt.Errorf("count audit entries per day: %w", err)
		}
		for i := open; i < len(out); i++ {
			out[i].N = live[out[i].Day.Unix()]
		}
	}
	return out, nil
}

// openCounts is the entry count of each day from from on: the kept count
// plus the entries appended since it, or a whole count when from has
// moved (a day has settled) or nothing is kept yet.
func (c *auditDayCache) openCounts(ctx context.Context, db *DB, from time.Time) (map[int64]int64, error) {
	c.mu.Lock()
	kept := c.open
	c.mu.Unlock()
	next := openDays{from: from.Unix(), n: map[int64]int64{}}
	var rows []openDayRow
	var err error
	if kept.from == next.from {
		for day, n := range kept.n {
			next.n[day] = n
		}
		next.upTo = kept.upTo
		rows, err = db.countDaysAfter(ctx, kept.upTo)
	} else {
		rows, err = db.countDaysFrom(ctx, from)
	}
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r.Day >= next.from {
			next.n[r.Day] += r.N
		}
		next.upTo = max(next.upTo, r.Top)
	}
	c.mu.Lock()
	// A request that read an older snapshot (a lagging replica) leaves
	// the newer count in place.
	if c.open.from != next.from || c.open.upTo <= next.upTo {
		c.open = next
	}
	c.mu.Unlock()
	return next.n, nil
}

// openDayRow is one UTC day's count (Day in Unix time) and the newest seq
// its statement saw.
type openDayRow struct {
	Day int64
	N   int64
	Top int64
}

// countDaysFrom counts the entries of each day from from on and, in the
// same statement and so the same snapshot, the newest seq of the log.
func (db *DB) countDaysFrom(ctx context.Context, from time.Time) ([]openDayRow, error) {
	d := db.Dialect
	var rows []openDayRow
	err := db.planned(ctx).Raw(`SELECT head.top AS top, COALESCE(per_day.day, 0) AS day, COALESCE(per_day.n, 0) AS n
FROM (SELECT COALESCE(MAX(seq), 0) AS top FROM audit_entries) AS head
LEFT JOIN (SELECT `+d.dayEpoch("day")+` AS day, n FROM (SELECT `+d.utcDay("occurred_at")+` AS day, COUNT(*) AS n
	FROM audit_entries WHERE occurred_at >= ? GROUP BY day) AS g) AS per_day ON 1 = 1`, from).Scan(&rows).Error
	return dayStarts(rows), err
}

// countDaysAfter counts the entries past seq upTo by day, with the
// newest seq of each day: a range of the primary key.
func (db *DB) countDaysAfter(ctx context.Context, upTo int64) ([]openDayRow, error) {
	d := db.Dialect
	var rows []openDayRow
	err := db.planned(ctx).Raw(`SELECT `+d.dayEpoch("day")+` AS day, n, top FROM (SELECT `+d.utcDay("occurred_at")+` AS day,
	COUNT(*) AS n, MAX(seq) AS top FROM audit_entries WHERE seq > ? GROUP BY day) AS g`, upTo).Scan(&rows).Error
	return dayStarts(rows), err
}

// dayStarts puts each row's day on its UTC midnight, as emptyDays does.
func dayStarts(rows []openDayRow) []openDayRow {
	for i := range rows {
		rows[i].Day = time.Unix(rows[i].Day, 0).UTC().Truncate(24 * time.Hour).Unix()
	}
	return rows
}
