package models_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// insertUsers writes n users directly (no audit), created at at(i), for
// tests about reading lists. Identity-less unless search is set, in which
// case search(i) becomes the user's search_text.
func insertUsers(t testing.TB, db *models.DB, prefix string, n int, at func(i int) time.Time, search func(i int) string) []models.EndUser {
	t.Helper()
	users := make([]models.EndUser, n)
	for i := range users {
		created := at(i).UTC().Truncate(time.Microsecond)
		users[i] = models.EndUser{UserID: models.NewUserID(), ClientUserID: fmt.Sprintf("%s-%d", prefix, i),
			UserTokenHash: models.HashToken(models.RandomToken(16)), CreatedAt: created, UpdatedAt: created, Version: 1}
		if search != nil {
			users[i].SearchText = search(i)
		}
	}
	if err := db.Gorm().CreateInBatches(users, 200).Error; err != nil {
		t.Fatalf("insert users: %v", err)
	}
	return users
}

// newestFirst orders users as the list does: created_at DESC, id DESC.
func newestFirst(us []models.EndUser) []int64 {
	us = append([]models.EndUser(nil), us...)
	sort.Slice(us, func(i, j int) bool {
		if !us[i].CreatedAt.Equal(us[j].CreatedAt) {
			return us[i].CreatedAt.After(us[j].CreatedAt)
		}
		return us[i].ID > us[j].ID
	})
	out := make([]int64, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

func pageIDs(p *models.UserPage) []int64 {
	out := make([]int64, len(p.Users))
	for i, u := range p.Users {
		out[i] = u.ID
	}
	return out
}

func listPage(t testing.TB, db *models.DB, r models.UserPageRequest) *models.UserPage {
	t.Helper()
	p, err := db.ListEndUsers(ctx, r)
	if err != nil {
		t.Fatalf("list %+v: %v", r, err)
	}
	return p
}

// walkNext follows Next from the first page, calling between(i) after
// each page, and returns the pages.
func walkNext(t testing.TB, db *models.DB, r models.UserPageRequest, between func(page int)) []*models.UserPage {
	t.Helper()
	var pages []*models.UserPage
	for {
		p := listPage(t, db, r)
		pages = append(pages, p)
		if between != nil {
			between(len(pages))
		}
		if p.Next == "" {
			return pages
		}
		if len(pages) > 1000 {
			t.Fatal("Next never ends")
		}
		r.Cursor = p.Next
	}
}

// pagingBase is a clock far from now, so users created by tests that run
// in between are always newer.
var pagingBase = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// threePerSecond gives every three users one created_at, so the id decides
// their order: ties are the rule, not the exception.
func threePerSecond(i int) time.Time {
	return pagingBase.Add(-time.Duration(i/3) * time.Second)
}

func TestListEndUsers_KeysetWalkReturnsEveryUserOnceInOrder(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		users := insertUsers(t, db, "page", 237, threePerSecond, nil)
		// A few users with a fractional-second created_at between others.
		users = append(users, insertUsers(t, db, "frac", 5, func(i int) time.Time {
			return pagingBase.Add(-time.Duration(10+i)*time.Second + 500*time.Millisecond + time.Duration(i)*time.Microsecond)
		}, nil)...)
		want := newestFirst(users)
		for _, size := range models.PageSizes {
			pages := walkNext(t, db, models.UserPageRequest{Limit: size}, nil)
			var got []int64
			for i, p := range pages {
				got = append(got, pageIDs(p)...)
				if i < len(pages)-1 && len(p.Users) != size {
					t.Errorf("size %d: page %d has %d users", size, i, len(p.Users))
				}
				if (i == 0) != (p.Prev == "") {
					t.Errorf("size %d: page %d Prev = %q", size, i, p.Prev)
				}
				if !p.Count.Exact || p.Count.N != int64(len(users)) {
					t.Errorf("size %d: page %d count %+v, want exactly %d", size, i, p.Count, len(users))
				}
			}
			if wantPages := (len(users) + size - 1) / size; len(pages) != wantPages {
				t.Errorf("size %d: %d pages, want %d", size, len(pages), wantPages)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("size %d: walk returned %d users, not each user once newest first\n got %v\nwant %v", size, len(got), got, want)
			}

			// Walking Prev from the last page gives the same pages back.
			back := pages[len(pages)-1]
			for i := len(pages) - 2; i >= 0; i-- {
				if back.Prev == "" {
					t.Fatalf("size %d: page %d has no Prev", size, i+1)
				}
				back = listPage(t, db, models.UserPageRequest{Limit: size, Cursor: back.Prev})
				if !reflect.DeepEqual(pageIDs(back), pageIDs(pages[i])) {
					t.Fatalf("size %d: Prev to page %d\n got %v\nwant %v", size, i, pageIDs(back), pageIDs(pages[i]))
				}
				if back.Next == "" {
					t.Errorf("size %d: page %d reached by Prev has no Next", size, i)
				}
			}
			if back.Prev != "" {
				t.Errorf("size %d: the first page reached by Prev has Prev %q", size, back.Prev)
			}
			// And Next from a page reached by Prev continues where it should.
			if len(pages) > 1 {
				again := listPage(t, db, models.UserPageRequest{Limit: size, Cursor: back.Next})
				if !reflect.DeepEqual(pageIDs(again), pageIDs(pages[1])) {
					t.Errorf("size %d: Next after walking back = %v, want %v", size, pageIDs(again), pageIDs(pages[1]))
				}
			}
		}
	})
}

