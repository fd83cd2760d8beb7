package models_test

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/demo"
	"ledgerdesk/models/querytrace"
	"ledgerdesk/models/testdb"
)

func TestListEndUsers_AWholeAddressIsFoundByItsRarestStretches(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		owner := testdb.Owner(t, db)
		if _, err := demo.Seed(ctx, owner, systemOrigin, demo.Options{Users: 600, Seed: 11}, nil); err != nil {
			t.Fatal(err)
		}
		// Two users whose addresses hold each other's parts: a lookup by
		// stretches finds both for either address, and only the whole
		// term's check tells them apart.
		var ids []int64
		for i, email := range []string{"qqqwww.zzkk@example.com", "zzkkqqq.www@example.com"} {
			identity := carmen()
			identity.Emails = []string{email}
			u, err := db.CreateEndUser(ctx, systemOrigin, models.EndUserInput{ClientUserID: "stretch-" + strconv.Itoa(i), Identity: identity})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, u.User.ID)
		}
		if db.Dialect == models.Postgres {
			// What autovacuum's ANALYZE would do on a real table.
			if err := owner.Gorm().Exec(`ANALYZE end_users`).Error; err != nil {
				t.Fatal(err)
			}
		}
		var log bytes.Buffer
		db.WatchQueries(querytrace.Settings{Slow: time.Nanosecond, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
		for i, email := range []string{"qqqwww.zzkk@example.com", "ZZKKQQQ.www@example.com"} {
			p := listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: email}, Limit: 25})
			if len(p.Users) != 1 || p.Users[0].ID != ids[i] || !p.Count.Exact || p.Count.N != 1 {
				t.Errorf("%s: %d users (count %+v), want exactly user %d", email, len(p.Users), p.Count, ids[i])
			}
		}
		p := listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: "www.zzkkqqq@example.com"}, Limit: 25})
		if len(p.Users) != 0 {
			t.Errorf("an address nobody has found %d users", len(p.Users))
		}
		db.WatchQueries(querytrace.Settings{})
		looked := strings.Contains(log.String(), "strpos(search_key")
		if want := db.Dialect == models.Postgres; looked != want {
			t.Errorf("looked up by stretches: %v, want %v:\n%s", looked, want, log.String())
		}
	})
}
