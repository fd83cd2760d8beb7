package models

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// UserFilter is what the users list shows: all of it comes from the URL.
type UserFilter struct {
	Search      string // exact id/user_id/client_user_id; name, email, phone by substring or prefix
	Status      string // StatusActive (default), StatusRemoved or StatusAll
	Health      string // "", HealthError, HealthExpiring, HealthExpired
	Institution string // an institution_id, or ""
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
	Next  string // cursor of the next (older) page, "" if none
	Prev  string // cursor of the previous (newer) page, "" if none
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

type cursor struct {
	T   time.Time `json:"t"`
	ID  int64     `json:"i"`
	Dir string    `json:"d"` // "n": rows after this one (older); "p": rows before it (newer)
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || (c.Dir != "n" && c.Dir != "p") || c.ID <= 0 {
		return cursor{}, &Error{Kind: KindInvalid, Message: "This page link is not valid any more; start again from the first page."}
	}
	return c, nil
}

// Normalize fills defaults and drops values the list does not know.
func (r *UserPageRequest) Normalize() {
	// Whatever the URL carried, PostgreSQL only takes valid UTF-8 without NUL.
	clean := strings.NewReplacer("\x00", "")
	r.Filter.Search = strings.TrimSpace(clean.Replace(strings.ToValidUTF8(r.Filter.Search, "")))
	r.Filter.Institution = clean.Replace(strings.ToValidUTF8(r.Filter.Institution, ""))
	if rs := []rune(r.Filter.Search); len(rs) > 200 {
		// Cut whole characters: PostgreSQL refuses a broken UTF-8 sequence.
		r.Filter.Search = string(rs[:200])
	}
	switch r.Filter.Status {
	case StatusActive, StatusRemoved, StatusAll:
	default:
		r.Filter.Status = StatusActive
	}
	switch r.Filter.Health {
	case "", HealthError, HealthExpiring, HealthExpired:
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
	case HealthExpired:
		q = q.Where("next_consent_expiration <= ?", now)
	}
	if f.Institution != "" {
		q = q.Where("EXISTS (SELECT 1 FROM items i WHERE i.end_user_id = end_users.id AND i.institution_id = ?)", f.Institution)
	}
	if s := f.Search; s != "" {
		// Exact on the ids; substring on name and email and prefix on
		// phone and email through search_text (each term starts after a
		// space). Substrings need MinSubstring characters: shorter ones
		// would match most of the table and no trigram index can help.
		conds := []string{"user_id = ?", "client_user_id = ?"}
		args := []any{s, s}
		if len([]rune(s)) >= MinSubstring {
			conds = append(conds, "search_text LIKE ?"+db.Dialect.likeEscape())
			args = append(args, "%"+escapeLike(strings.ToLower(s))+"%")
		}
		if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
			conds = append(conds, "id = ?")
			args = append(args, id)
		}
		q = q.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	return q
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// ListEndUsers returns one page of users, newest first, by keyset (never
// OFFSET), so a page deep in the list costs what the first costs.
func (db *DB) ListEndUsers(ctx context.Context, r UserPageRequest) (*UserPage, error) {
	r.Normalize()
	now := Now()
	q := db.filtered(db.gorm.WithContext(ctx).Model(&EndUser{}), r.Filter, now)
	dir := "n"
	if r.Cursor != "" {
		c, err := decodeCursor(r.Cursor)
		if err != nil {
			return nil, err
		}
		dir = c.Dir
		if dir == "n" {
			// A row comparison, not "a < x OR (a = x AND b < y)": only
			// the row form becomes an index condition, so page 10,000
			// seeks instead of scanning the 250,000 rows before it.
			q = q.Where("(created_at, id) < (?, ?)", c.T, c.ID)
		} else {
			q = q.Where("(created_at, id) > (?, ?)", c.T, c.ID)
		}
	}
	order := "created_at DESC, id DESC"
	if dir == "p" {
		order = "created_at ASC, id ASC"
	}
	var rows []EndUser
	if err := q.Order(order).Limit(r.Limit + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list end users: %w", err)
	}
	more := len(rows) > r.Limit
	if more {
		rows = rows[:r.Limit]
	}
	if dir == "p" {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	page := &UserPage{Users: rows}
	if len(rows) > 0 {
		first, last := rows[0], rows[len(rows)-1]
		// Going forward, there is a newer page whenever we came from a
		// cursor; going back, an older one always exists.
		if (dir == "n" && more) || (dir == "p" && r.Cursor != "") {
			page.Next = cursor{T: last.CreatedAt, ID: last.ID, Dir: "n"}.encode()
		}
		if (dir == "n" && r.Cursor != "") || (dir == "p" && more) {
			page.Prev = cursor{T: first.CreatedAt, ID: first.ID, Dir: "p"}.encode()
		}
	}
	count, err := db.countEndUsers(ctx, r.Filter, now)
	if err != nil {
		return nil, err
	}
	page.Count = count
	return page, nil
}

// countEndUsers counts exactly up to exactCountLimit. Past that, the
// unfiltered list of active users shows PostgreSQL's planner estimate and
// any other list says "more than 1,000".
func (db *DB) countEndUsers(ctx context.Context, f UserFilter, now time.Time) (UserCount, error) {
	unfiltered := f.Search == "" && f.Health == "" && f.Institution == "" && f.Status != StatusRemoved
	if unfiltered && db.Dialect == Postgres {
		var est float64
		err := db.gorm.WithContext(ctx).Raw(`SELECT reltuples FROM pg_class WHERE oid = 'end_users'::regclass`).Scan(&est).Error
		if err != nil {
			return UserCount{}, fmt.Errorf("estimate end users: %w", err)
		}
		if est > exactCountLimit {
			return UserCount{N: int64(est), Estimated: true}, nil
		}
	}
	sub := db.filtered(db.gorm.WithContext(ctx).Model(&EndUser{}), f, now).Select("1").Limit(exactCountLimit + 1)
	var n int64
	if err := db.gorm.WithContext(ctx).Table("(?) AS capped", sub).Count(&n).Error; err != nil {
		return UserCount{}, fmt.Errorf("count end users: %w", err)
	}
	if n > exactCountLimit {
		return UserCount{N: exactCountLimit, AtLeast: true}, nil
	}
	return UserCount{N: n, Exact: true}, nil
}

// Institution is a bank or other institution items connect to.
type Institution struct {
	ID   string `gorm:"primaryKey"`
	Name string
}

func (Institution) TableName() string { return "institutions" }

// institutionCache keeps the institutions list, which changes rarely and
// is on every users page, for a minute.
type institutionCache struct {
	mu   sync.Mutex
	list []Institution
	at   time.Time
}

const institutionCacheTTL = time.Minute

// Institutions lists the known institutions by name, for the list's filter.
func (db *DB) Institutions(ctx context.Context) ([]Institution, error) {
	c := &db.institutions
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.list) > 0 && time.Since(c.at) < institutionCacheTTL {
		return c.list, nil
	}
	var out []Institution
	if err := db.gorm.WithContext(ctx).Order("name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list institutions: %w", err)
	}
	c.list, c.at = out, time.Now()
	return out, nil
}

// CursorAfter is the cursor of the page that starts right after the user
// created at t with id: tools use it to jump deep into the list.
func CursorAfter(t time.Time, id int64) string {
	return cursor{T: t, ID: id, Dir: "n"}.encode()
}