func TestListEndUsers_WalkWhileUsersAreInsertedReturnsEachOriginalOnce(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		users := insertUsers(t, db, "orig", 237, threePerSecond, nil)
		original := map[int64]bool{}
		for _, u := range users {
			original[u.ID] = true
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		inserted := 0
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					_, err := db.CreateEndUser(ctx, adminOrigin, models.EndUserInput{ClientUserID: fmt.Sprintf("new-%d-%d", w, n)})
					if err != nil {
						t.Errorf("concurrent create: %v", err)
						return
					}
					mu.Lock()
					inserted++
					mu.Unlock()
				}
			}(w)
		}
		// Also insert synchronously between pages, so the walk always
		// overlaps inserts however the goroutines are scheduled, including
		// users that tie with the newest original.
		between := func(page int) {
			insertUsers(t, db, fmt.Sprintf("between-%d", page), 3, func(int) time.Time { return pagingBase }, nil)
			insertUsers(t, db, fmt.Sprintf("newer-%d", page), 2, func(i int) time.Time { return models.Now() }, nil)
		}
		seen := map[int64]int{}
		for _, p := range walkNext(t, db, models.UserPageRequest{Limit: 25}, between) {
			for _, u := range p.Users {
				seen[u.ID]++
			}
		}
		close(stop)
		wg.Wait()
		for id := range original {
			if seen[id] != 1 {
				t.Errorf("original user %d seen %d times", id, seen[id])
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("user %d seen %d times", id, n)
			}
		}
		if inserted == 0 {
			t.Log("the background writers inserted nothing during the walk")
		}
	})
}

func TestListEndUsers_GarbageCursorIsInvalid(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		insertUsers(t, db, "few", 3, threePerSecond, nil)
		enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		for _, c := range []string{"garbage", "!!!", enc("not json"), enc(`{"t":"2024-01-01T00:00:00Z","i":5,"d":"x"}`),
			enc(`{"t":"2024-01-01T00:00:00Z","i":0,"d":"n"}`), enc(`{"t":"yesterday","i":5,"d":"n"}`), enc(`[]`)} {
			_, err := db.ListEndUsers(ctx, models.UserPageRequest{Cursor: c})
			domainError(t, err, models.KindInvalid)
		}
	})
}

