package models

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"gorm.io/gorm"
)

// BeginPasskeySecondFactor starts the second step of a sign-in waiting
// for it, with one of the member's passkeys instead of a code. It returns
// the options for navigator.credentials.get, limited to the member's
// passkeys for rp; the ceremony is bound to binding (the waiting session).
// The password was the first factor, so the passkey's presence suffices;
// a verified user is asked for where the authenticator can.
func (db *DB) BeginPasskeySecondFactor(ctx context.Context, rp *RelyingParty, m *TeamMember, binding string) ([]byte, error) {
	u, err := db.loadPasskeyUser(ctx, rp, m, false)
	if err != nil {
		return nil, err
	}
	if len(u.creds) == 0 {
		return nil, errNoPasskeys
	}
	options, session, err := rp.wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	return db.storeAssertion(ctx, binding, ceremonySecondFactor, &m.ID, options, session)
}

// BeginPasskeySignIn starts a password-less sign-in for a browser not
// signed in (binding: its pre-sign-in visitor value). The options name no
// passkey: the browser offers the ones it holds for this portal, and the
// one chosen says whose it is. The authenticator must verify its user
// (a PIN, a fingerprint), which makes the passkey two factors in one.
func (db *DB) BeginPasskeySignIn(ctx context.Context, rp *RelyingParty, binding string) ([]byte, error) {
	options, session, err := rp.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	return db.storeAssertion(ctx, binding, ceremonySignIn, nil, options, session)
}

func (db *DB) storeAssertion(ctx context.Context, binding, purpose string, memberID *string, options *protocol.CredentialAssertion, session *webauthn.SessionData) ([]byte, error) {
	out, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("encode passkey options: %w", err)
	}
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return db.beginCeremony(tx, binding, purpose, memberID, "", session)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CompletePasskeySecondFactor checks the browser's answer (the JSON of the
// PublicKeyCredential navigator.credentials.get gave) and, when one of the
// member's passkeys signed the challenge, replaces the waiting session
// with a completed one (a new id), audited as auth.login with the factor
// passkey. A refused answer is audited as auth.mfa_failed.
func (db *DB) CompletePasskeySecondFactor(ctx context.Context, rp *RelyingParty, o Origin, m *TeamMember, binding string, answer []byte, p Promotion) error {
	err := db.completePasskeySecondFactor(ctx, rp, o, m, binding, answer, p)
	db.observe().SignIn(SignInCode, codeOutcome(err))
	return err
}

func (db *DB) completePasskeySecondFactor(ctx context.Context, rp *RelyingParty, o Origin, m *TeamMember, binding string, answer []byte, p Promotion) error {
	cer, session, err := db.takeCeremony(ctx, binding, ceremonySecondFactor)
	if err != nil {
		return err
	}
	if cer.MemberID == nil || *cer.MemberID != m.ID {
		return errNoCeremony
	}
	u, err := db.loadPasskeyUser(ctx, rp, m, false)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	var cred *webauthn.Credential
	if err == nil {
		cred, err = rp.wa.ValidateLogin(u, *session, parsed)
	}
	if err != nil {
		return db.refuseCode(ctx, o, m, "passkey_"+passkeyFailureReason(err), "sign_in", errPasskeyRefused)
	}
	row := u.row(cred.ID)
	if err := db.checkClone(ctx, o, m, row, cred); err != nil {
		return err
	}
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		if err := db.passkeyUsed(tx, row, cred); err != nil {
			return Change{}, err
		}
		if err := tx.Where("account_key = ?", mfaThrottleKey(m.ID)).Delete(&LoginFailure{}).Error; err != nil {
			return Change{}, err
		}
		if err := promote(tx, m.ID, AwaitingSecondFactor, &p); err != nil {
			return Change{}, err
		}
		return Change{Action: "auth.login", Target: m.AuditTarget(),
			After: map[string]any{"factor": "passkey", "passkey": row.ID}}, nil
	})
}

