package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

// OIDCIdentity is what the provider's ID token, its signature, issuer,
// audience, expiry and nonce checked, says of the person signing in.
type OIDCIdentity struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Groups        []string
}

// oidcIdentity links a member to their account at a provider.
type oidcIdentity struct {
	Issuer    string `gorm:"primaryKey"`
	Subject   string `gorm:"primaryKey"`
	MemberID  string
	CreatedAt time.Time
}

func (oidcIdentity) TableName() string { return "oidc_identities" }

// SSORefused is a sign-in through the provider that Ledgerdesk turns
// down: the provider vouched for the person, but they may not come in.
// Reason goes to the audit entry; Message is for the person.
type SSORefused struct {
	Reason  string
	Message string
}

func (e *SSORefused) Error() string { return "sign-in refused: " + e.Reason }

// The refusals of SignInWithOIDC.
var (
	errSSOEmailUnverified = &SSORefused{"email_unverified",
		"Your identity provider has not verified your email address, so it cannot be matched to a Ledgerdesk account. Ask your IT team to verify it."}
	errSSONotInvited = &SSORefused{"not_invited",
		"Your account has no access to Ledgerdesk. Ask a Ledgerdesk admin to invite you."}
	errSSONoRole = &SSORefused{"no_role",
		"None of your groups at the identity provider gives a role in Ledgerdesk. Ask a Ledgerdesk admin to map one of your groups to a role."}
	errSSODeactivated = &SSORefused{"member_deactivated",
		"Your Ledgerdesk account is deactivated. Ask a Ledgerdesk admin if you need access again."}
	errSSOOtherAccount = &SSORefused{"subject_mismatch",
		"Your email address belongs to a Ledgerdesk account linked to another account at the identity provider. Ask a Ledgerdesk admin."}
	errSSOBadIdentity = &SSORefused{"identity_invalid",
		"The identity provider's answer names no usable account. Ask your IT team."}
)

// MaxOIDCSubject is the longest subject a provider may send (OpenID
// Connect caps it at 255 ASCII characters).
const MaxOIDCSubject = 255

// SignInWithOIDC signs in the person the provider vouched for and creates
// newSession for them, as SignIn does for a right password, audited as
// auth.login with method oidc. The member is found by the provider's
// subject once linked, else by a verified email, which links them; a
// person with no account gets one if they hold an open invitation or
// their email's domain is allowed. The role follows the provider's groups
// through the settings' mapping at every sign-in (the last active admin is
// never demoted); no mapped group is a refusal. Deactivated members stay
// out. The provider's own second factor counts: no code is asked here.
// A refusal is an *SSORefused, audited as auth.login_failed.
func (db *DB) SignInWithOIDC(ctx context.Context, o Origin, id OIDCIdentity, newSession Session) (*TeamMember, error) {
	outcome := SignInFailed
	defer func() { db.observe().SignIn(SignInOIDC, outcome) }()
	m, err := db.signInWithOIDC(ctx, o, id, newSession)
	var refused *SSORefused
	switch {
	case err == nil:
		outcome = SignInSucceeded
	case errors.As(err, &refused):
		outcome = SignInRefusedByRules
	}
	return m, err
}

// ssoPlan is what a sign-in through the provider will change.
type ssoPlan struct {
	member  *TeamMember
	create  bool // a new member, from an allowed domain
	accept  bool // an invited member's first sign-in
	link    bool // the provider's account is linked to the member now
	role    Role
	setRole bool
}

