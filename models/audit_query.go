package models

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

// ActionGroups are the families of audit actions the log filters by: the
// part of an action before its dot.
var ActionGroups = []string{"auth", "team", "user", "item", "pii", "api", "approval", "audit", "system"}

// KnownActions are offered as suggestions in the action filter; any exact
// action can be typed.
var KnownActions = []string{
	"auth.login", "auth.login_failed", "auth.logout", "auth.password_change",
	"team.create", "team.update", "team.invite",
	"user.create", "user.update", "user.remove", "user.pii_reveal", "user.token_rotate", "user.export",
	"item.create", "item.reset_login", ActionPIIView, ActionPIISearch,
	"audit.export", "audit.checkpoint", "system.seed", ActionKeysResealStart, ActionKeysReseal,
	ActionApprovalRequest, ActionApprovalApprove, ActionApprovalDeny, ActionApprovalFail,
}

// KnownTargetTypes are offered as suggestions in the target filter.
var KnownTargetTypes = []string{"end_user", "team_member", "api_key", "webhook", "audit_log", "audit_checkpoint", "field_keys"}

// AuditFilter selects audit entries. Every field is optional; set fields
// combine with AND. It round-trips through a URL (Query, ParseAuditFilter),
// so a filtered list, its export and its chart select the same entries.
type AuditFilter struct {
	// Actor is a member's email address, "type:id" (member:…, api_key:…,
	// system:ledgerdesk) or an actor id of any type.
	Actor string
	// Action is a group (ActionGroups) or an exact action (user.update).
	Action     string
	TargetType string
	TargetID   string
	// From and To bound occurred_at: From inclusive, To exclusive. Zero is
	// open.
	From, To  time.Time
	RequestID string
	IP        string
	// Accessed is an end user's id: the access entries about them
	// (data_access.go), whatever their target.
	Accessed string
}

// AuditFilterInput is a filter as typed into the form.
type AuditFilterInput struct {
	Actor, Action, TargetType, TargetID, From, To, RequestID, IP, Accessed string
}

// auditTimeLayouts are the forms From and To accept: a day, the browser's
// datetime-local, or a full RFC 3339 time. Times without a zone are UTC.
var auditTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

// ParseAuditFilter checks typed filter values; a bad value is an invalid
// field error with a message for the field.
func ParseAuditFilter(in AuditFilterInput) (AuditFilter, error) {
	errs := FieldErrors{}
	// Every field reaches the database as typed (trimmed): one that breaks
	// the text rule is refused beside its box.
	clean := func(field, s string, max int) string {
		s = strings.TrimSpace(s)
		if problem := text.Line(max).Problem(s); problem != "" {
			errs.Add(field, problem)
			return ""
		}
		return s
	}
	f := AuditFilter{
		Actor: clean("actor", in.Actor, 200), Action: clean("action", in.Action, 100),
		TargetType: clean("target_type", in.TargetType, 100), TargetID: clean("target_id", in.TargetID, 200),
		RequestID: clean("request_id", in.RequestID, 100), IP: clean("ip", in.IP, 100),
		Accessed: clean("accessed", in.Accessed, 20),
	}
	if f.Accessed != "" {
		if id, err := strconv.ParseInt(f.Accessed, 10, 64); err != nil || id <= 0 {
			errs.Add("accessed", "Enter an end user's id (a number).")
			f.Accessed = ""
		} else {
			f.Accessed = strconv.FormatInt(id, 10)
		}
	}
	var err error
	if f.From, err = parseAuditTime(clean("from", in.From, 40), false); err != nil {
		errs.Add("from", "Enter a date (YYYY-MM-DD) or a date and time.")
	}
	if f.To, err = parseAuditTime(clean("to", in.To, 40), true); err != nil {
		errs.Add("to", "Enter a date (YYYY-MM-DD) or a date and time.")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		errs.Add("to", "The end must come after the start.")
	}
	if f.TargetID != "" && f.TargetType == "" {
		errs.Add("target_type", "Choose the target's type too.")
	}
	return f, errs.Err()
}

