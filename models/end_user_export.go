package models

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"gorm.io/gorm"
)

// userExportBatch is how many users an export reads per query: memory
// stays bounded whatever the table's size.
const userExportBatch = 1000

// Values is the filter as the users list's query values, the fields set.
func (f UserFilter) Values() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"q": f.Search, "status": f.Status, "health": f.Health,
		"institution": f.Institution, "error_code": f.ErrorCode, "created_from": f.CreatedFrom} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// RecordUserExport checks the selection and writes the user.export entry
// for an export of it in a format; it returns the selection as the export
// will apply it (defaults filled) and the time it covers: users created up
// to the entry, so the export is the list as the entry found it.
func (db *DB) RecordUserExport(ctx context.Context, o Origin, s UserSelection, format string) (UserSelection, time.Time, error) {
	s, err := s.Normalize()
	if err != nil {
		return s, time.Time{}, err
	}
	var upTo time.Time
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		upTo = Now()
		after := s.auditValue()
		after["format"], after["created_up_to"] = format, upTo.Format(time.RFC3339Nano)
		return Change{Action: ActionUserExport, Target: Target{Type: "end_user"}, After: after}, nil
	})
	return s, upTo, err
}

// ActionUserExport is the audit action of an export of the users list.
const ActionUserExport = "user.export"

// EachEndUser calls fn with every user of the selection that was created up to upTo, newest first, reading batch by
// batch by keyset. fn must not keep the user it is given.
func (db *DB) EachEndUser(ctx context.Context, s UserSelection, upTo time.Time, fn func(*EndUser) error) error {
	var u *EndUser
	return readEach(ctx, db, exportCatchUp, func(d *DB, row func() error) error {
		return d.eachEndUser(ctx, s, upTo, func(x *EndUser) error { u = x; return row() })
	}, func() error { return fn(u) })
}

func (db *DB) eachEndUser(ctx context.Context, s UserSelection, upTo time.Time, fn func(*EndUser) error) error {
	s, err := s.Normalize()
	if err != nil {
		return err
	}
	now := Now()
	var from *cursor
	rows := make([]EndUser, 0, userExportBatch)
	for {
		page := func(q *gorm.DB) *gorm.DB {
			return userCursors.seek(q.Where("created_at <= ?", upTo), from).Limit(userExportBatch)
		}
		q := db.gorm.WithContext(ctx).Model(&EndUser{}).Where("id IN ?", s.IDs)
		if s.ByFilter {
			q = db.matching(ctx, s.Filter, now, page)
		}
		rows, err = endUserRows.query(db, page(q), rows[:0])
		if err != nil {
			return fmt.Errorf("export end users: %w", err)
		}
		for i := range rows {
			if err := fn(&rows[i]); err != nil {
				return err
			}
		}
		if len(rows) < userExportBatch {
			return nil
		}
		last := endUserAt(&rows[len(rows)-1])
		from = &last
	}
}