// PasskeySignIn checks the answer to a password-less sign-in begun for
// binding and, when it is a passkey of an active member, verified by its
// authenticator, creates the completed session newSession, audited as
// auth.login with the factor passkey. Refusals are audited as
// auth.login_failed; the answer to all of them is the same.
func (db *DB) PasskeySignIn(ctx context.Context, rp *RelyingParty, o Origin, binding string, answer []byte, newSession Session) (*TeamMember, error) {
	_, session, err := db.takeCeremony(ctx, binding, ceremonySignIn)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		return nil, db.refusePasskeySignIn(ctx, o, nil, passkeyFailureReason(err))
	}
	var owner *passkeyUser
	lookupErr := error(nil)
	find := func(rawID, userHandle []byte) (webauthn.User, error) {
		owner, lookupErr = db.passkeyOwner(ctx, rp, userHandle)
		if lookupErr != nil {
			return nil, lookupErr
		}
		return owner, nil
	}
	_, cred, err := rp.wa.ValidatePasskeyLogin(find, *session, parsed)
	if lookupErr != nil && !errors.Is(lookupErr, errPasskeyRefused) {
		return nil, lookupErr
	}
	if err != nil {
		var m *TeamMember
		if owner != nil {
			m = owner.m
		}
		return nil, db.refusePasskeySignIn(ctx, o, m, passkeyFailureReason(err))
	}
	m := owner.m
	if m.Status != MemberActive {
		return nil, db.refusePasskeySignIn(ctx, o, m, "member_"+string(m.Status))
	}
	row := owner.row(cred.ID)
	if err := db.checkClone(ctx, o, m, row, cred); err != nil {
		return nil, err
	}
	o.Actor = m.AsActor()
	newSession.MemberID = m.ID
	newSession.MFAStage = SignedIn
	newSession.CreatedAt = newSession.CreatedAt.UTC()
	newSession.LastSeenAt = newSession.LastSeenAt.UTC()
	newSession.ExpiresAt = newSession.ExpiresAt.UTC()
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		// Read again under the transaction: a deactivation that committed
		// since ends this sign-in too.
		var status MemberStatus
		if err := tx.Model(&TeamMember{}).Where("id = ?", m.ID).Select("status").Scan(&status).Error; err != nil {
			return Change{}, fmt.Errorf("read member: %w", err)
		}
		if status != MemberActive {
			return Change{}, errPasskeyRefused
		}
		if err := db.passkeyUsed(tx, row, cred); err != nil {
			return Change{}, err
		}
		if err := tx.Create(&newSession).Error; err != nil {
			return Change{}, fmt.Errorf("create session: %w", err)
		}
		return Change{Action: "auth.login", Target: m.AuditTarget(),
			After: map[string]any{"factor": "passkey", "passkey": row.ID}}, nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// passkeyOwner finds the member whose handle an authenticator gave back,
// with their passkeys for rp. An unknown handle is refused like a wrong
// signature.
func (db *DB) passkeyOwner(ctx context.Context, rp *RelyingParty, userHandle []byte) (*passkeyUser, error) {
	var h passkeyHandle
	err := db.gorm.WithContext(ctx).Where("handle = ?", base64.RawURLEncoding.EncodeToString(userHandle)).Take(&h).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errPasskeyRefused
	}
	if err != nil {
		return nil, fmt.Errorf("find passkey owner: %w", err)
	}
	var m TeamMember
	if err := db.gorm.WithContext(ctx).Where("id = ?", h.MemberID).Take(&m).Error; err != nil {
		return nil, fmt.Errorf("find passkey owner: %w", err)
	}
	return db.loadPasskeyUser(ctx, rp, &m, false)
}

func (db *DB) refusePasskeySignIn(ctx context.Context, o Origin, m *TeamMember, reason string) error {
	if err := db.recordFailedLogin(ctx, o, m, "passkey_"+reason); err != nil {
		return err
	}
	return errPasskeyRefused
}

// checkClone refuses a passkey whose authenticator's counter did not move
// forward (the library's clone warning, here or at an earlier sign-in):
// two copies of its key may exist. The warning is kept on the passkey and
// audited as auth.passkey_clone_warning, so its member sees it and
// removes it.
func (db *DB) checkClone(ctx context.Context, o Origin, m *TeamMember, row *Passkey, cred *webauthn.Credential) error {
	if row == nil {
		return errPasskeyRefused
	}
	if !cred.Authenticator.CloneWarning {
		return nil
	}
	if !row.CloneWarning {
		err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
			if err := tx.Model(&Passkey{}).Where("id = ?", row.ID).Update("clone_warning", true).Error; err != nil {
				return Change{}, fmt.Errorf("mark passkey: %w", err)
			}
			return Change{Action: "auth.passkey_clone_warning", Target: m.AuditTarget(),
				After: map[string]any{"passkey": row.ID, "name": row.Name, "sign_count": cred.Authenticator.SignCount}}, nil
		})
		if err != nil {
			return err
		}
	}
	return &Error{Kind: KindUnauthorized, Message: "That passkey may have been copied, so it no longer signs in: use another way, " +
		"and remove it from your account page."}
}

// passkeyUsed writes back what a sign-in changed: the counter, the flags
// (backup state) and the time of use. The counter only moves forward, so
// of two sign-ins racing with one counter value, one fails.
func (db *DB) passkeyUsed(tx *gorm.DB, row *Passkey, cred *webauthn.Credential) error {
	count := int64(cred.Authenticator.SignCount)
	q := tx.Model(&Passkey{}).Where("id = ? AND clone_warning = ?", row.ID, false)
	if count != 0 {
		q = q.Where("sign_count < ?", count)
	}
	r := q.Updates(map[string]any{"sign_count": count, "flags": int64(cred.Flags.ProtocolValue()), "last_used_at": db.now()})
	if r.Error != nil {
		return fmt.Errorf("record passkey use: %w", r.Error)
	}
	if r.RowsAffected != 1 {
		return errPasskeyRefused
	}
	return nil
}