// parseAuditTime reads a bound; a bare day as the end bound means the end
// of that day.
func parseAuditTime(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range auditTimeLayouts {
		t, err := time.ParseInLocation(layout, s, time.UTC)
		if err != nil {
			continue
		}
		if end && layout == "2006-01-02" {
			t = t.AddDate(0, 0, 1)
		}
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("bad time %q", s)
}

// Input is the filter as the form shows it.
func (f AuditFilter) Input() AuditFilterInput {
	return AuditFilterInput{Actor: f.Actor, Action: f.Action, TargetType: f.TargetType, TargetID: f.TargetID,
		From: formatAuditTime(f.From), To: formatAuditTime(f.To), RequestID: f.RequestID, IP: f.IP, Accessed: f.Accessed}
}

func formatAuditTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.UTC()
	if t.Equal(t.Truncate(time.Minute)) {
		// The form's datetime-local inputs show minutes.
		return t.Format("2006-01-02T15:04")
	}
	return t.Format(time.RFC3339Nano)
}

// Values is the filter as URL query values (only the fields set).
func (f AuditFilter) Values() url.Values {
	in := f.Input()
	q := url.Values{}
	for _, kv := range [][2]string{{"actor", in.Actor}, {"action", in.Action}, {"target_type", in.TargetType},
		{"target_id", in.TargetID}, {"from", in.From}, {"to", in.To}, {"request_id", in.RequestID}, {"ip", in.IP}, {"accessed", in.Accessed}} {
		if kv[1] != "" {
			q.Set(kv[0], kv[1])
		}
	}
	return q
}

// Describe is the filter for the audit.export entry: the fields set.
func (f AuditFilter) Describe() map[string]any {
	out := map[string]any{}
	for k, v := range f.Values() {
		out[k] = v[0]
	}
	return out
}

// FilterForTarget selects the entries about one record.
func FilterForTarget(t Target) AuditFilter { return AuditFilter{TargetType: t.Type, TargetID: t.ID} }

// FilterForActor selects the entries one actor made.
func FilterForActor(a Actor) AuditFilter { return AuditFilter{Actor: string(a.Type) + ":" + a.ID} }

// auditScope is a filter turned into SQL conditions.
type auditScope struct {
	conds []auditCond
	none  bool // the filter can match nothing (an unknown email)
}

type auditCond struct {
	sql  string
	args []any
}

func (s *auditScope) add(sql string, args ...any) {
	s.conds = append(s.conds, auditCond{sql, args})
}

// where is the conditions as one clause, with ? placeholders, and their
// arguments.
func (s *auditScope) where() (string, []any) {
	if len(s.conds) == 0 {
		return "1 = 1", nil
	}
	sqls := make([]string, len(s.conds))
	var args []any
	for i, c := range s.conds {
		sqls[i] = "(" + c.sql + ")"
		args = append(args, c.args...)
	}
	return strings.Join(sqls, " AND "), args
}

func (s *auditScope) apply(q *gorm.DB) *gorm.DB {
	for _, c := range s.conds {
		q = q.Where(c.sql, c.args...)
	}
	return q
}

