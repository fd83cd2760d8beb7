package models

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"ledgerdesk/models/text"
)

// Passkeys: WebAuthn credentials a member signs in with, as the second
// step after their password or alone (a discoverable credential that
// verified its user: something they have and something they are or
// know). Registering and removing one is audited and asks for the
// password, as binding an authenticator app does (mfa_reauth.go).

const (
	// MaxPasskeyName is the longest name a member gives a passkey.
	MaxPasskeyName = 64
	// MaxPasskeysPerMember bounds the passkeys one member keeps.
	MaxPasskeysPerMember = 10
)

// Passkey is one registered credential. CredentialID and PublicKey are
// base64url; the public key is not a secret, it only checks signatures.
type Passkey struct {
	ID                int64 `gorm:"primaryKey"`
	MemberID          string
	RPID              string `gorm:"column:rp_id"`
	CredentialID      string
	PublicKey         string
	Name              string
	AttestationType   string
	AttestationFormat string
	AAGUID            string `gorm:"column:aaguid"`
	Transports        string
	Flags             int64
	SignCount         int64
	// CloneWarning: a sign-in showed a counter that did not move forward,
	// so a copy of the key may exist. Such a passkey is refused from then
	// on, until its member removes it.
	CloneWarning bool
	CreatedAt    time.Time
	LastUsedAt   *time.Time
}

func (Passkey) TableName() string { return "member_passkeys" }

// passkeyHandle is the user handle authenticators keep for a member.
type passkeyHandle struct {
	MemberID  string `gorm:"primaryKey"`
	Handle    string
	CreatedAt time.Time
}

func (passkeyHandle) TableName() string { return "passkey_handles" }

// passkeyCeremony is a registration or sign-in begun and not yet answered.
type passkeyCeremony struct {
	Binding     string `gorm:"primaryKey"`
	Purpose     string `gorm:"primaryKey"`
	MemberID    *string
	Name        string
	SessionData string
	ExpiresAt   time.Time
}

func (passkeyCeremony) TableName() string { return "passkey_ceremonies" }

// The purposes of a ceremony.
const (
	ceremonyRegister     = "register"
	ceremonySecondFactor = "second_factor"
	ceremonySignIn       = "sign_in"
)

// PasskeyBindingOfSession is what binds a ceremony to the session (by
// its id hash) that began it.
func PasskeyBindingOfSession(idHash string) string { return HashToken("passkey:session:" + idHash) }

// PasskeyBindingOfVisitor binds a ceremony to a browser not signed in
// yet, by the random value its pre-sign-in cookie holds.
func PasskeyBindingOfVisitor(visitor string) string { return HashToken("passkey:visitor:" + visitor) }

// The answers to a passkey step that cannot go on. None says more than
// the member needs: which check of the signature failed is for the log
// of the audit entry, not the page.
var (
	errNoCeremony = &Error{Kind: KindInvalid,
		Message: "That passkey request is no longer waiting (it was answered already, or took too long). Try again."}
	errPasskeyRefused = &Error{Kind: KindUnauthorized,
		Message: "That passkey was not accepted. Try again, or use another way to sign in."}
	errPasskeyNotRegistered = &Error{Kind: KindInvalid,
		Message: "Your browser's answer could not be used to register a passkey. Try again."}
	errNoPasskeys = &Error{Kind: KindInvalid,
		Message: "You have no passkey for this portal's address."}
)

// passkeyUser is a member as the WebAuthn library sees them.
type passkeyUser struct {
	m      *TeamMember
	handle []byte
	creds  []webauthn.Credential
	rows   []Passkey
}

func (u *passkeyUser) WebAuthnID() []byte                         { return u.handle }
func (u *passkeyUser) WebAuthnName() string                       { return u.m.EmailAddress }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.m.EmailAddress }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// row is the stored passkey the library's credential came from.
func (u *passkeyUser) row(id []byte) *Passkey {
	enc := base64.RawURLEncoding.EncodeToString(id)
	for i := range u.rows {
		if u.rows[i].CredentialID == enc {
			return &u.rows[i]
		}
	}
	return nil
}

