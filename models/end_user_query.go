package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

// UserFilter is what the users list shows: all of it comes from the URL.
type UserFilter struct {
	Search      string // exact id/user_id/client_user_id; name, email, phone by substring or prefix
	Status      string // StatusActive (default), StatusRemoved or StatusAll
	Health      string // "", HealthError, HealthExpiring, HealthExpiringMonth, HealthExpired
	Institution string // an institution_id, or ""
	ErrorCode   string // users with an item in this error, or ""
	CreatedFrom string // users created on or after this UTC day (YYYY-MM-DD), or ""
	// Scope is how the search looks inside personal fields, from the
	// searching member's field policy; not part of the URL.
	Scope SearchScope
}

// HealthExpiringMonth selects users whose soonest consent ends within
// ConsentWarningMonth (the list's "consent_expiring" looks a week ahead).
const HealthExpiringMonth = "consent_expiring_30d"

// createdFrom is CreatedFrom as a time; ok is false when it is empty or
// not a day.
func (f UserFilter) createdFrom() (t time.Time, ok bool) {
	t, err := time.Parse(time.DateOnly, f.CreatedFrom)
	return t, err == nil && f.CreatedFrom != ""
}

const (
	StatusActive  = "active"
	StatusRemoved = "removed"
	StatusAll     = "all"
)

// MinSubstring is the shortest search that also looks inside names,
// emails and phone numbers.
const MinSubstring = 3

// PageSizes are the page sizes the list offers.
var PageSizes = []int{25, 50, 100}

// UserPageRequest asks for one page of the list.
type UserPageRequest struct {
	Filter UserFilter
	Limit  int    // one of PageSizes
	Cursor string // opaque, from a previous page's Next or Prev; "" for the first page
}

// UserPage is one page, newest first.
type UserPage struct {
	Users []EndUser
	PageCursors
	Count UserCount
}

// UserCount says how many users match: exact when small, else a bound or
// the planner's estimate, so no page counts a whole large table.
type UserCount struct {
	N         int64
	Exact     bool // N is exact
	AtLeast   bool // there are more than N
	Estimated bool // N is the database's estimate
}

// exactCountLimit is the largest filtered result counted exactly.
const exactCountLimit = 1000

// searchRule is what a list's search box takes.
var searchRule = text.Line(200)

// Validate checks the filter's text, which reaches the database, against
// the text rule, and the creation day's form: a refused value is named by
// its query parameter (q, institution, error_code, created_from). Status
// and health are compared with fixed values only.
func (f UserFilter) Validate() error {
	fields := FieldErrors{}
	if problem := searchRule.Problem(strings.TrimSpace(f.Search)); problem != "" {
		fields.Add("q", problem)
	}
	if problem := text.Key.Problem(f.Institution); problem != "" {
		fields.Add("institution", problem)
	}
	if problem := text.Key.Problem(f.ErrorCode); problem != "" {
		fields.Add("error_code", problem)
	}
	if _, ok := f.createdFrom(); f.CreatedFrom != "" && !ok {
		fields.Add("created_from", "Enter a day as YYYY-MM-DD.")
	}
	return fields.Err()
}

// Normalize fills defaults and drops values the list does not know.
func (r *UserPageRequest) Normalize() {
	r.Filter.Search = strings.TrimSpace(r.Filter.Search)
	switch r.Filter.Status {
	case StatusActive, StatusRemoved, StatusAll:
	default:
		r.Filter.Status = StatusActive
	}
	switch r.Filter.Health {
	case "", HealthError, HealthExpiring, HealthExpiringMonth, HealthExpired:
	default:
		r.Filter.Health = ""
	}
	ok := false
	for _, n := range PageSizes {
		ok = ok || r.Limit == n
	}
	if !ok {
		r.Limit = PageSizes[0]
	}
}

