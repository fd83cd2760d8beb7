package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/singleflight"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The overview's figures about end users and items count tables of
// millions of rows, so no page computes them: RefreshOverview does, on a
// schedule (serve runs it every OverviewEvery), and stores the result,
// which the page reads in one row and shows "as of" its time. The few
// figures that are cheap to read and must be current (today's reveals,
// pending invitations, webhooks, checkpoints) are read live by
// OverviewLive.

// OverviewEvery is how often serve refreshes the overview's figures.
const OverviewEvery = time.Minute

// overviewStale is the age past which a page starts a refresh of the
// stored figures itself: the schedule is not running (a test, a process
// that just started on an old database).
const overviewStale = 10 * OverviewEvery

// OverviewDays is how many days the overview's charts cover.
const OverviewDays = 30

// TopInstitutions is how many institutions the overview ranks by items in
// error.
const TopInstitutions = 5

// Overview is the stored figures.
type Overview struct {
	AsOf time.Time `json:"as_of"`

	Users int64 `json:"users"` // active end users
	// Active end users created on or after each window's first UTC day:
	// 7 and 30 days counting today.
	NewWeek      int64     `json:"new_week"`
	NewWeekFrom  time.Time `json:"new_week_from"`
	NewMonth     int64     `json:"new_month"`
	NewMonthFrom time.Time `json:"new_month_from"`

	ItemsInError int64 `json:"items_in_error"`
	UsersInError int64 `json:"users_in_error"` // end users with at least one item in error
	// Every error code, most items first, and the institutions with the
	// most items in error.
	ErrorCodes        []ErrorGroup `json:"error_codes"`
	ErrorInstitutions []ErrorGroup `json:"error_institutions"`

	// End users by their soonest consent expiry.
	ConsentExpiringWeek  int64 `json:"consent_expiring_week"`
	ConsentExpiringMonth int64 `json:"consent_expiring_month"`
	ConsentExpired       int64 `json:"consent_expired"`

	NewUsersPerDay     []DayCount  `json:"new_users_per_day"`
	ItemsInErrorPerDay []DayFigure `json:"items_in_error_per_day"`
}

// ErrorGroup is the items in error that share an error code or an
// institution, and how many end users hold them.
type ErrorGroup struct {
	Key   string `json:"key"` // the error code or institution_id
	Label string `json:"label"`
	Items int64  `json:"items"`
	Users int64  `json:"users"`
}

// DayFigure is a figure recorded for a UTC day, if one was.
type DayFigure struct {
	Day      time.Time `json:"day"`
	N        int64     `json:"n"`
	Recorded bool      `json:"recorded"`
}

// OverviewSnapshot is the stored row.
type OverviewSnapshot struct {
	ID         int
	Figures    string
	ComputedAt time.Time
}

func (OverviewSnapshot) TableName() string { return "overview_snapshot" }

// OverviewDay is one day's recorded figures.
type OverviewDay struct {
	Day          time.Time `gorm:"primaryKey"`
	ItemsInError int64
	RecordedAt   time.Time
}

func (OverviewDay) TableName() string { return "overview_days" }

// overviewRefreshes lets a thousand pages that find the figures missing
// at once wait for one refresh.
var overviewRefreshes singleflight.Group

// Overview returns the stored figures. When there are none it waits for
// them to be computed; when they are older than the schedule allows it
// starts a refresh and returns them as they are, shown "as of" their
// time: at ten million users a refresh takes seconds, longer than a page
// may wait.
func (db *DB) Overview(ctx context.Context) (*Overview, error) {
	var row OverviewSnapshot
	err := db.gorm.WithContext(ctx).Take(&row, 1).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return db.refreshOverviewOnce(ctx)
	case err != nil:
		return nil, fmt.Errorf("read overview: %w", err)
	}
	if Now().Sub(row.ComputedAt) > overviewStale {
		go db.refreshOverviewOnce(ctx)
	}
	var o Overview
	if err := json.Unmarshal([]byte(row.Figures), &o); err != nil {
		return nil, fmt.Errorf("read overview: %w", err)
	}
	return &o, nil
}

// refreshOverviewOnce refreshes the figures, or waits for the refresh
// another page of this process started. A refresh outlives the page that
// started it: the others wait for it too.
func (db *DB) refreshOverviewOnce(ctx context.Context) (*Overview, error) {
	v, err, _ := overviewRefreshes.Do(fmt.Sprintf("%p", db), func() (any, error) {
		return db.RefreshOverview(context.WithoutCancel(ctx))
	})
	if err != nil {
		return nil, err
	}
	return v.(*Overview), nil
}

