package models_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/querytrace"
	"ledgerdesk/models/testdb"
)

func TestOverview_FiguresMatchTheFixture(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		f := newSearchFixture(t, db)
		// One user joined 10 days ago: in the month's figure, not the week's.
		old := models.Now().AddDate(0, 0, -10)
		if err := db.Gorm().Exec(`UPDATE end_users SET created_at = ? WHERE id = ?`, old, f.bare.User.ID).Error; err != nil {
			t.Fatal(err)
		}
		o, err := db.RefreshOverview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		check := func(name string, got, want int64) {
			t.Helper()
			if got != want {
				t.Errorf("%s = %d, want %d", name, got, want)
			}
		}
		check("users", o.Users, 7)
		check("new this week", o.NewWeek, 6)
		check("new this month", o.NewMonth, 7)
		check("items in error", o.ItemsInError, 1)
		check("users in error", o.UsersInError, 1)
		check("consent expiring in 7 days", o.ConsentExpiringWeek, 1)
		check("consent expiring in 30 days", o.ConsentExpiringMonth, 1)
		check("consent expired", o.ConsentExpired, 1)
		if len(o.ErrorCodes) != 1 || o.ErrorCodes[0] != (models.ErrorGroup{Key: "ITEM_LOGIN_REQUIRED", Label: "ITEM_LOGIN_REQUIRED", Items: 1, Users: 1}) {
			t.Errorf("error codes = %+v", o.ErrorCodes)
		}
		if len(o.ErrorInstitutions) != 1 || o.ErrorInstitutions[0] != (models.ErrorGroup{Key: "ins_109508", Label: institutionName(t, db, "ins_109508"), Items: 1, Users: 1}) {
			t.Errorf("error institutions = %+v", o.ErrorInstitutions)
		}
		today := models.Now().UTC().Truncate(24 * time.Hour)
		if n := len(o.NewUsersPerDay); n != models.OverviewDays || !o.NewUsersPerDay[n-1].Day.Equal(today) {
			t.Fatalf("new users per day: %d days ending %v", n, o.NewUsersPerDay[n-1].Day)
		}
		check("new today", o.NewUsersPerDay[models.OverviewDays-1].N, 6)
		check("new 10 days ago", o.NewUsersPerDay[models.OverviewDays-11].N, 1)
		if !o.NewWeekFrom.Equal(today.AddDate(0, 0, -6)) || !o.NewMonthFrom.Equal(today.AddDate(0, 0, -29)) {
			t.Errorf("windows start %v and %v", o.NewWeekFrom, o.NewMonthFrom)
		}
		// The figures open exactly the users they count.
		for _, tc := range []struct {
			name   string
			filter models.UserFilter
			want   int64
		}{
			{"new this week", models.UserFilter{CreatedFrom: o.NewWeekFrom.Format(time.DateOnly)}, o.NewWeek},
			{"new this month", models.UserFilter{CreatedFrom: o.NewMonthFrom.Format(time.DateOnly)}, o.NewMonth},
			{"in error", models.UserFilter{Health: models.HealthError}, o.UsersInError},
			{"by code", models.UserFilter{Health: models.HealthError, ErrorCode: o.ErrorCodes[0].Key}, o.ErrorCodes[0].Users},
			{"by institution", models.UserFilter{Health: models.HealthError, Institution: o.ErrorInstitutions[0].Key}, o.ErrorInstitutions[0].Users},
			{"expiring week", models.UserFilter{Health: models.HealthExpiring}, o.ConsentExpiringWeek},
			{"expiring month", models.UserFilter{Health: models.HealthExpiringMonth}, o.ConsentExpiringMonth},
			{"expired", models.UserFilter{Health: models.HealthExpired}, o.ConsentExpired},
		} {
			p := listPage(t, db, models.UserPageRequest{Filter: tc.filter, Limit: 100})
			if int64(len(p.Users)) != tc.want {
				t.Errorf("%s: the list shows %d users, the figure says %d", tc.name, len(p.Users), tc.want)
			}
		}

		// Items in error are recorded per day: today's is counted, a day
		// never recorded says so, and a recorded day keeps its figure.
		last := o.ItemsInErrorPerDay[models.OverviewDays-1]
		if !last.Recorded || last.N != 1 || o.ItemsInErrorPerDay[0].Recorded {
			t.Errorf("items in error per day: first %+v, last %+v", o.ItemsInErrorPerDay[0], last)
		}
		yesterday := models.OverviewDay{Day: today.AddDate(0, 0, -1), ItemsInError: 42, RecordedAt: models.Now()}
		if err := db.Gorm().Create(&yesterday).Error; err != nil {
			t.Fatal(err)
		}
		if o, err = db.RefreshOverview(ctx); err != nil {
			t.Fatal(err)
		}
		if d := o.ItemsInErrorPerDay[models.OverviewDays-2]; !d.Recorded || d.N != 42 {
			t.Errorf("yesterday = %+v, want 42 recorded", d)
		}
	})
}

