package models

import (
	"context"
	"fmt"
	"math"

	"gorm.io/gorm"
)

// MFASetupProof is what lets a member start binding an authenticator to
// their account. Whoever binds one holds the account's second factor from
// then on, so a session alone is not enough: a stolen cookie must not be
// able to bind the thief's phone.
type MFASetupProof struct {
	// Password is the member's current password, typed for this setup.
	Password string
	// PendingSignIn, instead of the password, is the id hash of the
	// session of an admin made to enrol at sign-in. That session exists
	// only because the password was typed moments ago (it expires
	// PendingSignInLifetime after it was made) and reaches nothing but the
	// enrolment, so asking for the password again would prove nothing new.
	PendingSignIn string
}

// errWrongPasswordAgain answers a wrong password typed to confirm a
// sensitive change, beside the field.
var errWrongPasswordAgain = &Error{Kind: KindInvalid, Message: "That is not your password.",
	Fields: FieldErrors{"password": "That is not your password. Nothing was changed."}}

// checkSetupProof checks p for m. A typed password is throttled and
// counted with the account's sign-in failures: it is the same secret, so
// guesses here and on the login page share one limit. A refusal is
// audited as auth.reauth_failed. On success it returns the account key
// whose failures the caller forgets in its transaction ("" for a pending
// sign-in).
func (db *DB) checkSetupProof(ctx context.Context, o Origin, m *TeamMember, p MFASetupProof, during string) (string, error) {
	if p.PendingSignIn != "" {
		var n int64
		err := db.gorm.WithContext(ctx).Model(&Session{}).
			Where("id_hash = ? AND member_id = ? AND mfa_stage = ? AND expires_at > ?",
				p.PendingSignIn, m.ID, string(AwaitingEnrolment), Now().UTC()).Count(&n).Error
		if err != nil {
			return "", fmt.Errorf("check pending sign-in: %w", err)
		}
		if n != 1 {
			return "", notFound("That sign-in is no longer waiting. Sign in again.")
		}
		return "", nil
	}
	if p.Password == "" {
		return "", FieldErrors{"password": "Enter your password to confirm it is you."}.Err()
	}
	key := accountKey(m.EmailAddress)
	// As in SignIn: the attempt counts before it is checked.
	attempt := LoginFailure{AccountKey: key, IP: o.IP, FailedAt: Now()}
	if err := db.gorm.WithContext(ctx).Create(&attempt).Error; err != nil {
		return "", fmt.Errorf("check password: record attempt: %w", err)
	}
	limits, err := db.throttled(ctx, key, o.IP)
	if err != nil {
		return "", err
	}
	if wait := limits.wait; wait > 0 {
		if err := db.gorm.WithContext(ctx).Delete(&attempt).Error; err != nil {
			return "", fmt.Errorf("check password: withdraw refused attempt: %w", err)
		}
		if err := takeTimeOfPasswordCheck(ctx, limits.accountFailures); err != nil && err != ErrPasswordCheckBusy {
			return "", err
		}
		if err := db.recordReauthFailure(ctx, o, m, "throttled", during); err != nil {
			return "", err
		}
		minutes := int(math.Ceil(wait.Minutes()))
		msg := fmt.Sprintf("Too many wrong passwords. Try again in %d minute%s.", minutes, plural(minutes))
		return "", &Error{Kind: KindThrottled, Message: msg, Fields: FieldErrors{"password": msg}}
	}
	// The hash is read afresh: the member the caller holds may be one
	// loaded without it, and a password changed in another tab counts.
	var hash string
	if err := db.gorm.WithContext(ctx).Model(&TeamMember{}).Where("id = ?", m.ID).
		Select("password_hash").Scan(&hash).Error; err != nil {
		return "", fmt.Errorf("check password: %w", err)
	}
	ok, err := verifyPassword(ctx, hash, p.Password, limits.accountFailures)
	if err != nil {
		if derr := db.gorm.WithContext(context.WithoutCancel(ctx)).Delete(&attempt).Error; derr != nil {
			return "", fmt.Errorf("check password: withdraw unchecked attempt: %w", derr)
		}
		return "", err
	}
	if !ok {
		if err := db.recordReauthFailure(ctx, o, m, "wrong_password", during); err != nil {
			return "", err
		}
		return "", errWrongPasswordAgain
	}
	return key, nil
}

func (db *DB) recordReauthFailure(ctx context.Context, o Origin, m *TeamMember, reason, during string) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		return Change{Action: "auth.reauth_failed", Target: m.AuditTarget(),
			After: map[string]any{"reason": reason, "during": during}}, nil
	})
}