func (db *DB) signInWithOIDC(ctx context.Context, o Origin, id OIDCIdentity, newSession Session) (*TeamMember, error) {
	if id.Subject == "" || id.Issuer == "" || !text.Line(MaxOIDCSubject).Valid(id.Subject) || !text.Key.Valid(id.Issuer) {
		return nil, db.refuseSSO(ctx, o, nil, errSSOBadIdentity)
	}
	settings, err := db.Settings(ctx)
	if err != nil {
		return nil, err
	}
	g := db.gorm.WithContext(ctx)
	plan := ssoPlan{}

	var links []oidcIdentity
	if err := g.Where("issuer = ? AND subject = ?", id.Issuer, id.Subject).Limit(1).Find(&links).Error; err != nil {
		return nil, fmt.Errorf("sign in: find linked account: %w", err)
	}
	if len(links) == 1 {
		m, err := db.MemberByID(ctx, links[0].MemberID)
		if err != nil {
			return nil, err
		}
		plan.member = m
	} else {
		if !id.EmailVerified {
			return nil, db.refuseSSO(ctx, o, nil, errSSOEmailUnverified)
		}
		email, err := NormalizeEmail(id.Email)
		if err != nil {
			return nil, db.refuseSSO(ctx, o, nil, errSSOBadIdentity)
		}
		var found []TeamMember
		if err := g.Where("email_address = ?", email).Limit(1).Find(&found).Error; err != nil {
			return nil, fmt.Errorf("sign in: find member: %w", err)
		}
		if len(found) == 1 {
			m := &found[0]
			var other int64
			if err := g.Model(&oidcIdentity{}).Where("member_id = ? AND issuer = ?", m.ID, id.Issuer).Count(&other).Error; err != nil {
				return nil, fmt.Errorf("sign in: find linked account: %w", err)
			}
			if other > 0 {
				return nil, db.refuseSSO(ctx, o, m, errSSOOtherAccount)
			}
			plan.member, plan.link = m, true
		} else {
			if !settings.SSO.AllowsDomain(email) {
				return nil, db.refuseSSO(ctx, o, nil, errSSONotInvited)
			}
			now := Now()
			plan.member = &TeamMember{ID: NewMemberID(), EmailAddress: email, Status: MemberActive, CreatedAt: now, UpdatedAt: now}
			plan.create, plan.link = true, true
		}
	}
	m := plan.member

	switch m.Status {
	case MemberDeactivated:
		return nil, db.refuseSSO(ctx, o, m, errSSODeactivated)
	case MemberInvited:
		open, err := db.hasOpenInvitation(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		if !open && !settings.SSO.AllowsDomain(m.EmailAddress) {
			return nil, db.refuseSSO(ctx, o, m, errSSONotInvited)
		}
		plan.accept = true
	}
	role, ok := settings.SSO.RoleFor(id.Groups)
	if !ok {
		return nil, db.refuseSSO(ctx, o, m, errSSONoRole)
	}
	plan.role, plan.setRole = role, role != m.Role

	o.Actor = m.AsActor()
	newSession.MemberID = m.ID
	newSession.MFAStage = SignedIn
	newSession.CreatedAt = newSession.CreatedAt.UTC()
	newSession.LastSeenAt = newSession.LastSeenAt.UTC()
	newSession.ExpiresAt = newSession.ExpiresAt.UTC()
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		return applySSOPlan(tx, o, id, &plan, &newSession)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// applySSOPlan makes a sign-in's changes inside its transaction and
// describes the auth.login entry; a member created or an invitation
// accepted gets an entry of its own first.
func applySSOPlan(tx *gorm.DB, o Origin, id OIDCIdentity, p *ssoPlan, s *Session) (Change, error) {
	m := p.member
	now := Now()
	login := map[string]any{"method": "oidc", "factor": "oidc", "issuer": id.Issuer}
	switch {
	case p.create:
		m.Role = p.role
		if err := tx.Create(m).Error; err != nil {
			return Change{}, fmt.Errorf("create member: %w", err)
		}
		if _, err := appendAudit(tx, o, Change{Action: "team.create", Target: m.AuditTarget(), After: map[string]any{
			"email_address": m.EmailAddress, "role": m.Role, "status": m.Status, "via": "oidc_allowed_domain",
		}}); err != nil {
			return Change{}, err
		}
		p.setRole = false
	case p.accept:
		if err := tx.Model(&Invitation{}).Where("member_id = ? AND used_at IS NULL AND withdrawn_at IS NULL", m.ID).
			Update("used_at", now).Error; err != nil {
			return Change{}, fmt.Errorf("use invitation: %w", err)
		}
		r := tx.Model(&TeamMember{}).Where("id = ? AND status = ?", m.ID, MemberInvited).
			Updates(map[string]any{"status": MemberActive, "updated_at": now})
		if r.Error != nil {
			return Change{}, fmt.Errorf("activate member: %w", r.Error)
		}
		if r.RowsAffected != 1 {
			return Change{}, &Error{Kind: KindConflict, Message: "Your account changed meanwhile. Sign in again."}
		}
		if _, err := appendAudit(tx, o, Change{Action: "team.invite_accept", Target: m.AuditTarget(),
			Before: map[string]any{"status": MemberInvited}, After: map[string]any{"status": MemberActive, "via": "oidc"}}); err != nil {
			return Change{}, err
		}
		m.Status = MemberActive
	}
	if p.link {
		if err := tx.Create(&oidcIdentity{Issuer: id.Issuer, Subject: id.Subject, MemberID: m.ID, CreatedAt: now}).Error; err != nil {
			return Change{}, fmt.Errorf("link provider account: %w", err)
		}
		login["linked"] = true
	}
	if p.setRole {
		if p.role != RoleAdmin {
			// The provider cannot demote the last active admin: the team
			// would have nobody left to manage it.
			switch err := guardLastAdmin(tx, m, "demoted"); {
			case ErrorKind(err) == KindConflict:
				login["role_kept"] = "last_active_admin"
				p.setRole = false
			case err != nil:
				return Change{}, err
			}
		}
		if p.setRole {
			if err := tx.Model(&TeamMember{}).Where("id = ?", m.ID).
				Updates(map[string]any{"role": p.role, "updated_at": now}).Error; err != nil {
				return Change{}, fmt.Errorf("set role: %w", err)
			}
			login["role_before"] = m.Role
			m.Role = p.role
		}
	}
	login["role"] = m.Role
	if err := tx.Create(s).Error; err != nil {
		return Change{}, fmt.Errorf("create session: %w", err)
	}
	return Change{Action: "auth.login", Target: m.AuditTarget(), After: login}, nil
}

// hasOpenInvitation reports whether an invited member's link still works.
func (db *DB) hasOpenInvitation(ctx context.Context, memberID string) (bool, error) {
	var n int64
	err := db.gorm.WithContext(ctx).Model(&Invitation{}).
		Where("member_id = ? AND used_at IS NULL AND withdrawn_at IS NULL AND expires_at > ?", memberID, Now()).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("find invitation: %w", err)
	}
	return n > 0, nil
}

// refuseSSO audits a refused sign-in through the provider and returns the
// refusal.
func (db *DB) refuseSSO(ctx context.Context, o Origin, m *TeamMember, r *SSORefused) error {
	if err := db.RecordOIDCFailure(ctx, o, m, r.Reason); err != nil {
		return err
	}
	return r
}

// RecordOIDCFailure audits a sign-in through the provider that failed
// (auth.login_failed, method oidc): refused here, or before a person was
// known (a replayed state, a token that did not verify, the provider's
// own refusal).
func (db *DB) RecordOIDCFailure(ctx context.Context, o Origin, m *TeamMember, reason string) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		c := Change{Action: "auth.login_failed", After: map[string]any{"method": "oidc", "reason": reason}}
		if m != nil {
			c.Target = m.AuditTarget()
		}
		return c, nil
	})
}