// PasskeysOf lists a member's passkeys, oldest first.
func (db *DB) PasskeysOf(ctx context.Context, memberID string) ([]Passkey, error) {
	var out []Passkey
	err := db.gorm.WithContext(ctx).Where("member_id = ?", memberID).Order("created_at, id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	return out, nil
}

// HasPasskeys reports whether the member has any passkey.
func (db *DB) HasPasskeys(ctx context.Context, memberID string) (bool, error) {
	return hasPasskeys(db.gorm.WithContext(ctx), memberID)
}

func hasPasskeys(q *gorm.DB, memberID string) (bool, error) {
	var n int64
	if err := q.Model(&Passkey{}).Where("member_id = ?", memberID).Count(&n).Error; err != nil {
		return false, fmt.Errorf("count passkeys: %w", err)
	}
	return n > 0, nil
}

// loadPasskeyUser reads a member's handle and the passkeys made for rp.
// create makes the handle when the member has none yet.
func (db *DB) loadPasskeyUser(ctx context.Context, rp *RelyingParty, m *TeamMember, create bool) (*passkeyUser, error) {
	q := db.gorm.WithContext(ctx)
	if create {
		h := passkeyHandle{MemberID: m.ID, Handle: RandomToken(32), CreatedAt: db.now()}
		if err := q.Clauses(clause.OnConflict{DoNothing: true}).Create(&h).Error; err != nil {
			return nil, fmt.Errorf("store passkey handle: %w", err)
		}
	}
	var h passkeyHandle
	err := q.Where("member_id = ?", m.ID).Take(&h).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return &passkeyUser{m: m}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read passkey handle: %w", err)
	}
	handle, err := base64.RawURLEncoding.DecodeString(h.Handle)
	if err != nil {
		return nil, fmt.Errorf("passkey handle of %s: %w", m.ID, err)
	}
	u := &passkeyUser{m: m, handle: handle}
	if err := q.Where("member_id = ? AND rp_id = ?", m.ID, rp.ID).Order("created_at, id").Find(&u.rows).Error; err != nil {
		return nil, fmt.Errorf("read passkeys: %w", err)
	}
	for _, r := range u.rows {
		c, err := r.credential()
		if err != nil {
			return nil, err
		}
		u.creds = append(u.creds, c)
	}
	return u, nil
}

// credential is the stored passkey as the library's credential.
func (p *Passkey) credential() (webauthn.Credential, error) {
	id, err := base64.RawURLEncoding.DecodeString(p.CredentialID)
	if err != nil {
		return webauthn.Credential{}, fmt.Errorf("passkey %d: credential id: %w", p.ID, err)
	}
	key, err := base64.RawURLEncoding.DecodeString(p.PublicKey)
	if err != nil {
		return webauthn.Credential{}, fmt.Errorf("passkey %d: public key: %w", p.ID, err)
	}
	aaguid, err := base64.RawURLEncoding.DecodeString(p.AAGUID)
	if err != nil {
		return webauthn.Credential{}, fmt.Errorf("passkey %d: aaguid: %w", p.ID, err)
	}
	var transports []protocol.AuthenticatorTransport
	for _, t := range strings.Split(p.Transports, ",") {
		if t != "" {
			transports = append(transports, protocol.AuthenticatorTransport(t))
		}
	}
	return webauthn.Credential{
		ID: id, PublicKey: key, AttestationType: p.AttestationType, AttestationFormat: p.AttestationFormat,
		Transport: transports, Flags: webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(p.Flags)),
		Authenticator: webauthn.Authenticator{AAGUID: aaguid, SignCount: uint32(p.SignCount), CloneWarning: p.CloneWarning},
	}, nil
}

