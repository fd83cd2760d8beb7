package models_test

import (
	"bytes"
	"log/slog"
	"slices"
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
		owner := seedDemo(t, db, 600, 11)
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
		analyzeUsers(t, db, owner)
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
		if db.Dialect == models.Postgres {
			// A count started beside a page runs on after it: time to
			// show in the log, if one was started.
			time.Sleep(300 * time.Millisecond)
		}
		db.WatchQueries(querytrace.Settings{})
		looked := strings.Contains(log.String(), "strpos(search_key")
		if want := db.Dialect == models.Postgres; looked != want {
			t.Errorf("looked up by stretches: %v, want %v:\n%s", looked, want, log.String())
		}
		// Each first page held every match, so it counted itself: no
		// estimate and no count was asked for beside it.
		if counted := strings.Contains(log.String(), "EXPLAIN") || strings.Contains(log.String(), "count("); counted && db.Dialect == models.Postgres {
			t.Errorf("a page of every match was counted again:\n%s", log.String())
		}
	})
}

// TestListEndUsers_EveryWayToASearchsMatchesShowsTheSamePages pages
// through searches as the list chooses to find them and as each way
// forced: a walk that never runs out, one that runs out on every page and
// hands over to the trigram index, and the trigram index alone. Every
// way shows the same users on the same pages, backwards too.
func TestListEndUsers_EveryWayToASearchsMatchesShowsTheSamePages(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		owner := seedDemo(t, db, 2500, 5)
		analyzeUsers(t, db, owner)
		pagesOf := func(term string) (ids [][]int64, counts []models.UserCount) {
			r := models.UserPageRequest{Filter: models.UserFilter{Search: term}, Limit: 25}
			pages := walkNext(t, db, r, nil)
			for _, p := range pages {
				var page []int64
				for _, u := range p.Users {
					page = append(page, u.ID)
				}
				ids, counts = append(ids, page), append(counts, p.Count)
			}
			if len(pages) > 1 {
				// Back from the last page is the one before it.
				last := pages[len(pages)-1]
				back := listPage(t, db, models.UserPageRequest{Filter: r.Filter, Limit: r.Limit, Cursor: last.Prev})
				var page []int64
				for _, u := range back.Users {
					page = append(page, u.ID)
				}
				if want := ids[len(ids)-2]; !slices.Equal(page, want) {
					t.Errorf("%q: back from the last page %v, want %v", term, page, want)
				}
			}
			return ids, counts
		}
		for _, term := range []string{"com", "son", "ana", "ber", "her"} {
			chosen, _ := pagesOf(term)
			if len(chosen) < 2 && db.Dialect == models.Postgres {
				t.Fatalf("%q: %d pages; the test needs a term on several", term, len(chosen))
			}
			var fetchedCounts []models.UserCount
			for _, walk := range []int64{1 << 30, 3, 0} {
				restore := models.FindSubstringsBy(db, walk)
				forced, counts := pagesOf(term)
				restore()
				if !slices.EqualFunc(forced, chosen, slices.Equal) {
					t.Errorf("%q, walk %d: pages %v, want %v", term, walk, forced, chosen)
				}
				fetchedCounts = counts
			}
			// Counted only once a page is full (or not the first): the
			// same pages, and the same counts as counted beside them.
			restore := models.CountSearchWhenFull(db)
			deferred, counts := pagesOf(term)
			restore()
			if !slices.EqualFunc(deferred, chosen, slices.Equal) || !slices.Equal(counts, fetchedCounts) {
				t.Errorf("%q, counted when full: pages %v counts %+v, want %v and %+v", term, deferred, counts, chosen, fetchedCounts)
			}
		}
		if db.Dialect != models.Postgres {
			return
		}
		// How the ways show in the statements: a common term is walked and
		// counted from the walk; a walk that runs out hands over.
		var log bytes.Buffer
		db.WatchQueries(querytrace.Settings{Slow: time.Nanosecond, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
		p := listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: "com"}, Limit: 25})
		walked, fetched := strings.Contains(log.String(), "AS newest"), strings.Contains(log.String(), "OFFSET 0) AS found")
		if !walked || fetched {
			t.Errorf(`"com": walked %v, fetched %v; want a walk alone:\n%s`, walked, fetched, log.String())
		}
		var all int64
		if err := owner.Gorm().Raw(`SELECT count(*) FROM end_users WHERE removed_at IS NULL AND search_key LIKE '%com%'`).Scan(&all).Error; err != nil {
			t.Fatal(err)
		}
		if !p.Count.Estimated || float64(p.Count.N) < 0.7*float64(all) || float64(p.Count.N) > 1.3*float64(all) {
			t.Errorf(`"com": count %+v, want an estimate within 30 %% of %d`, p.Count, all)
		}
		log.Reset()
		// "ber" has a trigram in under 2.8 % of the users: fewer than a
		// page's worth expected in the walk's 920 entries.
		listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: "ber"}, Limit: 25})
		walked, fetched = strings.Contains(log.String(), "AS newest"), strings.Contains(log.String(), "OFFSET 0) AS found")
		if walked || !fetched {
			t.Errorf(`"ber": walked %v, fetched %v; want a fetch alone:\n%s`, walked, fetched, log.String())
		}
		// "ana" is in 34 users: common trigrams, but 26 matches need more
		// than the 920 entries walked.
		log.Reset()
		listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: "ana"}, Limit: 25})
		db.WatchQueries(querytrace.Settings{})
		walked, fetched = strings.Contains(log.String(), "AS newest"), strings.Contains(log.String(), "OFFSET 0) AS found")
		if !walked || !fetched {
			t.Errorf(`"ana": walked %v, fetched %v; want a walk, then a fetch:\n%s`, walked, fetched, log.String())
		}
	})
}

// seedDemo seeds users demo users through the tables' owner, which it
// returns.
func seedDemo(t *testing.T, db *models.DB, users int, seed uint64) *models.DB {
	t.Helper()
	owner := testdb.Owner(t, db)
	if _, err := demo.Seed(ctx, owner, systemOrigin, demo.Options{Users: users, Seed: seed}, nil); err != nil {
		t.Fatal(err)
	}
	return owner
}

// analyzeUsers does what autovacuum's ANALYZE would on a real table: on
// PostgreSQL the search reads the trigrams' shares it keeps.
func analyzeUsers(t *testing.T, db, owner *models.DB) {
	t.Helper()
	if db.Dialect != models.Postgres {
		return
	}
	if err := owner.Gorm().Exec(`ANALYZE end_users`).Error; err != nil {
		t.Fatal(err)
	}
}