func TestOverview_PagesReadTheStoredFiguresUntilTheyAreStale(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		first, err := db.Overview(ctx) // none stored yet: computed once
		if err != nil {
			t.Fatal(err)
		}
		if first.Users != 0 {
			t.Fatalf("empty database has %d users", first.Users)
		}
		createUser(t, db, "client-late", nil)
		again, err := db.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if again.Users != 0 || !again.AsOf.Equal(first.AsOf) {
			t.Errorf("a fresh snapshot was recomputed: %d users as of %v", again.Users, again.AsOf)
		}
		if refreshed, err := db.RefreshOverviewIfDue(ctx, models.OverviewEvery); err != nil || refreshed {
			t.Errorf("refresh of a fresh snapshot: %v, %v; want skipped", refreshed, err)
		}
		// A snapshot older than the schedule allows is shown as it is,
		// and recomputed behind the page.
		if err := db.Gorm().Exec(`UPDATE overview_snapshot SET computed_at = ?`, models.Now().Add(-time.Hour)).Error; err != nil {
			t.Fatal(err)
		}
		stale, err := db.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if stale.Users != 0 {
			t.Errorf("a stale snapshot was recomputed while the page waited: %d users", stale.Users)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			o, err := db.Overview(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if o.Users == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a stale snapshot was not refreshed behind the page: %d users", o.Users)
			}
		}
		if err := db.Gorm().Exec(`UPDATE overview_snapshot SET computed_at = ?`, models.Now().Add(-time.Minute)).Error; err != nil {
			t.Fatal(err)
		}
		if refreshed, err := db.RefreshOverviewIfDue(ctx, models.OverviewEvery); err != nil || !refreshed {
			t.Errorf("refresh of a minute-old snapshot: %v, %v; want refreshed", refreshed, err)
		}
	})
}

func TestOverview_LiveFigures(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		insertMember(t, db, "invited@example.com", models.MemberInvited, "")
		u := createUser(t, db, "client-live", carmen())
		if _, err := db.RevealPII(ctx, adminOrigin, models.RoleAdmin, u.User.ID, models.RevealSSN, "Checking a dispute, case 4411"); err != nil {
			t.Fatal(err)
		}
		l, err := db.ReadOverviewLive(ctx, models.Now())
		if err != nil {
			t.Fatal(err)
		}
		if l.PendingInvitations != 1 || l.RevealsToday != 1 || l.FailingWebhooks != 0 || l.OutboxBacklog != 0 || l.LastCheckpoint != nil {
			t.Errorf("live figures = %+v", l)
		}
		// A second reveal is counted from the entries appended since the
		// first count, not by counting the day again.
		if _, err := db.RevealPII(ctx, adminOrigin, models.RoleAdmin, u.User.ID, models.RevealDateOfBirth, "Checking a dispute, case 4411"); err != nil {
			t.Fatal(err)
		}
		record(t, db, "test.other", "1")
		var log bytes.Buffer
		db.WatchQueries(querytrace.Settings{Slow: time.Nanosecond, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
		if l, err = db.ReadOverviewLive(ctx, models.Now()); err != nil || l.RevealsToday != 2 {
			t.Errorf("reveals today after a second: %d, %v; want 2", l.RevealsToday, err)
		}
		db.WatchQueries(querytrace.Settings{})
		for _, line := range slowLines(t, &log) {
			if strings.Contains(line.SQL, "action = ") && !strings.Contains(line.SQL, "seq > ") {
				t.Errorf("today's reveals were counted whole again: %s", line.SQL)
			}
		}
		// Tomorrow, today's reveal is no longer today's.
		l, err = db.ReadOverviewLive(ctx, models.Now().AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if l.RevealsToday != 0 {
			t.Errorf("reveals tomorrow = %d", l.RevealsToday)
		}
	})
}

func TestOverview_ADatabaseErrorIsReturned(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Overview(ctx); err == nil {
			t.Error("overview on a closed database succeeded")
		}
		if _, err := db.ReadOverviewLive(ctx, models.Now()); err == nil {
			t.Error("live figures on a closed database succeeded")
		}
	})
}

// institutionName is how the institutions table names id, or id itself
// when the table does not know it.
func institutionName(t *testing.T, db *models.DB, id string) string {
	t.Helper()
	list, err := db.Institutions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range list {
		if i.ID == id {
			return i.Name
		}
	}
	return id
}
