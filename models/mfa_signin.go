package models

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gorm.io/gorm"
)

// The answers to a second-factor code that is refused. They go beside the
// code field; a wrong code and a recovery code already spent are told
// apart, as the member holding them needs to know which.
var (
	errWrongCode = &Error{Kind: KindUnauthorized, Message: "That code is not right.",
		Fields: FieldErrors{"code": "That code is not right. Enter the code your app shows now, or a recovery code."}}
	errReplayedCode = &Error{Kind: KindUnauthorized, Message: "That code was already used.",
		Fields: FieldErrors{"code": "That code was already used. Wait for your app to show the next one."}}
	errMFANotOn = &Error{Kind: KindInvalid, Message: "Two-step sign-in is not on.",
		Fields: FieldErrors{"code": "Two-step sign-in is not on for your account."}}
)

// mfaThrottleKey counts a member's wrong codes apart from wrong passwords
// (in the same table and window, under the same limits).
func mfaThrottleKey(memberID string) string { return HashToken("mfa:" + memberID) }

// signInStage is where a sign-in whose password was right continues.
func (db *DB) signInStage(ctx context.Context, m *TeamMember) (SignInStage, error) {
	on, err := db.MFAEnabled(ctx, m.ID)
	if err != nil {
		return SignedIn, err
	}
	if !on {
		// A passkey is a second factor too: its member signs in with it
		// after the password, or with it alone.
		if on, err = db.HasPasskeys(ctx, m.ID); err != nil {
			return SignedIn, err
		}
	}
	if on {
		return AwaitingSecondFactor, nil
	}
	if m.Role == RoleAdmin {
		s, err := db.Settings(ctx)
		if err != nil {
			return SignedIn, err
		}
		if s.MFARequiredForAdmins {
			return AwaitingEnrolment, nil
		}
	}
	return SignedIn, nil
}

// factorUse is a code that was checked and is about to be spent.
type factorUse struct {
	factor     string // "totp" or "recovery_code"
	step       int64  // the TOTP step, for a TOTP code
	recoveryID int64  // the recovery code's row, for a recovery code
	during     string // what the code is for, for the audit entry
}

// checkSecondFactor checks a code from the member's app or one of their
// recovery codes, throttled like passwords. Nothing is spent yet:
// applyWithFactor spends it with the change it allows. A refusal is
// audited as auth.mfa_failed; during says what the code was for.
func (db *DB) checkSecondFactor(ctx context.Context, o Origin, m *TeamMember, code, during string) (*factorUse, error) {
	row, err := db.memberMFA(db.gorm.WithContext(ctx), m.ID)
	if err != nil {
		return nil, err
	}
	if row == nil || row.ConfirmedAt == nil {
		return nil, errMFANotOn
	}
	// As in SignIn: the attempt counts before it is checked, so parallel
	// guesses cannot all slip under the limit.
	key := mfaThrottleKey(m.ID)
	attempt := LoginFailure{AccountKey: key, IP: o.IP, FailedAt: Now()}
	if err := db.gorm.WithContext(ctx).Create(&attempt).Error; err != nil {
		return nil, fmt.Errorf("check code: record attempt: %w", err)
	}
	limits, err := db.throttled(ctx, key, o.IP)
	if err != nil {
		return nil, err
	}
	if wait := limits.wait; wait > 0 {
		if err := db.gorm.WithContext(ctx).Delete(&attempt).Error; err != nil {
			return nil, fmt.Errorf("check code: withdraw refused attempt: %w", err)
		}
		if err := db.recordMFAFailure(ctx, o, m, "throttled", during); err != nil {
			return nil, err
		}
		minutes := int(math.Ceil(wait.Minutes()))
		msg := fmt.Sprintf("Too many wrong codes. Try again in %d minute%s.", minutes, plural(minutes))
		return nil, &Error{Kind: KindThrottled, Message: msg, Fields: FieldErrors{"code": msg}}
	}

	code = normalizeCode(code)
	use, res := &factorUse{during: during}, codeWrong
	switch {
	case isTOTPCode(code):
		secret, err := db.openSecret(row)
		if err != nil {
			return nil, err
		}
		use.factor = "totp"
		use.step, res = matchTOTP(secret, code, db.now(), row.LastStep)
	case isRecoveryCode(code):
		var rc RecoveryCode
		err := db.gorm.WithContext(ctx).Where("member_id = ? AND code_hash = ?", m.ID, recoveryCodeHash(m.ID, code)).Take(&rc).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
		case err != nil:
			return nil, fmt.Errorf("check recovery code: %w", err)
		case rc.UsedAt != nil:
			res = codeReplayed
		default:
			use.factor, use.recoveryID, res = "recovery_code", rc.ID, codeOK
		}
	}
	switch res {
	case codeOK:
		return use, nil
	case codeReplayed:
		return nil, db.refuseCode(ctx, o, m, "replayed", during, errReplayedCode)
	default:
		return nil, db.refuseCode(ctx, o, m, "wrong_code", during, errWrongCode)
	}
}