// beginCeremony stores the library's session data for binding and
// purpose, replacing any ceremony the same browser began before (its
// challenge is then refused).
func (db *DB) beginCeremony(tx *gorm.DB, binding, purpose string, memberID *string, name string, s *webauthn.SessionData) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode passkey ceremony: %w", err)
	}
	if err := tx.Where("binding = ? AND purpose = ?", binding, purpose).Delete(&passkeyCeremony{}).Error; err != nil {
		return fmt.Errorf("replace passkey ceremony: %w", err)
	}
	row := passkeyCeremony{Binding: binding, Purpose: purpose, MemberID: memberID, Name: name,
		SessionData: string(data), ExpiresAt: db.now().Add(PasskeyCeremonyLifetime).UTC()}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("store passkey ceremony: %w", err)
	}
	return nil
}

// takeCeremony removes and returns the ceremony waiting for binding and
// purpose: whatever the answer turns out to be, its challenge is spent.
// Of two requests racing with one answer, one gets it.
func (db *DB) takeCeremony(ctx context.Context, binding, purpose string) (*passkeyCeremony, *webauthn.SessionData, error) {
	q := db.gorm.WithContext(ctx)
	var row passkeyCeremony
	err := q.Where("binding = ? AND purpose = ?", binding, purpose).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, errNoCeremony
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read passkey ceremony: %w", err)
	}
	r := q.Where("binding = ? AND purpose = ? AND session_data = ?", binding, purpose, row.SessionData).Delete(&passkeyCeremony{})
	if r.Error != nil {
		return nil, nil, fmt.Errorf("spend passkey ceremony: %w", r.Error)
	}
	if r.RowsAffected != 1 || !row.ExpiresAt.After(db.now()) {
		return nil, nil, errNoCeremony
	}
	var s webauthn.SessionData
	if err := json.Unmarshal([]byte(row.SessionData), &s); err != nil {
		return nil, nil, fmt.Errorf("decode passkey ceremony: %w", err)
	}
	return &row, &s, nil
}

// PurgePasskeyCeremonies removes ceremonies nobody answered in time.
func (db *DB) PurgePasskeyCeremonies(ctx context.Context) error {
	if err := db.gorm.WithContext(ctx).Where("expires_at < ?", db.now()).Delete(&passkeyCeremony{}).Error; err != nil {
		return fmt.Errorf("purge passkey ceremonies: %w", err)
	}
	return nil
}

// CheckPasskeyName says what is wrong with a passkey's name, beside the
// field, or "" when it will do.
func CheckPasskeyName(name string) string {
	if strings.TrimSpace(name) == "" {
		return "Name the passkey, e.g. the device or security key it is on."
	}
	return text.Line(MaxPasskeyName).Problem(name)
}