// auditScope resolves the filter: an actor's email becomes the member's id.
func (db *DB) auditScope(ctx context.Context, f AuditFilter) (*auditScope, error) {
	s := &auditScope{}
	if f.Actor != "" {
		typ, id, hasType := strings.Cut(f.Actor, ":")
		switch {
		case strings.Contains(f.Actor, "@"):
			var ids []string
			err := db.gorm.WithContext(ctx).Model(&TeamMember{}).Where("email_address = ?", strings.ToLower(f.Actor)).
				Pluck("id", &ids).Error
			if err != nil {
				return nil, fmt.Errorf("audit: find actor: %w", err)
			}
			if len(ids) == 0 {
				s.none = true
			} else {
				s.add("actor_type = ? AND actor_id = ?", string(ActorMember), ids[0])
			}
		case hasType && isActorType(typ):
			s.add("actor_type = ? AND actor_id = ?", typ, id)
		default:
			s.add("actor_id = ?", f.Actor)
		}
	}
	if f.Action != "" {
		if slices.Contains(ActionGroups, f.Action) {
			s.add(db.Dialect.actionGroup()+" = ?", f.Action)
		} else {
			s.add("action = ?", f.Action)
		}
	}
	if f.TargetType != "" {
		if f.TargetID != "" {
			s.add("target_type = ? AND target_id = ?", f.TargetType, f.TargetID)
		} else {
			s.add("target_type = ?", f.TargetType)
		}
	}
	if !f.From.IsZero() {
		s.add("occurred_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		s.add("occurred_at < ?", f.To)
	}
	if err := db.seqBounds(ctx, f, s); err != nil {
		return nil, err
	}
	if f.RequestID != "" {
		s.add("request_id = ?", f.RequestID)
	}
	if f.IP != "" {
		s.add("ip = ?", f.IP)
	}
	if f.Accessed != "" {
		id, err := strconv.ParseInt(f.Accessed, 10, 64)
		if err != nil {
			return nil, FieldErrors{"accessed": "Enter an end user's id (a number)."}.Err()
		}
		s.add("seq IN (SELECT seq FROM pii_access WHERE end_user_id = ?)", id)
	}
	return s, nil
}

// clockSkew is how far apart the clocks of the portal's processes may be.
// Entries take their time when they are appended, so time rises with seq
// up to that much.
const clockSkew = 5 * time.Minute

// seqBounds narrows a time range to a seq range, so a page of an old
// range is an index range read on seq instead of a walk back from the
// newest entry. Each bound comes from one lookup on the time index; the
// time conditions stay, so the bounds only need to include every entry of
// the range: they are taken clockSkew wide of it.
func (db *DB) seqBounds(ctx context.Context, f AuditFilter, s *auditScope) error {
	if !f.To.IsZero() {
		var after []int64
		err := db.gorm.WithContext(ctx).Model(&AuditEntry{}).Where("occurred_at >= ?", f.To.Add(clockSkew)).
			Order("occurred_at").Limit(1).Pluck("seq", &after).Error
		if err != nil {
			return fmt.Errorf("audit: bound the time range: %w", err)
		}
		if len(after) == 1 {
			s.add("seq < ?", after[0])
		}
	}
	if !f.From.IsZero() {
		hour := f.From.Add(-clockSkew).Truncate(time.Hour)
		floor, ok := db.seqFloors.get(hour)
		if !ok {
			var before []int64
			err := db.gorm.WithContext(ctx).Model(&AuditEntry{}).Where("occurred_at < ?", hour).
				Order("occurred_at DESC").Limit(1).Pluck("seq", &before).Error
			if err != nil {
				return fmt.Errorf("audit: bound the time range: %w", err)
			}
			if len(before) == 1 {
				floor = before[0]
			}
			db.seqFloors.put(hour, floor)
		}
		if floor > 0 {
			s.add("seq > ?", floor)
		}
	}
	return nil
}

// seqFloorCache keeps, per hour, the seq of an entry older than that hour
// (0: there was none). Any such entry bounds a range that starts
// clockSkew after it (see seqBounds), and the log only grows, so an
// answer never goes stale and needs no sharing between processes. The
// user page's access list, whose window starts at a new minute on every
// view, looks its bound up once an hour instead of on every view.
type seqFloorCache struct {
	mu    sync.Mutex
	floor map[int64]int64
}

// seqFloorsKept is how many hours' floors are kept: a few windows' worth.
const seqFloorsKept = 64

func (c *seqFloorCache) get(hour time.Time) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, ok := c.floor[hour.Unix()]
	return seq, ok
}

func (c *seqFloorCache) put(hour time.Time, seq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.floor == nil || len(c.floor) >= seqFloorsKept {
		c.floor = map[int64]int64{}
	}
	c.floor[hour.Unix()] = seq
}