// RefreshOverviewIfDue refreshes the figures unless they are younger than
// half of every: with several processes on one database, whichever comes
// first refreshes and the others skip. It says whether it refreshed.
func (db *DB) RefreshOverviewIfDue(ctx context.Context, every time.Duration) (bool, error) {
	var row OverviewSnapshot
	err := db.gorm.WithContext(ctx).Select("computed_at").Take(&row, 1).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return false, fmt.Errorf("read overview: %w", err)
	}
	if err == nil && Now().Sub(row.ComputedAt) < every/2 {
		return false, nil
	}
	_, err = db.RefreshOverview(ctx)
	return err == nil, err
}

// RefreshOverview computes the figures, records today's items in error
// and stores the result.
func (db *DB) RefreshOverview(ctx context.Context) (*Overview, error) {
	now := Now()
	o, err := db.computeOverview(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("refresh overview: %w", err)
	}
	figures, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("refresh overview: %w", err)
	}
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		today := OverviewDay{Day: now.UTC().Truncate(24 * time.Hour), ItemsInError: o.ItemsInError, RecordedAt: now}
		if err := tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&today).Error; err != nil {
			return err
		}
		row := OverviewSnapshot{ID: 1, Figures: string(figures), ComputedAt: now}
		return tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error
	})
	if err != nil {
		return nil, fmt.Errorf("store overview: %w", err)
	}
	return o, nil
}

func (db *DB) computeOverview(ctx context.Context, now time.Time) (*Overview, error) {
	g := db.gorm.WithContext(ctx)
	active := func() *gorm.DB { return g.Model(&EndUser{}).Where("removed_at IS NULL") }
	o := &Overview{AsOf: now}
	if err := active().Count(&o.Users).Error; err != nil {
		return nil, err
	}
	perDay, err := db.countPerDay(ctx, active(), "created_at", now, OverviewDays)
	if err != nil {
		return nil, err
	}
	o.NewUsersPerDay = perDay
	o.NewWeekFrom, o.NewMonthFrom = perDay[OverviewDays-7].Day, perDay[0].Day
	for i, d := range perDay {
		o.NewMonth += d.N
		if i >= OverviewDays-7 {
			o.NewWeek += d.N
		}
	}

	inError := func() *gorm.DB { return g.Table("items").Where("error_code IS NOT NULL") }
	err = inError().Select("error_code AS key, error_code AS label, COUNT(*) AS items, COUNT(DISTINCT end_user_id) AS users").
		Group("error_code").Order("items DESC, key").Scan(&o.ErrorCodes).Error
	if err != nil {
		return nil, err
	}
	for _, c := range o.ErrorCodes {
		o.ItemsInError += c.Items
	}
	// Grouped from the error index alone, then named from institutions.
	top := inError().Where("institution_id IS NOT NULL").
		Select("institution_id AS key, COUNT(*) AS items, COUNT(DISTINCT end_user_id) AS users").
		Group("institution_id").Order("items DESC, key").Limit(TopInstitutions)
	err = g.Table("(?) AS top", top).Joins("LEFT JOIN institutions ins ON ins.id = top.key").
		Select("top.key, COALESCE(ins.name, top.key) AS label, top.items, top.users").Order("top.items DESC, top.key").
		Scan(&o.ErrorInstitutions).Error
	if err != nil {
		return nil, err
	}
	// Removing a user zeroes its item columns, so the partial indexes on
	// them answer these counts alone, without "removed_at IS NULL".
	if err := g.Model(&EndUser{}).Where("error_item_count > 0").Count(&o.UsersInError).Error; err != nil {
		return nil, err
	}

	consent := func(from, to *time.Time) (int64, error) {
		q := g.Model(&EndUser{}).Where("next_consent_expiration IS NOT NULL")
		if from != nil {
			q = q.Where("next_consent_expiration > ?", *from)
		}
		if to != nil {
			q = q.Where("next_consent_expiration <= ?", *to)
		}
		var n int64
		return n, q.Count(&n).Error
	}
	week, month := now.Add(ConsentWarning), now.Add(ConsentWarningMonth)
	if o.ConsentExpiringWeek, err = consent(&now, &week); err != nil {
		return nil, err
	}
	if o.ConsentExpiringMonth, err = consent(&now, &month); err != nil {
		return nil, err
	}
	if o.ConsentExpired, err = consent(nil, &now); err != nil {
		return nil, err
	}

	if o.ItemsInErrorPerDay, err = db.itemsInErrorPerDay(ctx, now, o.ItemsInError); err != nil {
		return nil, err
	}
	return o, nil
}