// filtered applies the filter's conditions to a query on end_users.
func (db *DB) filtered(q *gorm.DB, f UserFilter, now time.Time) *gorm.DB {
	switch f.Status {
	case StatusActive:
		q = q.Where("removed_at IS NULL")
	case StatusRemoved:
		q = q.Where("removed_at IS NOT NULL")
	}
	switch f.Health {
	case HealthError:
		q = q.Where("error_item_count > 0")
	case HealthExpiring:
		q = q.Where("next_consent_expiration > ? AND next_consent_expiration <= ?", now, now.Add(ConsentWarning))
	case HealthExpiringMonth:
		q = q.Where("next_consent_expiration > ? AND next_consent_expiration <= ?", now, now.Add(ConsentWarningMonth))
	case HealthExpired:
		q = q.Where("next_consent_expiration <= ?", now)
	}
	if from, ok := f.createdFrom(); ok {
		q = q.Where("created_at >= ?", from)
	}
	// An institution and an error code select users through one item that
	// has both, and that is in error when the list shows errors: "items in
	// error at this bank" opens exactly the users holding them.
	var item []string
	var args []any
	if f.Institution != "" {
		item, args = append(item, "i.institution_id = ?"), append(args, f.Institution)
	}
	if f.ErrorCode != "" {
		item, args = append(item, "i.error_code = ?"), append(args, f.ErrorCode)
	} else if f.Health == HealthError && f.Institution != "" {
		item = append(item, "i.error_code IS NOT NULL")
	}
	if len(item) > 0 {
		q = q.Where("EXISTS (SELECT 1 FROM items i WHERE i.end_user_id = end_users.id AND "+strings.Join(item, " AND ")+")", args...)
	}
	return q
}

// searchKey maps the punctuation of emails, phone numbers and names to
// capital letters, exactly as end_users.search_key does on PostgreSQL
// (migration 0008): a search for "c.hunt" becomes one trigram word.
var searchKey = strings.NewReplacer(".", "D", "@", "A", "_", "U", "-", "H", "+", "P", "'", "Q")

// SearchKey is a search term as it appears in end_users.search_key.
func SearchKey(term string) string { return searchKey.Replace(strings.ToLower(term)) }

// searched restricts a query on end_users to the filter's search: exact on
// the ids; substring on name and email and prefix on phone and email
// through search_text (each term starts after a space). Substrings need
// MinSubstring characters: shorter ones would match most of the table and
// no trigram index can help.
//
// The two kinds of match are separate branches of a UNION ALL, so each
// uses its own index: the ids their unique keys, the substring on
// PostgreSQL either the trigram index (a rare term) or a walk of the
// active users' index newest first, which carries search_key (a common
// one). page is the keyset, order and limit the substring branch needs to
// stop early. A way other than the zero one fixes how that branch finds
// its rows instead of the planner (search_way.go).
func (db *DB) searched(ctx context.Context, g, q *gorm.DB, s string, scope SearchScope, page func(*gorm.DB) *gorm.DB, way substringWay) *gorm.DB {
	exact := []string{"user_id = ?", "client_user_id = ?"}
	args := []any{s, s}
	if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
		exact = append(exact, "id = ?")
		args = append(args, id)
	}
	byID := q.Session(&gorm.Session{}).Select("id").Where("("+strings.Join(exact, " OR ")+")", args...)
	if len([]rune(s)) < MinSubstring {
		return g.Model(&EndUser{}).Where("id IN (?)", byID)
	}
	text := q.Session(&gorm.Session{}).Select("id")
	if stretches := db.rareStretchesOf(ctx, s); stretches != nil {
		// Each stretch goes to the trigram index; the whole term is
		// checked with strpos, which no index takes, on what they find.
		for _, st := range stretches {
			text = text.Where("search_key LIKE ?", "%"+st+"%")
		}
		text = text.Where("strpos(search_key, ?) > 0", SearchKey(s))
	} else {
		column, pattern := db.Dialect.searchColumn(s)
		text = text.Where(column+" LIKE ?"+db.Dialect.likeEscape(), "%"+pattern+"%")
	}
	if !scope.everyFieldVisible() {
		// The index still finds the candidates (every match below also
		// contains the term); only then is each field held to its rule.
		fields, fargs := db.scopedSearch(scope, s)
		if len(fields) == 0 {
			return g.Model(&EndUser{}).Where("id IN (?)", byID)
		}
		text = text.Where("("+strings.Join(fields, " OR ")+")", fargs...)
	}
	switch {
	case way.walk > 0:
		// Newest first through the index that carries search_key, at
		// most way.walk entries; strpos, which no index takes, keeps the
		// planner on that walk.
		newest := page(q.Session(&gorm.Session{}).Select("id, created_at, search_key")).Limit(int(way.walk))
		text = g.Table("(?) AS newest", newest).Select("id").Where("strpos(search_key, ?) > 0", SearchKey(s))
	case way.fetch:
		// OFFSET 0 keeps the order and limit outside, so the planner
		// finds every match through the trigram index instead of walking.
		text = g.Table("(? OFFSET 0) AS found", text.Select("id, created_at")).Select("id")
	}
	return g.Model(&EndUser{}).Where("id IN (SELECT id FROM (?) AS matched UNION ALL ?)", page(text), byID)
}