func TestListEndUsers_UnknownPageSizeFallsBackTo25(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		insertUsers(t, db, "sized", 120, threePerSecond, nil)
		for _, size := range []int{-1, 0, 1, 24, 26, 30, 75, 101, 1000, 1 << 30} {
			if p := listPage(t, db, models.UserPageRequest{Limit: size}); len(p.Users) != 25 {
				t.Errorf("limit %d gave %d users, want 25", size, len(p.Users))
			}
		}
		for _, size := range models.PageSizes {
			if p := listPage(t, db, models.UserPageRequest{Limit: size}); len(p.Users) != size {
				t.Errorf("limit %d gave %d users", size, len(p.Users))
			}
		}
	})
}

// searchFixture is a small population with known names, emails, phones,
// items and one removed user.
type searchFixture struct {
	carmen, sydney, richie, bare, underscore, lookalike, percent, removed *models.Created
}

func person(first, last string, phone string, email ...string) *models.Identity {
	id := carmen()
	id.FirstName, id.LastName, id.PhoneNumbers, id.Emails = first, last, []string{phone}, email
	return id
}

func newSearchFixture(t *testing.T, db *models.DB) searchFixture {
	t.Helper()
	var f searchFixture
	f.carmen = createUser(t, db, "c0e2c4ee-b763-4af5-cfe9-46a46bce883d", carmen())
	f.sydney = createUser(t, db, "client-sydney", person("Sydney", "Abbott", "+14155550100", "syd@kitchen.org"))
	f.richie = createUser(t, db, "client-richie", person("Richie", "Jerimovich", "+13125559999", "cousin@example.net"))
	f.bare = createUser(t, db, "ab", nil)
	f.underscore = createUser(t, db, "client-underscore", person("Marcus", "Brooks", "+17735550101", "a_b@pastry.com"))
	f.lookalike = createUser(t, db, "client-lookalike", person("Tina", "Marrero", "+17735550102", "axb@pastry.com"))
	f.percent = createUser(t, db, "client-percent", person("Fifty%Off", "Fak", "+17735550103", "fak@example.org"))
	f.removed = createUser(t, db, "client-removed", person("Michael", "Berzatto", "+13125550001", "mikey@example.com"))
	if err := db.RemoveEndUser(ctx, adminOrigin, f.removed.User.ID, "client-removed"); err != nil {
		t.Fatal(err)
	}
	now := models.Now()
	soon, past, far := now.Add(3*24*time.Hour), now.Add(-24*time.Hour), now.Add(60*24*time.Hour)
	addItemAt(t, db, f.carmen.User.ID, "ins_109508", plaidError("ITEM_LOGIN_REQUIRED"), nil)
	addItemAt(t, db, f.carmen.User.ID, "ins_3", nil, &far)
	addItemAt(t, db, f.sydney.User.ID, "ins_4", nil, &soon)
	addItemAt(t, db, f.richie.User.ID, "ins_4", nil, &past)
	addItemAt(t, db, f.underscore.User.ID, "ins_109508", nil, nil)
	addItemAt(t, db, f.lookalike.User.ID, "ins_5", nil, &far)
	return f
}

