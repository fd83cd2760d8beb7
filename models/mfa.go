package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// SignInStage is how far a session's sign-in got. Only SignedIn reaches
// the portal; the others reach the one step that finishes sign-in.
type SignInStage string

const (
	// SignedIn is a completed sign-in.
	SignedIn SignInStage = ""
	// AwaitingSecondFactor gave the password and owes a code.
	AwaitingSecondFactor SignInStage = "mfa_pending"
	// AwaitingEnrolment is an admin who must set up an authenticator
	// before anything else, as the portal's settings require.
	AwaitingEnrolment SignInStage = "mfa_enrol"
)

// PendingSignInLifetime bounds a half-finished sign-in: the code, or the
// enrolment, must follow within it.
const PendingSignInLifetime = 15 * time.Minute

// MemberMFA is a member's authenticator: the sealed TOTP secret, whether a
// first code confirmed it, and the newest time step accepted.
type MemberMFA struct {
	MemberID     string `gorm:"primaryKey"`
	SecretCipher string
	KeyID        string
	LastStep     int64
	ConfirmedAt  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (MemberMFA) TableName() string { return "member_mfa" }

// RecoveryCode is one single-use recovery code, stored as a hash.
type RecoveryCode struct {
	ID        int64 `gorm:"primaryKey"`
	MemberID  string
	CodeHash  string
	UsedAt    *time.Time
	CreatedAt time.Time
}

func (RecoveryCode) TableName() string { return "mfa_recovery_codes" }

// MFAStatus is what the member's two-step sign-in page shows.
type MFAStatus struct {
	Enabled           bool
	ConfirmedAt       time.Time
	RecoveryCodesLeft int
	// Setup is the secret being set up, when not yet enabled.
	Setup *TOTPSetup
}

// MFAEnabled reports whether the member signs in with a second factor.
func (db *DB) MFAEnabled(ctx context.Context, memberID string) (bool, error) {
	var n int64
	err := db.gorm.WithContext(ctx).Model(&MemberMFA{}).
		Where("member_id = ? AND confirmed_at IS NOT NULL", memberID).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("read mfa state: %w", err)
	}
	return n > 0, nil
}

// MFAStatusOf reads the member's two-step sign-in, opening a secret that is
// being set up so it can be shown again.
func (db *DB) MFAStatusOf(ctx context.Context, m *TeamMember) (MFAStatus, error) {
	row, err := db.memberMFA(db.gorm.WithContext(ctx), m.ID)
	if err != nil || row == nil {
		return MFAStatus{}, err
	}
	if row.ConfirmedAt != nil {
		var left int64
		err := db.gorm.WithContext(ctx).Model(&RecoveryCode{}).
			Where("member_id = ? AND used_at IS NULL", m.ID).Count(&left).Error
		if err != nil {
			return MFAStatus{}, fmt.Errorf("count recovery codes: %w", err)
		}
		return MFAStatus{Enabled: true, ConfirmedAt: *row.ConfirmedAt, RecoveryCodesLeft: int(left)}, nil
	}
	secret, err := db.openSecret(row)
	if err != nil {
		return MFAStatus{}, err
	}
	key, err := totpKey(m.EmailAddress, secret)
	if err != nil {
		return MFAStatus{}, err
	}
	return MFAStatus{Setup: &TOTPSetup{Secret: key.Secret(), URL: key.URL(), key: key}}, nil
}

func (db *DB) memberMFA(q *gorm.DB, memberID string) (*MemberMFA, error) {
	var row MemberMFA
	err := q.Where("member_id = ?", memberID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read mfa: %w", err)
	}
	return &row, nil
}

func (db *DB) openSecret(row *MemberMFA) (string, error) {
	s, err := db.cipher().Open(row.SecretCipher, row.KeyID, totpSecretContext(row.MemberID))
	if err != nil {
		return "", fmt.Errorf("open totp secret of %s: %w", row.MemberID, err)
	}
	return s, nil
}

var errMFAAlreadyOn = &Error{Kind: KindConflict, Message: "Two-step sign-in is already on."}