// rareStretchesOf is the stretches of the term s to look up in the
// trigram index instead of the whole term (see rareStretches), or nil to
// look up the whole term.
func (db *DB) rareStretchesOf(ctx context.Context, s string) []string {
	shares, ok := db.searchTrigramShares(ctx)
	if !ok {
		return nil
	}
	return shares.rareStretches(SearchKey(s))
}

// scopedSearch is the condition of a search for s in each personal field
// the scope looks in: a substring of a visible field, the exact value of
// a masked or revealable one (a name matches its first name, last name or
// both, in any case).
func (db *DB) scopedSearch(scope SearchScope, s string) (conds []string, args []any) {
	esc := db.Dialect.likeEscape()
	lower := strings.ToLower(s)
	for _, f := range searchedFields {
		st := scope.state(f)
		if st == FieldHidden {
			continue
		}
		exact := st != FieldVisible
		switch f {
		case PolicyNames:
			if exact {
				conds = append(conds, "(first_name = ? OR last_name = ? OR lower(first_name) = ? OR lower(last_name) = ? OR lower(first_name || ' ' || last_name) = ?)")
				args = append(args, s, s, lower, lower, lower)
			} else {
				conds = append(conds, "lower(first_name || ' ' || last_name) LIKE ?"+esc)
				args = append(args, "%"+escapeLike(lower)+"%")
			}
		case PolicyEmails, PolicyPhones:
			// The lists are stored as JSON arrays of strings: an exact
			// value is one whole element, quotes included. Emails are
			// stored lower case, phone numbers as typed (E.164).
			column, term := "emails", lower
			if f == PolicyPhones {
				column, term = "phone_numbers", s
			}
			if exact {
				quoted, _ := json.Marshal(term)
				conds = append(conds, column+" LIKE ?"+esc)
				args = append(args, "%"+escapeLike(string(quoted))+"%")
			} else {
				conds = append(conds, column+" LIKE ?"+esc)
				args = append(args, "%"+escapeLike(term)+"%")
			}
		}
	}
	return conds, args
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// ListEndUsers returns one page of users, newest first, by keyset (never
// OFFSET), so a page deep in the list costs what the first costs.
func (db *DB) ListEndUsers(ctx context.Context, r UserPageRequest) (*UserPage, error) {
	return readFrom(ctx, db, 0, func(d *DB) (*UserPage, error) { return d.listEndUsers(ctx, r) })
}

func (db *DB) listEndUsers(ctx context.Context, r UserPageRequest) (*UserPage, error) {
	if err := r.Filter.Validate(); err != nil {
		return nil, err
	}
	r.Normalize()
	now := Now()
	from, err := userCursors.decode(r.Cursor)
	if err != nil {
		return nil, err
	}
	// page puts a query on the keyset: rows past the cursor, in the
	// cursor's direction, one more than the page to know if more follow.
	page := func(q *gorm.DB) *gorm.DB { return userCursors.seek(q, from).Limit(r.Limit + 1) }
	way := db.substringWayFor(ctx, r.Filter, r.Limit+1)
	// countAfter counts once the page is read, and only if it is full or
	// not the first.
	countAfter := func() (UserCount, error) { return db.countEndUsers(ctx, r.Filter, now) }
	var count func() (UserCount, error)
	switch {
	case way.few:
		count = countAfter
	case way.walk == 0:
		count = db.countBeside(ctx, r.Filter, now)
	}
	rows, err := listRows.query(db, page(db.matchingBy(ctx, r.Filter, now, page, way)), make([]EndUser, 0, r.Limit+1))
	if err == nil && way.walk > 0 {
		if found := r.Filter.substringMatches(rows); found > r.Limit {
			last := endUserAt(&rows[len(rows)-1])
			count = func() (UserCount, error) { return db.walkedCount(ctx, r.Filter, now, from, last, found) }
		} else {
			// The walk spent its budget: what is left is rare enough to fetch.
			count = countAfter
			rows, err = listRows.query(db, page(db.matchingBy(ctx, r.Filter, now, page, substringWay{fetch: true})), rows[:0])
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list end users: %w", err)
	}
	more := len(rows) > r.Limit
	result := &UserPage{}
	result.Users, result.PageCursors = keysetPage(userCursors, rows, r.Limit, from, endUserAt)
	if r.Cursor == "" && !more {
		// The first page holds every match: that is the count.
		result.Count = UserCount{N: int64(len(result.Users)), Exact: true}
		return result, nil
	}
	n, err := count()
	if err != nil {
		return nil, err
	}
	result.Count = n
	return result, nil
}

// countBeside starts counting what the filter selects and returns the
// wait for it. The count runs beside the page on its own connection, so
// the page waits for the longer of the two queries, not their sum; a
// count at hand in the cache needs no goroutine at all.
func (db *DB) countBeside(ctx context.Context, f UserFilter, now time.Time) func() (UserCount, error) {
	if db.Dialect.estimatesRows() {
		if est, ok := db.keptEstimate(f).peek(estimateFor); ok && est > exactCountLimit {
			return func() (UserCount, error) { return UserCount{N: roughly(est), Estimated: true}, nil }
		}
	}
	type counted struct {
		n   UserCount
		err error
	}
	done := make(chan counted, 1)
	go func() {
		n, err := db.countEndUsers(ctx, f, now)
		done <- counted{n, err}
	}()
	return func() (UserCount, error) {
		c := <-done
		return c.n, c.err
	}
}

// wholeTable says the filter narrows nothing the table's statistics do
// not already count.
func (f UserFilter) wholeTable() bool {
	return f.Search == "" && f.Health == "" && f.Institution == "" && f.ErrorCode == "" && f.CreatedFrom == "" &&
		f.Status != StatusRemoved
}

// matching is the query for the users the filter selects. page bounds the
// substring branch of a search (see searched); nil leaves it whole.
func (db *DB) matching(ctx context.Context, f UserFilter, now time.Time, page func(*gorm.DB) *gorm.DB) *gorm.DB {
	return db.matchingBy(ctx, f, now, page, substringWay{})
}

// matchingBy is matching with the search's substring branch found the
// given way (search_way.go).
func (db *DB) matchingBy(ctx context.Context, f UserFilter, now time.Time, page func(*gorm.DB) *gorm.DB, way substringWay) *gorm.DB {
	g := db.plannedFor(ctx, f)
	q := db.filtered(g.Model(&EndUser{}), f, now)
	if f.Search == "" {
		return q
	}
	if page == nil {
		page = func(q *gorm.DB) *gorm.DB { return q }
	}
	return db.searched(ctx, g, q, f.Search, f.Scope, page, way)
}

// countEndUsers counts what the filter selects without counting a large
// table: on PostgreSQL it takes the planner's estimate (the table's size
// for the plain list, the plan's row estimate for a filter) and counts
// exactly only when that estimate is small, up to exactCountLimit, saying
// "more than" past it (the estimate was wrong). The embedded SQLite
// database holds what one machine's disk does and counts exactly.
func (db *DB) countEndUsers(ctx context.Context, f UserFilter, now time.Time) (UserCount, error) {
	if !db.Dialect.estimatesRows() {
		var n int64
		if err := db.matching(ctx, f, now, nil).Count(&n).Error; err != nil {
			return UserCount{}, fmt.Errorf("count end users: %w", err)
		}
		return UserCount{N: n, Exact: true}, nil
	}
	est, err := db.estimateEndUsers(ctx, f, now)
	if err != nil {
		return UserCount{}, err
	}
	if est > exactCountLimit {
		return UserCount{N: roughly(est), Estimated: true}, nil
	}
	sub := db.matching(ctx, f, now, func(q *gorm.DB) *gorm.DB { return q.Limit(exactCountLimit + 1) }).
		Select("1").Limit(exactCountLimit + 1)
	var n int64
	if err := db.planned(ctx).Table("(?) AS capped", sub).Count(&n).Error; err != nil {
		return UserCount{}, fmt.Errorf("count end users: %w", err)
	}
	if n > exactCountLimit {
		return UserCount{N: exactCountLimit, AtLeast: true}, nil
	}
	return UserCount{N: n, Exact: true}, nil
}

// estimateFor is how long an estimate of a filter without a search term
// is kept. It comes from the statistics, which change only when the table
// is vacuumed or analyzed: every page need not ask for it again. A search
// term's estimate is not kept: there are too many terms.
const estimateFor = 10 * time.Second

// estimateEndUsers is PostgreSQL's estimate of the users the filter
// selects: the table's live rows from its statistics when nothing narrows
// the active list, else the row estimate of the filter's plan.
func (db *DB) estimateEndUsers(ctx context.Context, f UserFilter, now time.Time) (int64, error) {
	kept := db.keptEstimate(f)
	if kept == nil {
		return db.planEstimate(ctx, f, now)
	}
	return kept.get(estimateFor, func() (int64, error) {
		if !f.wholeTable() {
			return db.planEstimate(ctx, f, now)
		}
		var est float64
		if err := db.gorm.WithContext(ctx).Raw(`SELECT reltuples FROM pg_class WHERE oid = 'end_users'::regclass`).Scan(&est).Error; err != nil {
			return 0, fmt.Errorf("estimate end users: %w", err)
		}
		return int64(est), nil
	})
}

// keptEstimate is where the filter's estimate is kept, or nil for a
// search, whose estimate is not kept.
func (db *DB) keptEstimate(f UserFilter) *cached[int64] {
	if f.Search != "" {
		return nil
	}
	return db.estimates.entry(f.Status + "\x00" + f.Health + "\x00" + f.Institution + "\x00" + f.ErrorCode + "\x00" + f.CreatedFrom)
}

// planEstimate is the row estimate of the filter's plan.
func (db *DB) planEstimate(ctx context.Context, f UserFilter, now time.Time) (int64, error) {
	return db.rowEstimate(ctx, db.matching(ctx, f, now, nil).Select("1"))
}

// rowEstimate is the row estimate of q's plan.
func (db *DB) rowEstimate(ctx context.Context, q *gorm.DB) (int64, error) {
	g := db.planned(ctx)
	var plan string
	if err := g.Raw("EXPLAIN (FORMAT JSON) ?", q).Row().Scan(&plan); err != nil {
		return 0, fmt.Errorf("estimate end users: %w", err)
	}
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(plan), &out); err != nil || len(out) == 0 {
		return 0, fmt.Errorf("estimate end users: read plan: %v", err)
	}
	return int64(out[0].Plan.Rows), nil
}

// roughly rounds an estimate to two significant digits: more would claim
// a precision the statistics do not have.
func roughly(n int64) int64 {
	unit := int64(1)
	for n/unit >= 100 {
		unit *= 10
	}
	return (n + unit/2) / unit * unit
}

// Institution is a bank or other institution items connect to.
type Institution struct {
	ID   string `gorm:"primaryKey"`
	Name string
}

func (Institution) TableName() string { return "institutions" }

// institutionsFor is how long the institutions list, which changes rarely
// and is on every users page, is kept.
const institutionsFor = time.Minute

// Institutions lists the known institutions by name, for the list's filter.
func (db *DB) Institutions(ctx context.Context) ([]Institution, error) {
	return db.institutions.get(institutionsFor, func() ([]Institution, error) {
		var out []Institution
		if err := db.gorm.WithContext(ctx).Order("name").Find(&out).Error; err != nil {
			return nil, fmt.Errorf("list institutions: %w", err)
		}
		return out, nil
	})
}

func endUserAt(u *EndUser) cursor { return cursor{at: u.CreatedAt, id: u.ID} }

// CursorAfter is the cursor of the page that starts right after the user
// created at t with id: tools use it to jump deep into the list.
func CursorAfter(t time.Time, id int64) string {
	return userCursors.encode(cursor{at: t, id: id, pos: -1})
}