func ids(cs ...*models.Created) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.User.ID
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func TestListEndUsers_SearchAndFilters(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		f := newSearchFixture(t, db)
		cases := []struct {
			name   string
			filter models.UserFilter
			want   []int64
		}{
			{"no filter lists active users", models.UserFilter{},
				ids(f.carmen, f.sydney, f.richie, f.bare, f.underscore, f.lookalike, f.percent)},
			{"exact id", models.UserFilter{Search: strconv.FormatInt(f.richie.User.ID, 10)}, ids(f.richie)},
			{"exact id with spaces", models.UserFilter{Search: "  " + strconv.FormatInt(f.richie.User.ID, 10) + " "}, ids(f.richie)},
			{"exact user_id", models.UserFilter{Search: f.sydney.User.UserID}, ids(f.sydney)},
			{"user_id is case-sensitive", models.UserFilter{Search: strings.ToLower(f.sydney.User.UserID)}, nil},
			{"exact client_user_id", models.UserFilter{Search: "c0e2c4ee-b763-4af5-cfe9-46a46bce883d"}, ids(f.carmen)},
			{"part of a client_user_id finds nothing", models.UserFilter{Search: "c0e2c4ee"}, nil},
			{"name substring, upper case", models.UserFilter{Search: "ERZAT"}, ids(f.carmen)},
			{"last name", models.UserFilter{Search: "berzatto"}, ids(f.carmen)},
			{"first and last name", models.UserFilter{Search: "carmen berz"}, ids(f.carmen)},
			{"first name substring", models.UserFilter{Search: "ichi"}, ids(f.richie)},
			{"email prefix", models.UserFilter{Search: "carmy"}, ids(f.carmen)},
			{"second email prefix", models.UserFilter{Search: "bear@"}, ids(f.carmen)},
			{"email domain substring", models.UserFilter{Search: "example.com"}, ids(f.carmen)},
			{"email substring across users", models.UserFilter{Search: "@pastry"}, ids(f.underscore, f.lookalike)},
			{"email in capitals", models.UserFilter{Search: "COUSIN@EXAMPLE.NET"}, ids(f.richie)},
			{"phone prefix", models.UserFilter{Search: "+1312"}, ids(f.carmen, f.richie)},
			{"whole phone", models.UserFilter{Search: "+14155550100"}, ids(f.sydney)},
			{"two characters match only exact ids", models.UserFilter{Search: "ab"}, ids(f.bare)},
			{"two characters that are no id", models.UserFilter{Search: "rm"}, nil},
			{"underscore is literal", models.UserFilter{Search: "a_b@"}, ids(f.underscore)},
			{"underscore alone is literal", models.UserFilter{Search: "___"}, nil},
			{"percent is literal", models.UserFilter{Search: "50%off"}, nil},
			{"percent inside a name", models.UserFilter{Search: "y%o"}, ids(f.percent)},
			{"percent alone is literal", models.UserFilter{Search: "%%%"}, nil},
			{"backslash is literal", models.UserFilter{Search: `a\_b`}, nil},
			{"no match", models.UserFilter{Search: "zzzzzz"}, nil},
			{"removed users", models.UserFilter{Status: models.StatusRemoved}, ids(f.removed)},
			{"all users", models.UserFilter{Status: models.StatusAll},
				ids(f.carmen, f.sydney, f.richie, f.bare, f.underscore, f.lookalike, f.percent, f.removed)},
			{"unknown status means active", models.UserFilter{Status: "deleted", Search: "client-removed"}, nil},
			{"removed user by client_user_id", models.UserFilter{Status: models.StatusAll, Search: "client-removed"}, ids(f.removed)},
			{"removed user not found by its erased name", models.UserFilter{Status: models.StatusAll, Search: "mikey"}, nil},
			{"health error", models.UserFilter{Health: models.HealthError}, ids(f.carmen)},
			{"health consent expiring", models.UserFilter{Health: models.HealthExpiring}, ids(f.sydney)},
			{"health consent expired", models.UserFilter{Health: models.HealthExpired}, ids(f.richie)},
			{"unknown health means any", models.UserFilter{Health: "sick", Search: "+1312"}, ids(f.carmen, f.richie)},
			{"institution", models.UserFilter{Institution: "ins_109508"}, ids(f.carmen, f.underscore)},
			{"other institution", models.UserFilter{Institution: "ins_4"}, ids(f.sydney, f.richie)},
			{"unknown institution", models.UserFilter{Institution: "ins_999"}, nil},
			{"institution and health", models.UserFilter{Institution: "ins_4", Health: models.HealthExpired}, ids(f.richie)},
			{"institution and error", models.UserFilter{Institution: "ins_109508", Health: models.HealthError}, ids(f.carmen)},
			{"search and institution", models.UserFilter{Search: "pastry", Institution: "ins_109508"}, ids(f.underscore)},
			{"search and health", models.UserFilter{Search: "+1312", Health: models.HealthExpired}, ids(f.richie)},
			{"removed and health", models.UserFilter{Status: models.StatusRemoved, Health: models.HealthError}, nil},
			{"error code", models.UserFilter{ErrorCode: "ITEM_LOGIN_REQUIRED"}, ids(f.carmen)},
			{"error code nobody has", models.UserFilter{ErrorCode: "INSTITUTION_DOWN"}, nil},
			{"error code at its institution", models.UserFilter{ErrorCode: "ITEM_LOGIN_REQUIRED", Institution: "ins_109508"}, ids(f.carmen)},
			{"error code at another of the user's institutions", models.UserFilter{ErrorCode: "ITEM_LOGIN_REQUIRED", Institution: "ins_3"}, nil},
			{"error means an item in error at the institution", models.UserFilter{Institution: "ins_3", Health: models.HealthError}, nil},
			{"health consent expiring in 30 days", models.UserFilter{Health: models.HealthExpiringMonth}, ids(f.sydney)},
			{"created from today", models.UserFilter{CreatedFrom: models.Now().Format(time.DateOnly)},
				ids(f.carmen, f.sydney, f.richie, f.bare, f.underscore, f.lookalike, f.percent)},
			{"created from tomorrow", models.UserFilter{CreatedFrom: models.Now().AddDate(0, 0, 1).Format(time.DateOnly)}, nil},
		}
		for _, tc := range cases {
			p := listPage(t, db, models.UserPageRequest{Filter: tc.filter, Limit: 100})
			got := sortedIDs(p.Users)
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s (%+v): got users %v, want %v", tc.name, tc.filter, got, tc.want)
			}
			if !p.Count.Exact || p.Count.N != int64(len(tc.want)) {
				t.Errorf("%s: count %+v, want exactly %d", tc.name, p.Count, len(tc.want))
			}
			if p.Next != "" || p.Prev != "" {
				t.Errorf("%s: one page has Next %q Prev %q", tc.name, p.Next, p.Prev)
			}
		}
	})
}

