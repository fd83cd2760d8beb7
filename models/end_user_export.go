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

// UserExport is an export as its user.export entry recorded it.
type UserExport struct {
	// Selection is the selection as the export applies it (defaults
	// filled).
	Selection UserSelection
	// UpTo is the time it covers: users created up to the entry, so the
	// export is the list as the entry found it.
	UpTo time.Time
	// Seq is the entry's.
	Seq int64
}

// RecordUserExport checks the selection and writes the user.export entry
// for an export of it in a format, with the personal fields its rows
// carry. An export by ids is an access to each of them, indexed with the
// entry; an export by filter has its users indexed as its rows go out
// (EachExportedUser).
func (db *DB) RecordUserExport(ctx context.Context, o Origin, s UserSelection, format string, fields AccessFields) (UserExport, error) {
	s, err := s.Normalize()
	if err != nil {
		return UserExport{Selection: s}, err
	}
	var upTo time.Time
	e, err := db.applyEntry(ctx, o, func(tx *gorm.DB) (Change, error) {
		upTo = Now()
		after := s.auditValue()
		after["format"], after["created_up_to"] = format, upTo.Format(time.RFC3339Nano)
		for k, v := range fields.value() {
			after[k] = v
		}
		c := Change{Action: ActionUserExport, Target: Target{Type: "end_user"}, After: after}
		if !s.ByFilter {
			c.Subjects = s.IDs
		}
		return c, nil
	})
	if err != nil {
		return UserExport{Selection: s, UpTo: upTo}, err
	}
	return UserExport{Selection: s, UpTo: upTo, Seq: e.Seq}, nil
}

// EachExportedUser is EachEndUser for an export that was recorded: for an
// export by filter, each batch of users is indexed as accessed by the
// export's entry before any of it goes to fn, so every row that leaves is
// on record (a batch that cannot be recorded ends the export).
func (db *DB) EachExportedUser(ctx context.Context, x UserExport, fn func(*EndUser) error) error {
	return db.eachEndUserBatch(ctx, x.Selection, x.UpTo, func(batch []EndUser) error {
		if x.Selection.ByFilter && len(batch) > 0 {
			rows := make([]piiAccess, len(batch))
			for i := range batch {
				rows[i] = piiAccess{EndUserID: batch[i].ID, Seq: x.Seq}
			}
			if err := insertSubjects(db.gorm.WithContext(ctx), rows); err != nil {
				return err
			}
		}
		for i := range batch {
			if err := fn(&batch[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// ActionUserExport is the audit action of an export of the users list.
const ActionUserExport = "user.export"

// EachEndUser calls fn with every user of the selection that was created up to upTo, newest first, reading batch by
// batch by keyset. fn must not keep the user it is given.
func (db *DB) EachEndUser(ctx context.Context, s UserSelection, upTo time.Time, fn func(*EndUser) error) error {
	return db.eachEndUserBatch(ctx, s, upTo, func(batch []EndUser) error {
		for i := range batch {
			if err := fn(&batch[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// eachEndUserBatch is EachEndUser a batch at a time, read from a replica
// when one has replayed the export's entry, else from the primary.
func (db *DB) eachEndUserBatch(ctx context.Context, s UserSelection, upTo time.Time, fn func([]EndUser) error) error {
	var batch []EndUser
	return readEach(ctx, db, exportCatchUp, func(d *DB, row func() error) error {
		return d.eachEndUserBatchOn(ctx, s, upTo, func(b []EndUser) error { batch = b; return row() })
	}, func() error { return fn(batch) })
}

func (db *DB) eachEndUserBatchOn(ctx context.Context, s UserSelection, upTo time.Time, fn func([]EndUser) error) error {
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
		if err := fn(rows); err != nil {
			return err
		}
		if len(rows) < userExportBatch {
			return nil
		}
		last := endUserAt(&rows[len(rows)-1])
		from = &last
	}
}