// itemsInErrorPerDay is the recorded count for each of the chart's days,
// with today's as just counted.
func (db *DB) itemsInErrorPerDay(ctx context.Context, now time.Time, today int64) ([]DayFigure, error) {
	days := emptyDays(now, OverviewDays)
	var rows []OverviewDay
	if err := db.gorm.WithContext(ctx).Where("day >= ?", days[0].Day).Find(&rows).Error; err != nil {
		return nil, err
	}
	recorded := make(map[int64]int64, len(rows))
	for _, r := range rows {
		recorded[r.Day.UTC().Unix()] = r.ItemsInError
	}
	out := make([]DayFigure, len(days))
	for i, d := range days {
		n, ok := recorded[d.Day.Unix()]
		out[i] = DayFigure{Day: d.Day, N: n, Recorded: ok}
	}
	out[len(out)-1] = DayFigure{Day: days[len(days)-1].Day, N: today, Recorded: true}
	return out, nil
}

// OverviewLive is the overview's figures read at every request: each is
// one indexed lookup or a count of few rows.
type OverviewLive struct {
	PendingInvitations int64
	RevealsToday       int64
	RevealsSince       time.Time // the UTC day RevealsToday counts from
	FailingWebhooks    int64     // endpoints whose latest attempt failed
	OutboxBacklog      int64     // deliveries waiting to be sent, up to OutboxBacklogCap
	LastCheckpoint     *time.Time
}

// OutboxBacklogCap bounds the backlog count: past it the page says "more
// than".
const OutboxBacklogCap = 10000

// ReadOverviewLive reads the live figures.
func (db *DB) ReadOverviewLive(ctx context.Context, now time.Time) (*OverviewLive, error) {
	g := db.gorm.WithContext(ctx)
	l := &OverviewLive{RevealsSince: now.UTC().Truncate(24 * time.Hour)}
	if err := g.Model(&TeamMember{}).Where("status = ?", MemberInvited).Count(&l.PendingInvitations).Error; err != nil {
		return nil, fmt.Errorf("overview: pending invitations: %w", err)
	}
	var err error
	if l.RevealsToday, err = db.revealsSince(ctx, l.RevealsSince); err != nil {
		return nil, fmt.Errorf("overview: reveals today: %w", err)
	}
	err = g.Table("webhook_endpoints e").Where(`EXISTS (SELECT 1 FROM (SELECT a.status_code, a.error FROM webhook_attempts a
		WHERE a.endpoint_id = e.id ORDER BY a.id DESC LIMIT 1) latest
		WHERE latest.error <> '' OR latest.status_code < 200 OR latest.status_code > 299)`).Count(&l.FailingWebhooks).Error
	if err != nil {
		return nil, fmt.Errorf("overview: failing webhooks: %w", err)
	}
	pending := g.Model(&WebhookDelivery{}).Select("1").Where("status = ?", DeliveryPending).Limit(OutboxBacklogCap + 1)
	if err := g.Table("(?) AS backlog", pending).Count(&l.OutboxBacklog).Error; err != nil {
		return nil, fmt.Errorf("overview: outbox backlog: %w", err)
	}
	cps, err := db.ListCheckpoints(ctx, 1)
	if err != nil {
		return nil, fmt.Errorf("overview: last checkpoint: %w", err)
	}
	if len(cps) > 0 {
		t := cps[0].SignedAt
		l.LastCheckpoint = &t
	}
	return l, nil
}

// revealTally is a count of the reveals since a UTC day began, up to the
// entry seq upTo.
type revealTally struct {
	day  time.Time
	upTo int64
	n    int64
}

// revealsSince counts the reveals since day began: the whole day once per
// process, then only the entries appended since the last count, a range of
// the primary key. Counting the day's reveals on every overview took
// 150–250 ms among ten million entries. The tally is exact because entries
// are appended under the chain head's lock: every snapshot holds all the
// entries up to some seq and none after it (as the chart's open days,
// audit_days.go).
func (db *DB) revealsSince(ctx context.Context, day time.Time) (int64, error) {
	var upTo, n int64
	counted := "action = ? AND occurred_at >= ?"
	args := []any{ActionPIIReveal, day}
	if last := db.reveals.Load(); last != nil && last.day.Equal(day) {
		upTo, n = last.upTo, last.n
		counted, args = counted+" AND seq > ?", append(args, upTo)
	}
	var row struct{ N, Top int64 }
	// Planned per run, for the seq the range starts at.
	err := db.planned(ctx).Raw(`SELECT (SELECT COUNT(*) FROM audit_entries WHERE `+counted+`) AS n,
		(SELECT COALESCE(MAX(seq), 0) FROM audit_entries) AS top`, args...).Scan(&row).Error
	if err != nil {
		return 0, err
	}
	next := &revealTally{day: day, upTo: max(row.Top, upTo), n: n + row.N}
	for {
		// Concurrent counts keep the one that reached furthest.
		cur := db.reveals.Load()
		if cur != nil && cur.day.Equal(day) && cur.upTo >= next.upTo {
			break
		}
		if db.reveals.CompareAndSwap(cur, next) {
			break
		}
	}
	return next.n, nil
}