func TestListEndUsers_FiltersPageByKeysetToo(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		all := insertUsers(t, db, "mixed", 90, threePerSecond, func(i int) string {
			if i%2 == 0 {
				return fmt.Sprintf(" even person %d even%d@example.com", i, i)
			}
			return fmt.Sprintf(" odd person %d odd%d@example.com", i, i)
		})
		var evens []models.EndUser
		for i, u := range all {
			if i%2 == 0 {
				evens = append(evens, u)
			}
		}
		var got []int64
		for _, p := range walkNext(t, db, models.UserPageRequest{Limit: 25, Filter: models.UserFilter{Search: "even"}}, nil) {
			got = append(got, pageIDs(p)...)
			if p.Count.N != int64(len(evens)) || !p.Count.Exact {
				t.Errorf("count %+v, want exactly %d", p.Count, len(evens))
			}
		}
		if want := newestFirst(evens); !reflect.DeepEqual(got, want) {
			t.Errorf("filtered walk\n got %v\nwant %v", got, want)
		}
	})
}

func TestListEndUsers_HealthFiltersHoldForConsentTimesInAnyZone(t *testing.T) {
	t.Parallel()
	// SQLite compares stored times as text: a consent expiry written with a
	// zone offset must not move across "now".
	east, west := time.FixedZone("UTC+10", 10*3600), time.FixedZone("UTC-8", -8*3600)
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		var expired, expiring []int64
		for i, zone := range []*time.Location{east, west} {
			a := createUser(t, db, fmt.Sprintf("expired-%d", i), nil)
			b := createUser(t, db, fmt.Sprintf("expiring-%d", i), nil)
			past, soon := models.Now().Add(-time.Hour).In(zone), models.Now().Add(time.Hour).In(zone)
			addItem(t, db, a.User.ID, nil, &past)
			addItem(t, db, b.User.ID, nil, &soon)
			expired, expiring = append(expired, a.User.ID), append(expiring, b.User.ID)
		}
		for _, tc := range []struct {
			health string
			want   []int64
		}{{models.HealthExpired, expired}, {models.HealthExpiring, expiring}} {
			p := listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Health: tc.health}})
			if got := sortedIDs(p.Users); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.health, got, tc.want)
			}
		}
	})
}

