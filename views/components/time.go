package components

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/a-h/templ"
)

// Every time a page shows is written here, one way: YYYY-MM-DD HH:MM in
// the member's zone (seconds where the order within a minute matters),
// inside a <time> whose datetime and title give the instant in UTC.
// Written by hand rather than in templ: long tables print one a row.
const (
	minuteLayout = "2006-01-02 15:04"
	secondLayout = "2006-01-02 15:04:05"
	utcLayout    = "2006-01-02 15:04:05 UTC"
)

// Time is t in zone, to the minute.
func Time(t time.Time, zone *time.Location) templ.Component {
	return moment{t: t, zone: zone, layout: minuteLayout}
}

// TimeSeconds is t in zone, to the second.
func TimeSeconds(t time.Time, zone *time.Location) templ.Component {
	return moment{t: t, zone: zone, layout: secondLayout}
}

// Ago is how long before now t was (or how soon after), with the time in
// zone and in UTC in its title.
func Ago(t, now time.Time, zone *time.Location) templ.Component {
	return moment{t: t, zone: zone, now: now, relative: true}
}

// FormatTime is t in zone as Time writes it, for text that cannot hold an
// element (an attribute, a question in a dialog).
func FormatTime(t time.Time, zone *time.Location) string {
	return t.In(orUTC(zone)).Format(minuteLayout)
}

func orUTC(zone *time.Location) *time.Location {
	if zone == nil {
		return time.UTC
	}
	return zone
}

type moment struct {
	t, now   time.Time
	zone     *time.Location
	layout   string
	relative bool
}

func (m moment) Render(_ context.Context, w io.Writer) error {
	var b [192]byte
	u, local := m.t.UTC(), m.t.In(orUTC(m.zone))
	buf := append(b[:0], `<time datetime="`...)
	buf = u.AppendFormat(buf, time.RFC3339)
	buf = append(buf, `" title="`...)
	if m.relative && local.Location() != time.UTC {
		buf = local.AppendFormat(buf, secondLayout)
		// Abbreviations come from the tz database ("CET", "+0530").
		buf = append(buf, ' ')
		buf = append(buf, templ.EscapeString(local.Format("MST"))...)
		buf = append(buf, ", "...)
	}
	buf = u.AppendFormat(buf, utcLayout)
	buf = append(buf, `">`...)
	if m.relative {
		buf = append(buf, Relative(m.t, m.now)...)
	} else {
		buf = local.AppendFormat(buf, m.layout)
	}
	buf = append(buf, "</time>"...)
	_, err := w.Write(buf)
	return err
}

// Relative says how long before now t was ("3 minutes ago"), or how soon
// after it is ("in 2 hours"), in the largest whole unit.
func Relative(t, now time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		if -d < time.Minute {
			return "in under a minute"
		}
		return "in " + span(-d)
	}
	if d < time.Minute {
		return "just now"
	}
	return span(d) + " ago"
}

func span(d time.Duration) string {
	switch {
	case d < time.Hour:
		return Plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return Plural(int(d/time.Hour), "hour")
	}
	return Plural(int(d/(24*time.Hour)), "day")
}

// Plural counts n of unit: "1 item", "0 items".
func Plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
