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
	start := out[0].Day
	var rows []struct {
		Day int64
		N   int64
	}
	perDay := q.Select(db.Dialect.utcDay(column)+" AS day, COUNT(*) AS n").Where(column+" >= ?", start).Group("day")
	err := db.planned(ctx).Table("(?) AS per_day", perDay).Select(db.Dialect.dayEpoch("day") + " AS day, n").Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		d := time.Unix(r.Day, 0).UTC()
		if i := int(d.Sub(start) / (24 * time.Hour)); i >= 0 && i < days {
			out[i].N += r.N
		}
	}
	return out, nil
}