func TestListEndUsers_BadOrLongSearchIsRefusedNamingItsField(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "euro", person("Euro", "€€€", "+13125551212", "euro@example.com"))
		// Refused the same way on both databases, before any query: a NUL
		// or broken UTF-8 would be a 500 on PostgreSQL.
		for _, tc := range []struct {
			filter      models.UserFilter
			field, want string
		}{
			{models.UserFilter{Search: strings.Repeat("€", 201)}, "q", "200"},
			{models.UserFilter{Search: "€€€\xff\xfe"}, "q", "UTF-8"},
			{models.UserFilter{Search: "\x00€€€"}, "q", "U+0000"},
			{models.UserFilter{Search: "\xe2\x82"}, "q", "UTF-8"},
			{models.UserFilter{Search: "eur\u202eo"}, "q", "U+202E"},
			{models.UserFilter{Institution: "ins_\xff"}, "institution", "UTF-8"},
			{models.UserFilter{Institution: "\x00"}, "institution", "U+0000"},
			{models.UserFilter{ErrorCode: "ITEM\x00"}, "error_code", "U+0000"},
			{models.UserFilter{ErrorCode: strings.Repeat("E", 1<<20)}, "error_code", ""},
			{models.UserFilter{CreatedFrom: "yesterday"}, "created_from", "YYYY-MM-DD"},
			{models.UserFilter{CreatedFrom: "2026-02-30"}, "created_from", "YYYY-MM-DD"},
			{models.UserFilter{CreatedFrom: "2026-01-01\x00"}, "created_from", "YYYY-MM-DD"},
		} {
			_, err := db.ListEndUsers(ctx, models.UserPageRequest{Filter: tc.filter})
			var merr *models.Error
			if !errors.As(err, &merr) || merr.Kind != models.KindInvalid || !strings.Contains(merr.Fields[tc.field], tc.want) {
				t.Errorf("filter %+v: %v, want %s refused mentioning %q", tc.filter, err, tc.field, tc.want)
			}
		}
		// 200 characters (600 bytes) is a search like any other.
		p := listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: strings.Repeat("€", 200)}})
		if len(p.Users) != 0 {
			t.Errorf("200 euros found %v", sortedIDs(p.Users))
		}
		p = listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: "€€€"}})
		if got := sortedIDs(p.Users); !reflect.DeepEqual(got, ids(c)) {
			t.Errorf("search €€€ = %v", got)
		}
	})
}

func TestListEndUsers_CountIsExactOnSQLiteAndABoundPastAThousandOnPostgres(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		insertUsers(t, db, "bulk", 1001, threePerSecond, func(i int) string { return fmt.Sprintf(" bulk person%d", i) })
		insertUsers(t, db, "other", 5, threePerSecond, func(i int) string { return " someone else" })
		p := listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: "bulk"}})
		want := models.UserCount{N: 1000, AtLeast: true}
		if db.Dialect == models.SQLite {
			want = models.UserCount{N: 1001, Exact: true}
		}
		if p.Count != want {
			t.Errorf("1001 matches: count %+v, want %+v", p.Count, want)
		}
		if len(p.Users) != 25 || p.Next == "" {
			t.Errorf("first page: %d users, next %q", len(p.Users), p.Next)
		}
		p = listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: "person100"}})
		if !p.Count.Exact || p.Count.N != 2 { // person100 and person1000
			t.Errorf("2 matches: count %+v", p.Count)
		}
		p = listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: "someone else"}})
		if !p.Count.Exact || p.Count.N != 5 {
			t.Errorf("5 matches: count %+v", p.Count)
		}
		if db.Dialect == models.SQLite {
			p = listPage(t, db, models.UserPageRequest{})
			if !p.Count.Exact || p.Count.N != 1006 {
				t.Errorf("unfiltered list of 1006: count %+v, want exactly 1006", p.Count)
			}
		}
	})
}