func isActorType(s string) bool {
	switch ActorType(s) {
	case ActorMember, ActorAPIKey, ActorSystem, ActorAnonymous:
		return true
	}
	return false
}

// AuditPageRequest asks for one page of the log.
type AuditPageRequest struct {
	Filter AuditFilter
	Cursor string // opaque, from a previous page; empty: the newest entries
	Limit  int    // one of PageSizes
}

// AuditPage is one page of entries, newest first, with the cursors of the
// neighbouring pages (empty at either end).
type AuditPage struct {
	Entries []AuditEntry
	PageCursors
}

// AuditCursorBefore is the cursor of the page of entries older than seq:
// tools use it to jump deep into the log.
func AuditCursorBefore(seq int64) string { return auditCursors.encode(cursor{id: seq, pos: -1}) }

// ListAudit returns a page of the entries the filter selects, newest
// first, by keyset on seq: page 10,000 costs what page 1 costs.
func (db *DB) ListAudit(ctx context.Context, r AuditPageRequest) (*AuditPage, error) {
	return readFrom(ctx, db, 0, func(d *DB) (*AuditPage, error) { return d.listAudit(ctx, r) })
}

func (db *DB) listAudit(ctx context.Context, r AuditPageRequest) (*AuditPage, error) {
	if !slices.Contains(PageSizes, r.Limit) {
		r.Limit = PageSizes[0]
	}
	from, err := auditCursors.decode(r.Cursor)
	if err != nil {
		return nil, err
	}
	s, err := db.auditScope(ctx, r.Filter)
	if err != nil {
		return nil, err
	}
	page := &AuditPage{}
	if s.none {
		return page, nil
	}
	q := s.apply(db.planned(ctx).Model(&AuditEntry{}))
	q = auditCursors.seek(q, from)
	rows, err := auditRows.query(db, q.Limit(r.Limit+1), make([]AuditEntry, 0, r.Limit+1))
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	page.Entries, page.PageCursors = keysetPage(auditCursors, rows, r.Limit, from,
		func(e *AuditEntry) cursor { return cursor{id: e.Seq} })
	return page, nil
}

// AuditHistory returns the newest entries the filter selects: a record's
// history (FilterForTarget), also after the record was removed, or what an
// actor did (FilterForActor). Pages that show a history use it.
func (db *DB) AuditHistory(ctx context.Context, f AuditFilter, limit int) ([]AuditEntry, error) {
	return readFrom(ctx, db, 0, func(d *DB) ([]AuditEntry, error) { return d.auditHistory(ctx, f, limit) })
}

func (db *DB) auditHistory(ctx context.Context, f AuditFilter, limit int) ([]AuditEntry, error) {
	s, err := db.auditScope(ctx, f)
	if err != nil || s.none {
		return nil, err
	}
	// A history is a short read by key on every record's page: a fixed
	// statement rather than one built through GORM, its limit written out
	// so its plan is cached (literalLimit).
	cond, args := s.where()
	q := newStatement("SELECT " + auditColumns.String() + " FROM audit_entries WHERE " + cond + " ORDER BY seq DESC LIMIT " + strconv.Itoa(limit))
	out, err := auditRows.list(ctx, db, q, make([]AuditEntry, 0, limit), args...)
	if err != nil {
		return nil, fmt.Errorf("audit history: %w", err)
	}
	return out, nil
}

// AuditEntryBySeq returns one entry by seq.
func (db *DB) AuditEntryBySeq(ctx context.Context, seq int64) (*AuditEntry, error) {
	var e AuditEntry
	err := db.gorm.WithContext(ctx).Where("seq = ?", seq).Limit(1).Find(&e).Error
	if err != nil {
		return nil, fmt.Errorf("read audit entry %d: %w", seq, err)
	}
	if e.Seq == 0 {
		return nil, notFound("No audit entry %d.", seq)
	}
	return &e, nil
}

// ChartDays is how many days the activity chart covers.
const ChartDays = 30

