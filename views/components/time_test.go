package components

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
)

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b strings.Builder
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestTime_ShowsTheZonesTimeWithUTCInDatetimeAndTitle(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	// A time read from PostgreSQL comes in the server's zone: only the
	// instant counts.
	at := time.Date(2026, 12, 5, 9, 3, 7, 500, time.FixedZone("server", -6*3600))
	for _, tc := range []struct {
		c    templ.Component
		want string
	}{
		{Time(at, paris), `<time datetime="2026-12-05T15:03:07Z" title="2026-12-05 15:03:07 UTC">2026-12-05 16:03</time>`},
		{TimeSeconds(at, paris), `<time datetime="2026-12-05T15:03:07Z" title="2026-12-05 15:03:07 UTC">2026-12-05 16:03:07</time>`},
		{Time(at, nil), `<time datetime="2026-12-05T15:03:07Z" title="2026-12-05 15:03:07 UTC">2026-12-05 15:03</time>`},
		{Ago(at, at.Add(3*time.Minute), paris), `<time datetime="2026-12-05T15:03:07Z" title="2026-12-05 16:03:07 CET, 2026-12-05 15:03:07 UTC">3 minutes ago</time>`},
		{Ago(at, at.Add(-2*time.Hour), time.UTC), `<time datetime="2026-12-05T15:03:07Z" title="2026-12-05 15:03:07 UTC">in 2 hours</time>`},
	} {
		if got := render(t, tc.c); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestRelative_SaysTheLargestWholeUnit(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{59 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{59 * time.Minute, "59 minutes ago"},
		{time.Hour, "1 hour ago"},
		{47 * time.Hour, "47 hours ago"},
		{48 * time.Hour, "2 days ago"},
		{-30 * time.Second, "in under a minute"},
		{-5 * time.Minute, "in 5 minutes"},
		{-3 * 24 * time.Hour, "in 3 days"},
	} {
		if got := Relative(now.Add(-tc.d), now); got != tc.want {
			t.Errorf("%s before now: %q, want %q", tc.d, got, tc.want)
		}
	}
}