func TestListEndUsers_UnfilteredCountIsThePlannerEstimateOnPostgres(t *testing.T) {
	t.Parallel()
	db := testdb.Postgres(t)
	insertUsers(t, db, "many", 1500, threePerSecond, nil)
	exec(t, testdb.Owner(t, db), "ANALYZE end_users")
	p := listPage(t, db, models.UserPageRequest{})
	if !p.Count.Estimated || p.Count.N < 1400 || p.Count.N > 1600 {
		t.Errorf("count %+v, want an estimate near 1500", p.Count)
	}
	p = listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Status: models.StatusRemoved}})
	if !p.Count.Exact || p.Count.N != 0 {
		t.Errorf("removed users: count %+v, want exactly 0", p.Count)
	}
}

func TestListEndUsers_SearchTreatsPunctuationExactly(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		dot := createUser(t, db, "punct-dot", person("Cal", "Hunt", "+13125550201", "c.hunt@mail.com"))
		dash := createUser(t, db, "punct-dash", person("Cy", "Hunt", "+13125550202", "c-hunt@mail.com"))
		plain := createUser(t, db, "punct-plain", person("Chad", "Hunter", "+13125550203", "chunt@mail.com"))
		tagged := createUser(t, db, "punct-tagged", person("Cora", "Hunt", "+13125550204", "c_hunt+x@mail.com"))
		irish := createUser(t, db, "punct-irish", person("Aoife", "O'Brien", "+13125550205", "aoife@mail.com"))
		other := createUser(t, db, "punct-other", person("Aidan", "OBrien", "+13125550206", "aidan@mail.com"))
		cases := []struct {
			search string
			want   []int64
		}{
			{"c.hunt", ids(dot)},
			{"C-HUNT", ids(dash)},
			{"chunt", ids(plain)},
			{"c_hunt", ids(tagged)},
			{"hunt@", ids(dot, dash, plain)},
			{"+x@mail", ids(tagged)},
			{"o'bri", ids(irish)},
			{"obrien", ids(other)},
			{"@mail.com", ids(dot, dash, plain, tagged, irish, other)},
			{"+1312555020", ids(dot, dash, plain, tagged, irish, other)},
			{"cDhunt", nil}, // the key's letters are not what users type
		}
		for _, tc := range cases {
			p := listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: tc.search}, Limit: 100})
			if got := sortedIDs(p.Users); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("search %q: got %v, want %v", tc.search, got, tc.want)
			}
			if !p.Count.Exact || p.Count.N != int64(len(tc.want)) {
				t.Errorf("search %q: count %+v, want exactly %d", tc.search, p.Count, len(tc.want))
			}
		}
	})
}

func TestListEndUsers_FilteredCountIsThePlanEstimateOnPostgres(t *testing.T) {
	t.Parallel()
	db := testdb.Postgres(t)
	insertUsers(t, db, "common", 3000, threePerSecond, func(i int) string {
		if i%3 == 0 {
			return fmt.Sprintf(" rare%d person%d", i, i)
		}
		return fmt.Sprintf(" common person%d", i)
	})
	exec(t, testdb.Owner(t, db), "ANALYZE end_users")
	p := listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: "common"}})
	if !p.Count.Estimated || p.Count.N < 1500 || p.Count.N > 2500 {
		t.Errorf("2,000 matches: count %+v, want an estimate near 2,000", p.Count)
	}
	if len(p.Users) != 25 || p.Next == "" {
		t.Errorf("first page: %d users, next %q", len(p.Users), p.Next)
	}
	p = listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: "rare99 person"}})
	if !p.Count.Exact || p.Count.N != 1 { // not rare990 to rare999
		t.Errorf("one match: count %+v", p.Count)
	}
}

