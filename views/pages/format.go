package pages

import (
	"strconv"
	"time"
)

// utc formats t in UTC, as the pages label their times. PostgreSQL's driver
// returns times in the server's local zone, so a time is never formatted
// as it comes.
func utc(t time.Time, layout string) string { return t.UTC().Format(layout) }

// ago says how long before now t was, in the largest whole unit.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