// AuditDailyCounts counts the entries the filter selects on each of the
// last days UTC days up to and including now's, oldest first, zeros
// included.
func (db *DB) AuditDailyCounts(ctx context.Context, f AuditFilter, now time.Time, days int) ([]DayCount, error) {
	return readFrom(ctx, db, 0, func(d *DB) ([]DayCount, error) { return d.auditDailyCounts(ctx, f, now, days) })
}

func (db *DB) auditDailyCounts(ctx context.Context, f AuditFilter, now time.Time, days int) ([]DayCount, error) {
	s, err := db.auditScope(ctx, f)
	if err != nil {
		return nil, err
	}
	if s.none {
		return emptyDays(now, days), nil
	}
	if f == (AuditFilter{}) {
		return db.auditDays.counts(ctx, db, now, days)
	}
	out, err := db.countPerDay(ctx, s.apply(db.planned(ctx).Model(&AuditEntry{})), "occurred_at", now, days)
	if err != nil {
		return nil, fmt.Errorf("count audit entries per day: %w", err)
	}
	return out, nil
}

// exportBatch is how many entries an export reads per query: memory stays
// bounded whatever the log's size.
const exportBatch = 1000

// EachAuditEntry calls fn with every entry the filter selects up to seq
// upTo, newest first, reading batch by batch by keyset. fn must not keep
// the entry it is given.
func (db *DB) EachAuditEntry(ctx context.Context, f AuditFilter, upTo int64, fn func(*AuditEntry) error) error {
	var e *AuditEntry
	return readEach(ctx, db, exportCatchUp, func(d *DB, row func() error) error {
		return d.eachAuditEntry(ctx, f, upTo, func(x *AuditEntry) error { e = x; return row() })
	}, func() error { return fn(e) })
}

func (db *DB) eachAuditEntry(ctx context.Context, f AuditFilter, upTo int64, fn func(*AuditEntry) error) error {
	s, err := db.auditScope(ctx, f)
	if err != nil || s.none {
		return err
	}
	below := upTo + 1
	batch := make([]AuditEntry, 0, exportBatch)
	for {
		q := s.apply(db.planned(ctx).Model(&AuditEntry{})).Select(auditColumns.String()).
			Where("seq < ?", below).Order("seq DESC").Limit(exportBatch)
		rows, err := q.Rows()
		if err != nil {
			return fmt.Errorf("read audit entries below seq %d: %w", below, err)
		}
		// The whole batch is read before fn runs, so the connection is
		// free for fn's own queries (an in-memory SQLite has only one).
		if batch, err = auditRows.scan(rows, batch[:0]); err != nil {
			return err
		}
		for i := range batch {
			if err := fn(&batch[i]); err != nil {
				return err
			}
		}
		if len(batch) < exportBatch {
			return nil
		}
		below = batch[len(batch)-1].Seq
	}
}

// RecordAuditExport writes the audit.export entry for an export of the
// filter in a format, and returns the seq the export covers: every entry
// up to it, so the export is exactly the log as the entry found it.
func (db *DB) RecordAuditExport(ctx context.Context, o Origin, f AuditFilter, format string) (int64, error) {
	var upTo int64
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		var head ChainHead
		if err := tx.First(&head, 1).Error; err != nil {
			return Change{}, fmt.Errorf("read chain head: %w", err)
		}
		upTo = head.Seq
		after := map[string]any{"format": format, "filter": f.Describe(), "up_to_seq": head.Seq}
		return Change{Action: "audit.export", Target: Target{Type: "audit_log"}, After: after}, nil
	})
	return upTo, err
}

// RedactedDiff is the entry's diff for display and export, with personal
// values redacted again: the stored diff was redacted when written, and
// this also covers fields that became personal since.
func (e *AuditEntry) RedactedDiff() AuditDiff {
	d := e.DecodeDiff()
	clean := func(m map[string]any) map[string]any {
		if m == nil {
			return nil
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = redact(k, v)
		}
		return out
	}
	return AuditDiff{Before: clean(d.Before), After: clean(d.After)}
}
