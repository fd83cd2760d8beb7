package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// CSRFToken is an issued anti-forgery token, stored as a hash so every
// portal process (and a restarted one) accepts the tokens any of them issued.
// Its expiry is stored in UTC, as SQLite compares times as text.
type CSRFToken struct {
	TokenHash string `gorm:"primaryKey"`
	ExpiresAt time.Time
}

func (CSRFToken) TableName() string { return "csrf_tokens" }

// CSRFTokenValid reports whether token was issued and has not expired.
func (db *DB) CSRFTokenValid(ctx context.Context, token string) (bool, error) {
	var t CSRFToken
	err := db.gorm.WithContext(ctx).Where("token_hash = ? AND expires_at > ?", HashToken(token), Now()).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	return err == nil, err
}

// PutCSRFToken issues token, or extends it, until expires.
func (db *DB) PutCSRFToken(ctx context.Context, token string, expires time.Time) error {
	return db.gorm.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "token_hash"}},
		DoUpdates: clause.AssignmentColumns([]string{"expires_at"}),
	}).Create(&CSRFToken{TokenHash: HashToken(token), ExpiresAt: expires.UTC()}).Error
}

// DeleteCSRFToken withdraws a token.
func (db *DB) DeleteCSRFToken(ctx context.Context, token string) error {
	return db.gorm.WithContext(ctx).Where("token_hash = ?", HashToken(token)).Delete(&CSRFToken{}).Error
}
