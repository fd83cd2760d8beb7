package models

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The approval settings are rows of the settings table like the others,
// with their own section of the settings page and their own audit entry.
const (
	settingApprovalsRequired = "approvals_required"
	settingApprovalExpiry    = "approval_expiry_hours"
)

// DefaultApprovalExpiry is how long a request waits for a decision unless
// an admin chose otherwise: a long weekend.
const DefaultApprovalExpiry = 72 * time.Hour

// MinApprovalExpiryHours and MaxApprovalExpiryHours bound the expiry an
// admin may choose, in whole hours.
const (
	MinApprovalExpiryHours = 1
	MaxApprovalExpiryHours = 30 * 24
)

// readApprovalSetting takes the approval settings from their rows.
func (s *Settings) readApprovalSetting(r setting) {
	switch r.Name {
	case settingApprovalsRequired:
		s.ApprovalsRequired, _ = strconv.ParseBool(r.Value)
	case settingApprovalExpiry:
		if h, err := strconv.Atoi(r.Value); err == nil && h >= MinApprovalExpiryHours && h <= MaxApprovalExpiryHours {
			s.ApprovalExpiry = time.Duration(h) * time.Hour
		}
	}
}

// defaultApprovals fills in what no row set.
func (s *Settings) defaultApprovals() {
	if s.ApprovalExpiry == 0 {
		s.ApprovalExpiry = DefaultApprovalExpiry
	}
}

// ApprovalExpiryHours is the expiry as the settings page shows it.
func (s Settings) ApprovalExpiryHours() int { return int(s.ApprovalExpiry / time.Hour) }

// ApprovalSettingsInput is the approval section of the settings page as
// submitted.
type ApprovalSettingsInput struct {
	Required    bool
	ExpiryHours string
}

// UpdateApprovalSettings stores whether the actions that need a second
// admin wait for one, and how long a request waits, audited as
// settings.update. Settings already as asked are left alone, unaudited.
// Requests already made keep the expiry they were made with.
func (db *DB) UpdateApprovalSettings(ctx context.Context, o Origin, in ApprovalSettingsInput) (changed bool, err error) {
	hours, err := parseExpiryHours(in.ExpiryHours)
	if err != nil {
		return false, err
	}
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		before, err := readSettings(tx)
		if err != nil {
			return Change{}, err
		}
		if before.ApprovalsRequired == in.Required && before.ApprovalExpiryHours() == hours {
			return Change{}, errNothingToChange
		}
		now := db.now()
		rows := []setting{
			{Name: settingApprovalsRequired, Value: strconv.FormatBool(in.Required), UpdatedAt: now},
			{Name: settingApprovalExpiry, Value: strconv.Itoa(hours), UpdatedAt: now},
		}
		err = tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}},
			DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"})}).Create(&rows).Error
		if err != nil {
			return Change{}, fmt.Errorf("store approval settings: %w", err)
		}
		return Change{Action: "settings.update", Target: settingsTarget,
			Before: map[string]any{settingApprovalsRequired: before.ApprovalsRequired, settingApprovalExpiry: before.ApprovalExpiryHours()},
			After:  map[string]any{settingApprovalsRequired: in.Required, settingApprovalExpiry: hours}}, nil
	})
	if err == errNothingToChange {
		return false, nil
	}
	return err == nil, err
}

// parseExpiryHours reads the typed expiry: whole hours within bounds.
func parseExpiryHours(s string) (int, error) {
	s = strings.TrimSpace(s)
	msg := fmt.Sprintf("Enter a whole number of hours from %d to %d (%d days).",
		MinApprovalExpiryHours, MaxApprovalExpiryHours, MaxApprovalExpiryHours/24)
	if len(s) > 6 {
		return 0, FieldErrors{"expiry_hours": msg}.Err()
	}
	h, err := strconv.Atoi(s)
	if err != nil || h < MinApprovalExpiryHours || h > MaxApprovalExpiryHours {
		return 0, FieldErrors{"expiry_hours": msg}.Err()
	}
	return h, nil
}