// BeginPasskeyRegistration starts adding a passkey named name to the
// member's account: it checks the password (proof), then returns the
// options for the browser's navigator.credentials.create, as the JSON
// the library writes. The ceremony is bound to binding (the member's
// session) and must be answered within PasskeyCeremonyLifetime.
func (db *DB) BeginPasskeyRegistration(ctx context.Context, rp *RelyingParty, o Origin, m *TeamMember, name string, proof MFASetupProof, binding string) ([]byte, error) {
	name = strings.TrimSpace(name)
	fields := FieldErrors{}
	if msg := CheckPasskeyName(name); msg != "" {
		fields["name"] = msg
	}
	if proof.PendingSignIn == "" && proof.Password == "" {
		fields["password"] = "Enter your password to confirm it is you."
	}
	if len(fields) > 0 {
		return nil, fields.Err()
	}
	var n int64
	if err := db.gorm.WithContext(ctx).Model(&Passkey{}).Where("member_id = ?", m.ID).Count(&n).Error; err != nil {
		return nil, fmt.Errorf("count passkeys: %w", err)
	}
	if n >= MaxPasskeysPerMember {
		return nil, FieldErrors{"name": fmt.Sprintf("You have %d passkeys, the most an account keeps. Remove one first.", n)}.Err()
	}
	failuresKey, err := db.checkSetupProof(ctx, o, m, proof, "passkey_register")
	if err != nil {
		return nil, err
	}
	u, err := db.loadPasskeyUser(ctx, rp, m, true)
	if err != nil {
		return nil, err
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range u.creds {
		exclude = append(exclude, c.Descriptor())
	}
	options, session, err := rp.wa.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		}),
		webauthn.WithExclusions(exclude),
	)
	if err != nil {
		return nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	out, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("encode passkey options: %w", err)
	}
	memberID := m.ID
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := db.beginCeremony(tx, binding, ceremonyRegister, &memberID, name, session); err != nil {
			return err
		}
		if failuresKey != "" {
			// As a sign-in does: the right password forgets the wrong ones.
			return tx.Where("account_key = ?", failuresKey).Delete(&LoginFailure{}).Error
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FinishPasskeyRegistration checks the browser's answer (the JSON of the
// PublicKeyCredential navigator.credentials.create gave) against the
// ceremony bound to binding, and stores the passkey, audited as
// auth.passkey_register. A refused answer is audited as
// auth.passkey_failed; either way the challenge is spent.
func (db *DB) FinishPasskeyRegistration(ctx context.Context, rp *RelyingParty, o Origin, m *TeamMember, binding string, answer []byte) (*Passkey, error) {
	cer, session, err := db.takeCeremony(ctx, binding, ceremonyRegister)
	if err != nil {
		return nil, err
	}
	if cer.MemberID == nil || *cer.MemberID != m.ID {
		return nil, errNoCeremony
	}
	u, err := db.loadPasskeyUser(ctx, rp, m, false)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	var cred *webauthn.Credential
	if err == nil {
		cred, err = rp.wa.CreateCredential(u, *session, parsed)
	}
	if err != nil {
		if aerr := db.recordPasskeyFailure(ctx, o, m, passkeyFailureReason(err), "register"); aerr != nil {
			return nil, aerr
		}
		return nil, errPasskeyNotRegistered
	}
	var transports []string
	for _, t := range cred.Transport {
		transports = append(transports, string(t))
	}
	row := Passkey{
		MemberID: m.ID, RPID: rp.ID, Name: cer.Name,
		CredentialID:    base64.RawURLEncoding.EncodeToString(cred.ID),
		PublicKey:       base64.RawURLEncoding.EncodeToString(cred.PublicKey),
		AttestationType: cred.AttestationType, AttestationFormat: cred.AttestationFormat,
		AAGUID:     base64.RawURLEncoding.EncodeToString(cred.Authenticator.AAGUID),
		Transports: strings.Join(transports, ","), Flags: int64(cred.Flags.ProtocolValue()),
		SignCount: int64(cred.Authenticator.SignCount), CreatedAt: db.now(),
	}
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		if err := tx.Create(&row).Error; err != nil {
			if isUniqueViolation(err) {
				return Change{}, &Error{Kind: KindConflict, Message: "That passkey is registered already."}
			}
			return Change{}, fmt.Errorf("store passkey: %w", err)
		}
		var n int64
		if err := tx.Model(&Passkey{}).Where("member_id = ?", m.ID).Count(&n).Error; err != nil {
			return Change{}, fmt.Errorf("count passkeys: %w", err)
		}
		return Change{Action: "auth.passkey_register", Target: m.AuditTarget(),
			After: map[string]any{"passkey": row.ID, "name": row.Name, "passkeys": n}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &row, nil
}

// ErrPasskeyGone answers the removal of a passkey the member does not
// have (removed already, in another tab): there is nothing left to do.
var ErrPasskeyGone = notFound("That passkey was removed already.")

// RemovePasskey removes one of the member's passkeys after their password
// proves it is them, audited as auth.passkey_remove. An admin's last
// second factor stays while the portal requires one of admins.
func (db *DB) RemovePasskey(ctx context.Context, o Origin, m *TeamMember, id int64, password string) error {
	var row Passkey
	err := db.gorm.WithContext(ctx).Where("id = ? AND member_id = ?", id, m.ID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrPasskeyGone
	}
	if err != nil {
		return fmt.Errorf("read passkey: %w", err)
	}
	if password == "" {
		return FieldErrors{"password": "Enter your password to confirm it is you."}.Err()
	}
	if m.Role == RoleAdmin {
		if err := db.keepsAdminFactor(ctx, m.ID, id); err != nil {
			return err
		}
	}
	failuresKey, err := db.checkSetupProof(ctx, o, m, MFASetupProof{Password: password}, "passkey_remove")
	if err != nil {
		return err
	}
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		r := tx.Where("id = ? AND member_id = ?", id, m.ID).Delete(&Passkey{})
		if r.Error != nil {
			return Change{}, fmt.Errorf("remove passkey: %w", r.Error)
		}
		if r.RowsAffected != 1 {
			return Change{}, ErrPasskeyGone
		}
		if err := tx.Where("account_key = ?", failuresKey).Delete(&LoginFailure{}).Error; err != nil {
			return Change{}, fmt.Errorf("forget wrong passwords: %w", err)
		}
		var left int64
		if err := tx.Model(&Passkey{}).Where("member_id = ?", m.ID).Count(&left).Error; err != nil {
			return Change{}, fmt.Errorf("count passkeys: %w", err)
		}
		return Change{Action: "auth.passkey_remove", Target: m.AuditTarget(),
			Before: map[string]any{"passkey": row.ID, "name": row.Name},
			After:  map[string]any{"passkeys": left}}, nil
	})
}