// onOneConnection opens a PostgreSQL test database a second time, on one
// connection, so pg_prepared_statements shows every statement a test ran:
// the database as first opened, and the one-connection handle.
func onOneConnection(t *testing.T) (first, db *models.DB) {
	t.Helper()
	first, dsn := testdb.PostgresWithDSN(t)
	db, err := models.OpenPostgres(dsn + "&pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	testdb.Configure(t, db)
	return first, db
}

// A search must be planned for its own pattern every time: a generic plan
// would use one index for rare and common terms alike. Statements sent
// unnamed are planned per run and never appear among the connection's
// prepared statements; lookups by key and the plain list are prepared once
// and stay there.
func TestPostgresPlansEachSearchForItsPattern(t *testing.T) {
	t.Parallel()
	_, db := onOneConnection(t)
	ctx := context.Background()
	u := createUser(t, db, "planned-1", nil).User
	for i := 0; i < 7; i++ { // past the five runs after which a generic plan may stick
		listPage(t, db, models.UserPageRequest{Filter: models.UserFilter{Search: "planned"}})
		listPage(t, db, models.UserPageRequest{})
		if _, err := db.EndUserByID(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	var prepared []string
	if err := db.Gorm().Raw("SELECT statement FROM pg_prepared_statements").Scan(&prepared).Error; err != nil {
		t.Fatal(err)
	}
	lookup, list := false, false
	for _, s := range prepared {
		if strings.Contains(s, "search_key") {
			t.Errorf("search prepared for generic plans: %s", s)
		}
		lookup = lookup || strings.Contains(s, "end_users") && strings.Contains(s, "id = $1")
		list = list || strings.Contains(s, "FROM \"end_users\"") && strings.Contains(s, "ORDER BY created_at DESC")
	}
	if !lookup {
		t.Errorf("lookup by id not among prepared statements %q: the check sees nothing", prepared)
	}
	// The whole list has one best plan: planning it every time would cost
	// more than running it.
	if !list {
		t.Errorf("page of the whole list not among prepared statements %q", prepared)
	}
}

// The plain list and a record's history have one best plan whatever
// their values, so each is planned once per connection and the plan
// reused. A LIMIT sent as a parameter prevented it: PostgreSQL costs a
// generic LIMIT $n at a tenth of the table, the plan made for 26 rows
// always looked cheaper, and every page was planned anew.
func TestPostgresReusesOnePlanForTheListAndAHistory(t *testing.T) {
	t.Parallel()
	first, db := onOneConnection(t)
	base := time.Now().Add(-time.Hour)
	insertUsers(t, db, "plan", 10000, func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) }, nil)
	u := createUser(t, db, "plan-history", nil).User
	if err := testdb.Owner(t, first).Gorm().Exec("ANALYZE end_users; ANALYZE audit_entries").Error; err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ { // past the five runs after which a generic plan may be chosen
		p := listPage(t, db, models.UserPageRequest{})
		listPage(t, db, models.UserPageRequest{Cursor: p.Next})
		if _, err := db.AuditHistory(ctx, models.FilterForTarget(u.AuditTarget()), 50); err != nil {
			t.Fatal(err)
		}
	}
	var plans []struct {
		Statement    string
		GenericPlans int
		CustomPlans  int
	}
	if err := db.Gorm().Raw("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements").Scan(&plans).Error; err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range plans {
		var what string
		switch {
		case strings.Contains(p.Statement, `FROM "end_users"`) && strings.Contains(p.Statement, "(created_at, id) <"):
			what = "list, next page"
		case strings.Contains(p.Statement, `FROM "end_users"`) && strings.Contains(p.Statement, "ORDER BY created_at DESC"):
			what = "list, first page"
		case strings.Contains(p.Statement, "FROM audit_entries") && strings.Contains(p.Statement, "target_id"):
			what = "history"
		default:
			continue
		}
		seen[what] = true
		if p.GenericPlans == 0 {
			t.Errorf("%s planned on every run (%d custom plans, no generic one): %s", what, p.CustomPlans, p.Statement)
		}
	}
	for _, what := range []string{"list, first page", "list, next page", "history"} {
		if !seen[what] {
			t.Errorf("%s not among the prepared statements %+v: the check sees nothing", what, plans)
		}
	}
}
