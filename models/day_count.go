package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// DayCount is how many of something fell on one UTC day.
type DayCount struct {
	Day time.Time
	N   int64
}

// emptyDays is the last days UTC days up to and including now's, oldest
// first, each counting zero.
func emptyDays(now time.Time, days int) []DayCount {
	start := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(days - 1))
	out := make([]DayCount, days)
	for i := range out {
		out[i].Day = start.AddDate(0, 0, i)
	}
	return out
}

// countPerDay counts q's rows by the UTC day of column over the last days
// days up to and including now's, oldest first, zeros included. It groups
// by the day expression (cheap per row), then converts the few groups.
func (db *DB) countPerDay(ctx context.Context, q *gorm.DB, column string, now time.Time, days int) ([]DayCount, error) {
	out := emptyDays(now, days)
	counts, err := db.countDaysBetween(ctx, q, column, out[0].Day, time.Time{})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].N = counts[out[i].Day.Unix()]
	}
	return out, nil
}

// countDaysBetween counts q's rows by the UTC day of column from from
// (inclusive) to to (exclusive; zero is open), keyed by the day's Unix
// time.
func (db *DB) countDaysBetween(ctx context.Context, q *gorm.DB, column string, from, to time.Time) (map[int64]int64, error) {
	var rows []struct {
		Day int64
		N   int64
	}
	perDay := q.Select(db.Dialect.utcDay(column)+" AS day, COUNT(*) AS n").Where(column+" >= ?", from)
	if !to.IsZero() {
		perDay = perDay.Where(column+" < ?", to)
	}
	err := db.planned(ctx).Table("(?) AS per_day", perDay.Group("day")).Select(db.Dialect.dayEpoch("day") + " AS day, n").Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	counts := make(map[int64]int64, len(rows))
	for _, r := range rows {
		counts[time.Unix(r.Day, 0).UTC().Truncate(24*time.Hour).Unix()] += r.N
	}
	return counts, nil
}