// keepsAdminFactor refuses to remove the passkey removing from an admin
// when it is their last second factor and the portal requires one.
func (db *DB) keepsAdminFactor(ctx context.Context, memberID string, removing int64) error {
	s, err := db.Settings(ctx)
	if err != nil || !s.MFARequiredForAdmins {
		return err
	}
	totp, err := db.MFAEnabled(ctx, memberID)
	if err != nil || totp {
		return err
	}
	var others int64
	if err := db.gorm.WithContext(ctx).Model(&Passkey{}).Where("member_id = ? AND id <> ?", memberID, removing).Count(&others).Error; err != nil {
		return fmt.Errorf("count passkeys: %w", err)
	}
	if others == 0 {
		return &Error{Kind: KindInvalid, Message: "Admins must use two-step sign-in on this portal.",
			Fields: FieldErrors{"password": "This is your last second factor, and admins must keep one on this portal: add another passkey or an authenticator app first. Nothing was changed."}}
	}
	return nil
}

func (db *DB) recordPasskeyFailure(ctx context.Context, o Origin, m *TeamMember, reason, during string) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		c := Change{Action: "auth.passkey_failed", After: map[string]any{"reason": reason, "during": during}}
		if m != nil {
			c.Target = m.AuditTarget()
		}
		return c, nil
	})
}

// passkeyFailureReason sorts a refused answer for the audit log.
func passkeyFailureReason(err error) string {
	var perr *protocol.Error
	if !errors.As(err, &perr) {
		return "invalid"
	}
	switch details := strings.ToLower(perr.Details); {
	case perr.Type == protocol.ErrChallengeMismatch.Type, strings.Contains(details, "challenge"):
		return "wrong_challenge"
	case strings.Contains(details, "origin"):
		return "wrong_origin"
	case strings.Contains(details, "expired"):
		return "expired"
	case strings.Contains(details, "user verif"):
		return "user_not_verified"
	case strings.Contains(details, "signature"):
		return "bad_signature"
	case strings.Contains(details, "credential"):
		return "unknown_passkey"
	}
	return "invalid"
}