// StartMFASetup draws a new secret for the member's authenticator and keeps
// it sealed until a first code confirms it, audited as auth.mfa_setup.
// Starting again replaces a secret that was never confirmed. The member
// proves it is them (see MFASetupProof); without that nothing is written
// but the refusal's audit entry and its count for throttling.
func (db *DB) StartMFASetup(ctx context.Context, o Origin, m *TeamMember, proof MFASetupProof) error {
	on, err := db.MFAEnabled(ctx, m.ID)
	if err != nil {
		return err
	}
	if on {
		return errMFAAlreadyOn
	}
	failuresKey, err := db.checkSetupProof(ctx, o, m, proof, "mfa_setup")
	if err != nil {
		return err
	}
	key, err := newTOTPKey(m.EmailAddress)
	if err != nil {
		return err
	}
	now := db.now()
	row := MemberMFA{MemberID: m.ID, SecretCipher: db.cipher().Seal(key.Secret(), totpSecretContext(m.ID)),
		KeyID: db.cipher().CurrentKeyID(), CreatedAt: now, UpdatedAt: now}
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		old, err := db.memberMFA(tx, m.ID)
		if err != nil {
			return Change{}, err
		}
		if old != nil && old.ConfirmedAt != nil {
			return Change{}, errMFAAlreadyOn
		}
		if err := tx.Where("member_id = ?", m.ID).Delete(&MemberMFA{}).Error; err != nil {
			return Change{}, fmt.Errorf("replace mfa setup: %w", err)
		}
		if err := tx.Create(&row).Error; err != nil {
			return Change{}, fmt.Errorf("store mfa setup: %w", err)
		}
		if failuresKey != "" {
			// As a sign-in does: the right password forgets the wrong ones.
			if err := tx.Where("account_key = ?", failuresKey).Delete(&LoginFailure{}).Error; err != nil {
				return Change{}, fmt.Errorf("forget wrong passwords: %w", err)
			}
		}
		return Change{Action: "auth.mfa_setup", Target: m.AuditTarget(), After: map[string]any{"mfa": "setting_up"}}, nil
	})
}

// Promotion replaces a session at an earlier stage of sign-in with a new,
// completed one: the session id changes whenever it gains access.
type Promotion struct {
	From string  // id hash of the session being replaced
	To   Session // the new row, as the web layer prepared it
}

