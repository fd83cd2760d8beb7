package pages

import "time"

// utc formats t in UTC, as the pages label their times. PostgreSQL's driver
// returns times in the server's local zone, so a time is never formatted
// as it comes.
func utc(t time.Time, layout string) string { return t.UTC().Format(layout) }
