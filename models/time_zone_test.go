package models_test

import (
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestTimeZones_EveryListedZoneLoads(t *testing.T) {
	if len(models.TimeZones) < 400 {
		t.Fatalf("%d zones listed", len(models.TimeZones))
	}
	for _, name := range models.TimeZones {
		loc, err := models.LoadZone(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if loc.String() != name {
			t.Errorf("%s loads as %s", name, loc)
		}
	}
	for _, want := range []string{"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Calcutta", "Etc/UTC"} {
		if _, err := models.LoadZone(want); err != nil {
			t.Errorf("%s refused: %v", want, err)
		}
	}
}

func TestLoadZone_RefusesWhatIsNotAListedZone(t *testing.T) {
	for _, tc := range []struct{ name, mentions string }{
		{"", "from the list"},
		{"Local", "from the list"}, // the server's own zone
		{"Mars/Olympus_Mons", "from the list"},
		{"europe/paris", "from the list"},
		{"../../../etc/passwd", "from the list"},
		{"/usr/share/zoneinfo/Europe/Paris", "from the list"},
		{"US/Eastern", "from the list"},
		{"Europe/Paris\x00", "U+0000"},
		{"Europe/\xffParis", "UTF-8"},
		{strings.Repeat("a", 1_000_000), "too long"},
	} {
		_, err := models.LoadZone(tc.name)
		e := domainError(t, err, models.KindInvalid)
		if msg := e.Fields[models.FieldTimeZone]; !strings.Contains(msg, tc.mentions) {
			t.Errorf("%.40q: message %q, want one mentioning %q", tc.name, msg, tc.mentions)
		}
	}
}

func TestResolveZone_ChosenThenBrowserThenUTC(t *testing.T) {
	for _, tc := range []struct {
		chosen, browser, want string
		source                models.ZoneSource
	}{
		{"Asia/Tokyo", "Europe/Paris", "Asia/Tokyo", models.ZoneChosen},
		{"", "Europe/Paris", "Europe/Paris", models.ZoneBrowser},
		{"", "", "UTC", models.ZoneDefault},
		{"", "Local", "UTC", models.ZoneDefault},
		{"", "Europe/Paris\x00", "UTC", models.ZoneDefault},
		{"", strings.Repeat("Europe/Paris", 10_000), "UTC", models.ZoneDefault},
		{"Nowhere/Else", "Europe/Paris", "Europe/Paris", models.ZoneBrowser},
	} {
		z := models.ResolveZone(tc.chosen, tc.browser)
		if z.Name() != tc.want || z.Source != tc.source {
			t.Errorf("chosen %q, browser %.30q: %s (source %d), want %s (source %d)", tc.chosen, tc.browser, z.Name(), z.Source, tc.want, tc.source)
		}
	}
}

func TestSetMemberTimeZone_RoundTripsAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "zone-"+models.RandomHex(3)+"@example.com")
		if m.TimeZone != "" {
			t.Fatalf("a new member has zone %q", m.TimeZone)
		}
		got, err := db.SetMemberTimeZone(ctx, memberOrigin(m), m.ID, "Europe/Paris")
		if err != nil {
			t.Fatal(err)
		}
		if got.TimeZone != "Europe/Paris" || reloadMember(t, db, m.ID).TimeZone != "Europe/Paris" {
			t.Fatalf("zone after setting: %q, stored %q", got.TimeZone, reloadMember(t, db, m.ID).TimeZone)
		}
		// The session's reader (the fast path on PostgreSQL) sees it too.
		s := insertSession(t, db, m.ID, models.Now(), models.Now().Add(time.Hour))
		loaded, err := db.LoadSession(ctx, s.IDHash, models.SessionLimits{Idle: time.Hour, Absolute: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if loaded.Member.TimeZone != "Europe/Paris" {
			t.Fatalf("session's member has zone %q", loaded.Member.TimeZone)
		}

		// The same zone again changes nothing and adds no entry.
		before := snapshot(t, db)
		if _, err := db.SetMemberTimeZone(ctx, memberOrigin(m), m.ID, "Europe/Paris"); err != nil {
			t.Fatal(err)
		}
		assertUnchanged(t, db, before, "setting the zone a member already has")

		// Back to the browser's.
		if _, err := db.SetMemberTimeZone(ctx, memberOrigin(m), m.ID, ""); err != nil {
			t.Fatal(err)
		}
		if z := reloadMember(t, db, m.ID).TimeZone; z != "" {
			t.Fatalf("zone after clearing: %q", z)
		}
		es := entriesWithAction(t, db, "team.update")
		if len(es) != 2 {
			t.Fatalf("%d team.update entries, want 2", len(es))
		}
		if e := es[0]; e.TargetID != m.ID || e.ActorID != m.ID ||
			!strings.Contains(e.Diff, `"time_zone":"Europe/Paris"`) || !strings.Contains(e.Diff, `"time_zone":""`) {
			t.Fatalf("first entry %+v", e)
		}
	})
}

func TestSetMemberTimeZone_RefusesInvalidZonesWritingNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "zone-"+models.RandomHex(3)+"@example.com")
		before := snapshot(t, db)
		for _, bad := range []string{"Local", "Mars/Olympus_Mons", "Europe/Paris\x00", "Europe/\xffParis", strings.Repeat("a", 1_000_000)} {
			_, err := db.SetMemberTimeZone(ctx, memberOrigin(m), m.ID, bad)
			if e := domainError(t, err, models.KindInvalid); e.Fields[models.FieldTimeZone] == "" {
				t.Errorf("%.30q: no message for the field: %+v", bad, e)
			}
		}
		assertUnchanged(t, db, before, "refused zones")
		if z := reloadMember(t, db, m.ID).TimeZone; z != "" {
			t.Fatalf("zone after refusals: %q", z)
		}
	})
}