// promote swaps the session inside tx; the old one must still be the
// member's and at stage from.
func promote(tx *gorm.DB, memberID string, from SignInStage, p *Promotion) error {
	r := tx.Where("id_hash = ? AND member_id = ? AND mfa_stage = ?", p.From, memberID, string(from)).Delete(&Session{})
	if r.Error != nil {
		return fmt.Errorf("end pending session: %w", r.Error)
	}
	if r.RowsAffected != 1 {
		return notFound("That sign-in is no longer waiting. Sign in again.")
	}
	s := p.To
	s.MemberID = memberID
	s.MFAStage = SignedIn
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC(), s.ExpiresAt.UTC()
	if err := tx.Create(&s).Error; err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// ConfirmMFA checks the first code from the member's app against the
// secret being set up. When it matches, two-step sign-in is on and the
// fresh recovery codes are returned, to be shown once; audited as
// auth.mfa_enrol. An admin made to enrol at sign-in passes promotion, and
// their sign-in completes in the same transaction (auth.login).
func (db *DB) ConfirmMFA(ctx context.Context, o Origin, m *TeamMember, code string, promotion *Promotion) ([]string, error) {
	row, err := db.memberMFA(db.gorm.WithContext(ctx), m.ID)
	if err != nil {
		return nil, err
	}
	if row != nil && row.ConfirmedAt != nil {
		return nil, errMFAAlreadyOn
	}
	if row == nil {
		return nil, FieldErrors{"code": "Start the setup first: no secret is waiting for a code."}.Err()
	}
	code = normalizeCode(code)
	if code == "" {
		return nil, FieldErrors{"code": "Enter the 6-digit code your app shows."}.Err()
	}
	secret, err := db.openSecret(row)
	if err != nil {
		return nil, err
	}
	step, res := matchTOTP(secret, code, db.now(), row.LastStep)
	if res != codeOK {
		return nil, FieldErrors{"code": "That code does not match. Check that your phone's clock is right and enter the code shown now."}.Err()
	}
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
	}
	now := db.now()
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		// The secret checked must still be the one waiting: a setup
		// restarted meanwhile (another tab) wins.
		r := tx.Model(&MemberMFA{}).Where("member_id = ? AND confirmed_at IS NULL AND secret_cipher = ?", m.ID, row.SecretCipher).
			Updates(map[string]any{"confirmed_at": now, "last_step": step, "updated_at": now})
		if r.Error != nil {
			return Change{}, fmt.Errorf("confirm mfa: %w", r.Error)
		}
		if r.RowsAffected != 1 {
			return Change{}, &Error{Kind: KindConflict, Message: "The setup changed in another window. Start again."}
		}
		if err := replaceRecoveryCodes(tx, m.ID, codes, now); err != nil {
			return Change{}, err
		}
		enrol := Change{Action: "auth.mfa_enrol", Target: m.AuditTarget(),
			Before: map[string]any{"mfa": "off"}, After: map[string]any{"mfa": "on", "recovery_codes": RecoveryCodeCount}}
		if promotion == nil {
			return enrol, nil
		}
		if err := promote(tx, m.ID, AwaitingEnrolment, promotion); err != nil {
			return Change{}, err
		}
		// Two events, one transaction: the enrolment, then the sign-in
		// it completed.
		if _, err := appendAudit(tx, o, enrol); err != nil {
			return Change{}, err
		}
		return Change{Action: "auth.login", Target: m.AuditTarget(), After: map[string]any{"factor": "totp"}}, nil
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

func replaceRecoveryCodes(tx *gorm.DB, memberID string, codes []string, now time.Time) error {
	if err := tx.Where("member_id = ?", memberID).Delete(&RecoveryCode{}).Error; err != nil {
		return fmt.Errorf("drop recovery codes: %w", err)
	}
	rows := make([]RecoveryCode, len(codes))
	for i, c := range codes {
		rows[i] = RecoveryCode{MemberID: memberID, CodeHash: recoveryCodeHash(memberID, normalizeCode(c)), CreatedAt: now}
	}
	if err := tx.Create(&rows).Error; err != nil {
		return fmt.Errorf("store recovery codes: %w", err)
	}
	return nil
}

// RegenerateRecoveryCodes replaces the member's recovery codes after a
// current code (from the app, or a recovery code) proves they hold the
// second factor; audited as auth.recovery_codes_regenerate.
func (db *DB) RegenerateRecoveryCodes(ctx context.Context, o Origin, m *TeamMember, code string) ([]string, error) {
	use, err := db.checkSecondFactor(ctx, o, m, code, "recovery_codes")
	if err != nil {
		return nil, err
	}
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
	}
	err = db.applyWithFactor(ctx, o, m, use, func(tx *gorm.DB) (Change, error) {
		if err := replaceRecoveryCodes(tx, m.ID, codes, db.now()); err != nil {
			return Change{}, err
		}
		return Change{Action: "auth.recovery_codes_regenerate", Target: m.AuditTarget(),
			After: map[string]any{"recovery_codes": RecoveryCodeCount, "factor": use.factor}}, nil
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// ErrMFARequired refuses to turn off two-step sign-in for an admin while
// the portal requires it of admins.
var ErrMFARequired = &Error{Kind: KindInvalid, Message: "Admins must use two-step sign-in on this portal.",
	Fields: FieldErrors{"code": "Admins must use two-step sign-in on this portal, so it cannot be turned off."}}

// DisableMFA turns two-step sign-in off, audited as auth.mfa_disable. It
// takes a current code, not the password: the password is what a
// phished or reused credential gives away, and the second factor is
// there for exactly that case, so only the factor itself may remove it.
// A member who lost their phone uses a recovery code.
func (db *DB) DisableMFA(ctx context.Context, o Origin, m *TeamMember, code string) error {
	if m.Role == RoleAdmin {
		s, err := db.Settings(ctx)
		if err != nil {
			return err
		}
		// A passkey left keeps the admin's second factor.
		if s.MFARequiredForAdmins {
			keys, err := db.HasPasskeys(ctx, m.ID)
			if err != nil {
				return err
			}
			if !keys {
				return ErrMFARequired
			}
		}
	}
	use, err := db.checkSecondFactor(ctx, o, m, code, "disable")
	if err != nil {
		return err
	}
	return db.applyWithFactor(ctx, o, m, use, func(tx *gorm.DB) (Change, error) {
		if err := tx.Where("member_id = ?", m.ID).Delete(&RecoveryCode{}).Error; err != nil {
			return Change{}, fmt.Errorf("drop recovery codes: %w", err)
		}
		if err := tx.Where("member_id = ?", m.ID).Delete(&MemberMFA{}).Error; err != nil {
			return Change{}, fmt.Errorf("drop mfa: %w", err)
		}
		return Change{Action: "auth.mfa_disable", Target: m.AuditTarget(),
			Before: map[string]any{"mfa": "on"}, After: map[string]any{"mfa": "off", "factor": use.factor}}, nil
	})
}
