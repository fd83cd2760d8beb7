package models

import (
	"context"
	"fmt"
)

// EndUsersAfter lists live users with an id above after, by id, for the
// Powens-style list: the primary key is its keyset, so a page deep in a
// million users costs what the first one costs.
func (db *DB) EndUsersAfter(ctx context.Context, after int64, limit int) ([]EndUser, error) {
	var out []EndUser
	err := db.gorm.WithContext(ctx).Select("id", "created_at").
		Where("id > ? AND removed_at IS NULL", after).Order("id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list end users after %d: %w", after, err)
	}
	return out, nil
}
