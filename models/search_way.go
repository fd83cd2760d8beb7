package models

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"
)

// A substring search has two ways to its newest matches on PostgreSQL:
// walk the active users' index newest first (it carries search_key),
// reading about page/share entries, or find every match through the
// trigram index and fetch each one's row to sort them, about share×users
// rows. The planner chooses from search_key's histogram, where a term held
// by 0.01–0.5 % of users matches one bucket or none depending on ANALYZE's
// sample: at ten million users one term went from 8.5 ms walked to 27–33
// ms fetched, or a rarer one to a walk of a quarter of the table, from one
// ANALYZE to the next. The list therefore chooses itself, from the
// trigrams' shares (search_trigrams.go), and the choice bounds the cost
// whatever the term: a walk that has not filled the page within its budget
// hands over to the trigram index, by then sure to have few rows to fetch.

// walkedPerFetched is how many index entries a walk reads in the time a
// match costs the trigram way (fetching its row and sorting it), measured
// at ten million users: 0.27 µs per entry walked, 3.5 µs per match.
const walkedPerFetched = 13

// substringWay is how a users page's search finds its substring matches.
// The zero value leaves the choice to the planner.
type substringWay struct {
	walk  int64 // > 0: walk at most this many of the newest active users
	fetch bool  // find every match through the trigram index, then sort
	// few: the term is looked up by its rarest stretches, which are
	// expected to find hardly more than its own matches, so the page is
	// counted only once it is known to be full (the planner still finds
	// the rows). A count beside it would plan and run the same lookup
	// again, twice (its estimate, then the count), for a page that holds
	// every match and so counts itself.
	few bool
}

// walkBudget is the most entries a walk for n rows among users reads: the
// count at which walking and fetching cost the same for a term held by
// n/budget of the users. A term that has not filled the page by then is
// rarer than that, so fetching its matches costs no more than the walk did.
func walkBudget(n int, users float64) int64 {
	return int64(math.Ceil(math.Sqrt(walkedPerFetched * float64(n) * max(users, 1))))
}

// substringWayFor chooses the way for a page of n rows of the filter's
// search. It leaves the choice to the planner where its figures do not
// hold: off PostgreSQL, without the trigrams' shares, for a term looked up
// by its rarest stretches (which it marks as few) or split into words by
// the index, and with another filter or a field policy, which the walk's
// index does not carry.
func (db *DB) substringWayFor(ctx context.Context, f UserFilter, n int) substringWay {
	if db.Dialect != Postgres || len([]rune(f.Search)) < MinSubstring || !f.searchOnly() {
		return substringWay{}
	}
	if db.forcedWay != nil {
		return *db.forcedWay
	}
	shares, ok := db.searchTrigramShares(ctx)
	if !ok {
		return substringWay{}
	}
	key := SearchKey(f.Search)
	if shares.rareStretches(key) != nil {
		return substringWay{few: true}
	}
	return shares.way(key, n)
}

// way chooses between walking and fetching for key. No match can be more
// common than the term's rarest trigram: when even that share finds fewer
// than n rows in a walk's budget, fetching is the cheaper way for every
// share the term may have. Otherwise the walk goes first, within budget.
func (s trigramShares) way(key string, n int) substringWay {
	if !isTrigramWord(key) || len(key) < 3 {
		return substringWay{}
	}
	atMost := 1.0
	for i := 0; i+3 <= len(key); i++ {
		share, ok := s.share[strings.ToLower(key[i:i+3])]
		if !ok {
			share = s.rarest
		}
		atMost = min(atMost, share)
	}
	budget := walkBudget(n, s.users)
	if atMost*float64(budget) < float64(n) {
		return substringWay{fetch: true}
	}
	return substringWay{walk: budget}
}

// searchOnly says the filter selects active users by a search alone, with
// every field searchable: the rows the walk's index holds.
func (f UserFilter) searchOnly() bool {
	return f.Search != "" && f.Status == StatusActive && f.Health == "" &&
		f.Institution == "" && f.ErrorCode == "" && f.CreatedFrom == "" && f.Scope.everyFieldVisible()
}

// substringMatches counts the rows of a page found by the substring
// branch, leaving out every row the exact branch may have added: a walk
// that found fewer than the page asks for stopped at its budget.
func (f UserFilter) substringMatches(rows []EndUser) int {
	n := 0
	for i := range rows {
		u := &rows[i]
		if u.UserID != f.Search && u.ClientUserID != f.Search && strconv.FormatInt(u.ID, 10) != f.Search {
			n++
		}
	}
	return n
}

// walkedCount counts a search whose walk filled the page, found matches
// among the users from the cursor to last. The term is about as common
// among all active users as among those, whose number the planner
// estimates closely from created_at's histogram, so the count needs no
// trip through the trigram index, which for a term held by a few thousand
// users costs more than the walk did. An estimate of exactCountLimit or
// fewer is counted exactly, as for any filter.
func (db *DB) walkedCount(ctx context.Context, f UserFilter, now time.Time, from *cursor, last cursor, found int) (UserCount, error) {
	walked := userCursors.seek(db.gorm.WithContext(ctx).Model(&EndUser{}).Where("removed_at IS NULL"), from)
	if from != nil && from.back {
		walked = walked.Where("(created_at, id) <= (?, ?)", last.at, last.id)
	} else {
		walked = walked.Where("(created_at, id) >= (?, ?)", last.at, last.id)
	}
	among, err := db.rowEstimate(ctx, walked.Select("1"))
	if err != nil {
		return UserCount{}, err
	}
	users, err := db.estimateEndUsers(ctx, UserFilter{Status: StatusActive}, now)
	if err != nil {
		return UserCount{}, err
	}
	if est := int64(float64(found) / float64(max(among, 1)) * float64(users)); est > exactCountLimit {
		return UserCount{N: roughly(est), Estimated: true}, nil
	}
	return db.countEndUsers(ctx, f, now)
}
