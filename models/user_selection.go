package models

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"gorm.io/gorm"
)

// MaxSelectedIDs bounds a selection of ticked rows: ten of the largest
// pages. Past it, an action takes every user the filter selects.
const MaxSelectedIDs = 1000

// UserSelection is the users an export or a batch action covers: every
// user the filter selects, or the rows ticked by id.
type UserSelection struct {
	// ByFilter takes every user Filter selects; else the users IDs names.
	// An empty list of ids is refused, never read as "everyone".
	ByFilter bool
	Filter   UserFilter
	IDs      []int64
}

// Normalize checks the selection and returns it as it applies: the
// filter's defaults filled, or the ids sorted without repeats.
func (s UserSelection) Normalize() (UserSelection, error) {
	if s.ByFilter {
		if err := s.Filter.Validate(); err != nil {
			return s, err
		}
		r := UserPageRequest{Filter: s.Filter}
		r.Normalize()
		return UserSelection{ByFilter: true, Filter: r.Filter}, nil
	}
	ids := slices.Clone(s.IDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	switch {
	case len(ids) == 0:
		return s, FieldErrors{"ids": "Select at least one user."}.Err()
	case len(ids) > MaxSelectedIDs:
		return s, FieldErrors{"ids": fmt.Sprintf("Select at most %s users, or choose all users matching the filter.",
			GroupDigits(MaxSelectedIDs))}.Err()
	case ids[0] <= 0:
		return s, FieldErrors{"ids": "A selected id is not a user's id."}.Err()
	}
	return UserSelection{IDs: ids}, nil
}

// ParseSelectedIDs reads the ids of ticked rows as a form sends them.
func ParseSelectedIDs(raw []string) ([]int64, error) {
	if len(raw) > MaxSelectedIDs {
		return nil, FieldErrors{"ids": fmt.Sprintf("Select at most %s users, or choose all users matching the filter.",
			GroupDigits(MaxSelectedIDs))}.Err()
	}
	ids := make([]int64, 0, len(raw))
	for _, s := range raw {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return nil, FieldErrors{"ids": "A selected id is not a user's id."}.Err()
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// auditValue is the selection as an audit entry records it: the ids, or
// the filter's fields that are set.
func (s UserSelection) auditValue() map[string]any {
	if !s.ByFilter {
		return map[string]any{"ids": s.IDs}
	}
	filter := map[string]any{}
	for k, v := range s.Filter.Values() {
		filter[k] = v[0]
	}
	return map[string]any{"filter": filter}
}

// selected is the query for the users s covers (any state), with now the
// clock the filter's health conditions read.
func (db *DB) selected(ctx context.Context, s UserSelection) *gorm.DB {
	if s.ByFilter {
		return db.matching(ctx, s.Filter, Now(), nil)
	}
	return db.gorm.WithContext(ctx).Model(&EndUser{}).Where("id IN ?", s.IDs)
}
