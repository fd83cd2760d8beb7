package models

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Settings are the portal-wide choices admins make.
type Settings struct {
	// MFARequiredForAdmins sends every admin without an authenticator to
	// set one up at their next sign-in, before anything else.
	MFARequiredForAdmins bool
	// Approvals: see approval_settings.go.
	ApprovalsRequired bool
	ApprovalExpiry    time.Duration
	// SSO is sign-in through the OpenID Connect provider (sso_settings.go).
	SSO SSOSettings
}

const settingMFARequiredForAdmins = "mfa_required_for_admins"

// setting is one row of the settings table; a missing row is the default.
type setting struct {
	Name      string `gorm:"primaryKey"`
	Value     string
	UpdatedAt time.Time
}

func (setting) TableName() string { return "settings" }

// Settings reads the portal's settings.
func (db *DB) Settings(ctx context.Context) (Settings, error) {
	return readSettings(db.gorm.WithContext(ctx))
}

func readSettings(q *gorm.DB) (Settings, error) {
	var rows []setting
	if err := q.Find(&rows).Error; err != nil {
		return Settings{}, fmt.Errorf("read settings: %w", err)
	}
	var s Settings
	for _, r := range rows {
		if r.Name == settingMFARequiredForAdmins {
			s.MFARequiredForAdmins, _ = strconv.ParseBool(r.Value)
		}
		s.readApprovalSetting(r)
		if err := s.SSO.readRow(r); err != nil {
			return Settings{}, err
		}
	}
	s.defaultApprovals()
	return s, nil
}

func (s Settings) auditFields() map[string]any {
	return map[string]any{settingMFARequiredForAdmins: s.MFARequiredForAdmins}
}

// UpdateSettings stores the settings, audited as settings.update with what
// changed. Settings already as asked are left alone, unaudited.
func (db *DB) UpdateSettings(ctx context.Context, o Origin, next Settings) (changed bool, err error) {
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		before, err := readSettings(tx)
		if err != nil {
			return Change{}, err
		}
		// Only this setting is stored here; each other section has its own.
		if before.MFARequiredForAdmins == next.MFARequiredForAdmins {
			return Change{}, errNothingToChange
		}
		row := setting{Name: settingMFARequiredForAdmins, Value: strconv.FormatBool(next.MFARequiredForAdmins), UpdatedAt: db.now()}
		err = tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}},
			DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"})}).Create(&row).Error
		if err != nil {
			return Change{}, fmt.Errorf("store settings: %w", err)
		}
		return Change{Action: "settings.update", Target: settingsTarget,
			Before: before.auditFields(), After: next.auditFields()}, nil
	})
	if err == errNothingToChange {
		return false, nil
	}
	return err == nil, err
}

// settingsTarget names the portal's settings in audit entries.
var settingsTarget = Target{Type: "settings", ID: "portal"}

// errNothingToChange rolls back an Apply that found nothing to do.
var errNothingToChange = fmt.Errorf("nothing to change")
