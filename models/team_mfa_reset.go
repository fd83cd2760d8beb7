package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// MFAEnrolledAt is when the member's two-step sign-in was turned on, or nil
// when it is off. A secret still being set up counts as off: it signs
// nobody in.
// A passkey is a second factor too: the first one registered counts.
func (db *DB) MFAEnrolledAt(ctx context.Context, memberID string) (*time.Time, error) {
	var row MemberMFA
	err := db.gorm.WithContext(ctx).Select("confirmed_at").
		Where("member_id = ? AND confirmed_at IS NOT NULL", memberID).Take(&row).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("read mfa state: %w", err)
	}
	var first Passkey
	err = db.gorm.WithContext(ctx).Select("created_at").Where("member_id = ?", memberID).Order("created_at").Take(&first).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return row.ConfirmedAt, nil
	case err != nil:
		return nil, fmt.Errorf("read passkeys: %w", err)
	case row.ConfirmedAt == nil || first.CreatedAt.Before(*row.ConfirmedAt):
		return &first.CreatedAt, nil
	}
	return row.ConfirmedAt, nil
}

// ResetMemberMFA is an admin's way out for a member who lost both their
// phone and their recovery codes, or their passkeys: it removes the
// member's TOTP secret, recovery codes and passkeys and ends all their
// sessions, in one transaction audited
// as team.mfa_reset. Their next sign-in asks for the password only (or,
// for an admin on a portal that requires it, sends them to enrolment).
// Nobody resets their own this way: a member who still holds a factor
// turns it off at /account/mfa with a code, and a stolen session must not
// be able to drop the second factor of the account it is in.
func (db *DB) ResetMemberMFA(ctx context.Context, o Origin, memberID string) (ended int64, err error) {
	err = db.Apply(ctx, o, func(tx *gorm.DB) (c Change, err error) {
		ended, c, err = resetMemberMFA(tx, o, memberID)
		return c, err
	})
	return ended, err
}

// resetMemberMFA is ResetMemberMFA's change inside tx, made by o.
func resetMemberMFA(tx *gorm.DB, o Origin, memberID string) (ended int64, _ Change, _ error) {
	m, err := lockMember(tx, memberID)
	if err != nil {
		return 0, Change{}, err
	}
	if o.Actor.Type == ActorMember && o.Actor.ID == m.ID {
		return 0, Change{}, &Error{Kind: KindForbidden, Message: "You cannot reset your own two-step sign-in here: " +
			"turn it off or make new recovery codes on your account's two-step sign-in page. Nothing was changed."}
	}
	var row MemberMFA
	err = tx.Where("member_id = ? AND confirmed_at IS NOT NULL", m.ID).Take(&row).Error
	totp := err == nil
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, Change{}, fmt.Errorf("read mfa: %w", err)
	}
	var passkeys int64
	if err := tx.Model(&Passkey{}).Where("member_id = ?", m.ID).Count(&passkeys).Error; err != nil {
		return 0, Change{}, fmt.Errorf("count passkeys: %w", err)
	}
	if !totp && passkeys == 0 {
		return 0, Change{}, &Error{Kind: KindConflict, Message: fmt.Sprintf(
			"%s does not use two-step sign-in: there is nothing to reset. Nothing was changed.", m.EmailAddress)}
	}
	var left int64
	if err := tx.Model(&RecoveryCode{}).Where("member_id = ? AND used_at IS NULL", m.ID).Count(&left).Error; err != nil {
		return 0, Change{}, fmt.Errorf("count recovery codes: %w", err)
	}
	if err := tx.Where("member_id = ?", m.ID).Delete(&RecoveryCode{}).Error; err != nil {
		return 0, Change{}, fmt.Errorf("drop recovery codes: %w", err)
	}
	if err := tx.Where("member_id = ?", m.ID).Delete(&MemberMFA{}).Error; err != nil {
		return 0, Change{}, fmt.Errorf("drop mfa: %w", err)
	}
	if err := tx.Where("member_id = ?", m.ID).Delete(&Passkey{}).Error; err != nil {
		return 0, Change{}, fmt.Errorf("drop passkeys: %w", err)
	}
	if err := tx.Where("member_id = ?", m.ID).Delete(&passkeyCeremony{}).Error; err != nil {
		return 0, Change{}, fmt.Errorf("drop passkey ceremonies: %w", err)
	}
	// Wrong codes counted against the old authenticator no longer
	// mean anything.
	if err := tx.Where("account_key = ?", mfaThrottleKey(m.ID)).Delete(&LoginFailure{}).Error; err != nil {
		return 0, Change{}, fmt.Errorf("forget wrong codes: %w", err)
	}
	r := tx.Where("member_id = ?", m.ID).Delete(&Session{})
	if r.Error != nil {
		return 0, Change{}, fmt.Errorf("end sessions: %w", r.Error)
	}
	ended = r.RowsAffected
	return ended, Change{Action: "team.mfa_reset", Target: m.AuditTarget(),
		Before: map[string]any{"mfa": onOff(totp), "recovery_codes_left": left, "passkeys": passkeys},
		After:  map[string]any{"mfa": "off", "passkeys": 0, "sessions_ended": ended}}, nil
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