func (db *DB) refuseCode(ctx context.Context, o Origin, m *TeamMember, reason, during string, answer error) error {
	if err := db.recordMFAFailure(ctx, o, m, reason, during); err != nil {
		return err
	}
	return answer
}

func (db *DB) recordMFAFailure(ctx context.Context, o Origin, m *TeamMember, reason, during string) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		return Change{Action: "auth.mfa_failed", Target: m.AuditTarget(),
			After: map[string]any{"reason": reason, "during": during}}, nil
	})
}

// applyWithFactor runs fn in one audited transaction with spending the
// checked code: a TOTP step moves last_step forward, a recovery code is
// marked used, and the member's wrong codes are forgotten. Should the same
// code have been spent meanwhile (two requests racing with it), the whole
// change is refused as a replay.
func (db *DB) applyWithFactor(ctx context.Context, o Origin, m *TeamMember, use *factorUse, fn func(tx *gorm.DB) (Change, error)) error {
	now := db.now()
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		var r *gorm.DB
		if use.factor == "totp" {
			r = tx.Model(&MemberMFA{}).Where("member_id = ? AND last_step < ?", m.ID, use.step).
				Updates(map[string]any{"last_step": use.step, "updated_at": now})
		} else {
			r = tx.Model(&RecoveryCode{}).Where("id = ? AND used_at IS NULL", use.recoveryID).Update("used_at", now)
		}
		if r.Error != nil {
			return Change{}, fmt.Errorf("spend code: %w", r.Error)
		}
		if r.RowsAffected != 1 {
			return Change{}, errReplayedCode
		}
		if err := tx.Where("account_key = ?", mfaThrottleKey(m.ID)).Delete(&LoginFailure{}).Error; err != nil {
			return Change{}, err
		}
		if use.factor == "recovery_code" {
			var left int64
			if err := tx.Model(&RecoveryCode{}).Where("member_id = ? AND used_at IS NULL", m.ID).Count(&left).Error; err != nil {
				return Change{}, err
			}
			if _, err := appendAudit(tx, o, Change{Action: "auth.recovery_code_used", Target: m.AuditTarget(),
				After: map[string]any{"recovery_codes_left": left}}); err != nil {
				return Change{}, err
			}
		}
		return fn(tx)
	})
	if errors.Is(err, errReplayedCode) {
		return db.refuseCode(ctx, o, m, "replayed", use.during, errReplayedCode)
	}
	return err
}

// CompleteSignIn takes the second factor of a sign-in waiting for it: a
// code from the member's app or one of their recovery codes. When it is
// right, the waiting session is replaced by a completed one (a new id),
// audited as auth.login with the factor used.
func (db *DB) CompleteSignIn(ctx context.Context, o Origin, m *TeamMember, code string, p Promotion) error {
	err := db.completeSignIn(ctx, o, m, code, p)
	db.observe().SignIn(SignInCode, codeOutcome(err))
	return err
}

// codeOutcome is how a second-factor step that returned err ended.
func codeOutcome(err error) SignInOutcome {
	var merr *Error
	switch {
	case err == nil:
		return SignInSucceeded
	case errors.Is(err, errWrongCode):
		return SignInWrongCode
	case errors.Is(err, errReplayedCode):
		return SignInReplayedCode
	case errors.As(err, &merr) && merr.Kind == KindThrottled:
		return SignInThrottled
	}
	return SignInFailed
}

func (db *DB) completeSignIn(ctx context.Context, o Origin, m *TeamMember, code string, p Promotion) error {
	use, err := db.checkSecondFactor(ctx, o, m, code, "sign_in")
	if err != nil {
		return err
	}
	return db.applyWithFactor(ctx, o, m, use, func(tx *gorm.DB) (Change, error) {
		if err := promote(tx, m.ID, AwaitingSecondFactor, &p); err != nil {
			return Change{}, err
		}
		return Change{Action: "auth.login", Target: m.AuditTarget(), After: map[string]any{"factor": use.factor}}, nil
	})
}
