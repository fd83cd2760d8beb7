package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// InvitationLifetime is how long an invitation link works.
const InvitationLifetime = 72 * time.Hour

// Invitation is a one-time link for an invited member to set a password.
// The link carries a random token; the row holds only its hash.
type Invitation struct {
	TokenHash   string `gorm:"primaryKey"`
	MemberID    string
	InvitedBy   string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      *time.Time
	WithdrawnAt *time.Time // replaced by a resend, or revoked
}

func (Invitation) TableName() string { return "team_invitations" }

// IssuedInvitation is a new invitation and its token, which exists only
// here: it is shown once to the inviting admin (and mailed), never stored.
type IssuedInvitation struct {
	Member    *TeamMember
	Token     string
	ExpiresAt time.Time
}

// NewInvitee is what inviting a member takes.
type NewInvitee struct {
	Email string
	Role  Role
}

// issueInvitation withdraws the member's open invitations and adds a new
// one, inside the caller's transaction.
func issueInvitation(tx *gorm.DB, o Origin, memberID string) (token string, expires time.Time, err error) {
	now := Now()
	if err := tx.Model(&Invitation{}).Where("member_id = ? AND used_at IS NULL AND withdrawn_at IS NULL", memberID).
		Update("withdrawn_at", now).Error; err != nil {
		return "", time.Time{}, fmt.Errorf("withdraw old invitations: %w", err)
	}
	token = RandomToken(32)
	inv := Invitation{TokenHash: HashToken(token), MemberID: memberID, InvitedBy: o.Actor.ID,
		CreatedAt: now, ExpiresAt: now.Add(InvitationLifetime)}
	if err := tx.Create(&inv).Error; err != nil {
		return "", time.Time{}, fmt.Errorf("insert invitation: %w", err)
	}
	return token, inv.ExpiresAt, nil
}

// InviteMember adds a member with status invited and issues their link,
// audited as team.invite.
func (db *DB) InviteMember(ctx context.Context, o Origin, in NewInvitee) (*IssuedInvitation, error) {
	fields := FieldErrors{}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		fields.Add("email", err.Error())
	}
	if _, err := ParseRole(string(in.Role)); err != nil {
		fields.Add("role", "Choose admin, compliance or auditor.")
	}
	if err := fields.Err(); err != nil {
		return nil, err
	}
	now := Now()
	m := &TeamMember{ID: NewMemberID(), EmailAddress: email, Status: MemberInvited, Role: in.Role, CreatedAt: now, UpdatedAt: now}
	out := &IssuedInvitation{Member: m}
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		var existing []TeamMember
		if err := tx.Select("id", "status").Where("email_address = ?", email).Limit(1).Find(&existing).Error; err != nil {
			return Change{}, err
		}
		if len(existing) > 0 {
			msg := fmt.Sprintf("%s is already on the team (%s). Open their page to resend an invitation or reactivate them.", email, existing[0].Status)
			return Change{}, &Error{Kind: KindConflict, Message: msg, Fields: FieldErrors{"email": msg}}
		}
		if err := tx.Create(m).Error; err != nil {
			return Change{}, fmt.Errorf("insert invited member: %w", err)
		}
		token, expires, err := issueInvitation(tx, o, m.ID)
		if err != nil {
			return Change{}, err
		}
		out.Token, out.ExpiresAt = token, expires
		return Change{Action: "team.invite", Target: m.AuditTarget(), After: map[string]any{
			"email_address": m.EmailAddress, "role": m.Role, "status": m.Status, "invitation_expires_at": expires,
		}}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// lockMember reads a member for a change, locking the row on PostgreSQL.
func lockMember(tx *gorm.DB, id string) (*TeamMember, error) {
	var m TeamMember
	err := lockForUpdate(tx).Where("id = ?", id).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFound("No team member %s.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load team member: %w", err)
	}
	return &m, nil
}

// neverAccepted is a member whose invitation was revoked before they set a
// password: inviting them again is a resend, not a reactivation.
func (m *TeamMember) neverAccepted() bool {
	return m.Status == MemberDeactivated && m.PasswordHash == ""
}

// CanResendInvitation reports whether the member can be sent a new link.
func (m *TeamMember) CanResendInvitation() bool {
	return m.Status == MemberInvited || m.neverAccepted()
}

// CanReactivate reports whether the member can be made active again.
func (m *TeamMember) CanReactivate() bool { return m.Status == MemberDeactivated && !m.neverAccepted() }

// ResendInvitation issues a new link to an invited member (or one whose
// invitation was revoked); every earlier link stops working. Audited as
// team.invite_resend.
func (db *DB) ResendInvitation(ctx context.Context, o Origin, memberID string) (*IssuedInvitation, error) {
	out := &IssuedInvitation{}
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		m, err := lockMember(tx, memberID)
		if err != nil {
			return Change{}, err
		}
		if !m.CanResendInvitation() {
			return Change{}, &Error{Kind: KindConflict, Message: fmt.Sprintf(
				"%s has already accepted their invitation; there is nothing to resend.", m.EmailAddress)}
		}
		before := m.Status
		if m.Status != MemberInvited {
			m.Status, m.UpdatedAt = MemberInvited, Now()
			if err := tx.Model(&TeamMember{}).Where("id = ?", m.ID).
				Updates(map[string]any{"status": m.Status, "updated_at": m.UpdatedAt}).Error; err != nil {
				return Change{}, fmt.Errorf("set member invited: %w", err)
			}
		}
		token, expires, err := issueInvitation(tx, o, m.ID)
		if err != nil {
			return Change{}, err
		}
		out.Member, out.Token, out.ExpiresAt = m, token, expires
		return Change{Action: "team.invite_resend", Target: m.AuditTarget(),
			Before: map[string]any{"status": before}, After: map[string]any{"status": m.Status, "invitation_expires_at": expires}}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeInvitation withdraws an invited member's link and deactivates the
// member, audited as team.invite_revoke. The member and their history stay;
// they can be invited again.
func (db *DB) RevokeInvitation(ctx context.Context, o Origin, memberID string) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		m, err := lockMember(tx, memberID)
		if err != nil {
			return Change{}, err
		}
		if m.Status != MemberInvited {
			return Change{}, &Error{Kind: KindConflict, Message: fmt.Sprintf(
				"%s has no open invitation (status %s).", m.EmailAddress, m.Status)}
		}
		now := Now()
		if err := tx.Model(&Invitation{}).Where("member_id = ? AND used_at IS NULL AND withdrawn_at IS NULL", m.ID).
			Update("withdrawn_at", now).Error; err != nil {
			return Change{}, fmt.Errorf("withdraw invitation: %w", err)
		}
		if err := tx.Model(&TeamMember{}).Where("id = ?", m.ID).
			Updates(map[string]any{"status": MemberDeactivated, "updated_at": now}).Error; err != nil {
			return Change{}, fmt.Errorf("deactivate invited member: %w", err)
		}
		return Change{Action: "team.invite_revoke", Target: m.AuditTarget(),
			Before: map[string]any{"status": m.Status}, After: map[string]any{"status": MemberDeactivated}}, nil
	})
}

// OpenInvitation is an invitation link as its page shows it.
type OpenInvitation struct {
	Member    TeamMember
	ExpiresAt time.Time
}

// InvitationByToken returns the open invitation a link names, or a
// not-found error whose message says why the link does not work.
func (db *DB) InvitationByToken(ctx context.Context, token string) (*OpenInvitation, error) {
	return invitationByToken(db.gorm.WithContext(ctx), token, Now())
}

func invitationByToken(q *gorm.DB, token string, now time.Time) (*OpenInvitation, error) {
	var inv Invitation
	err := q.Where("token_hash = ?", HashToken(token)).Take(&inv).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFound("This invitation link is not valid. Check that it was copied whole, or ask an admin for a new one.")
	}
	if err != nil {
		return nil, fmt.Errorf("load invitation: %w", err)
	}
	var m TeamMember
	if err := q.Where("id = ?", inv.MemberID).Take(&m).Error; err != nil {
		return nil, fmt.Errorf("load invited member: %w", err)
	}
	switch {
	case inv.UsedAt != nil:
		return nil, notFound("This invitation was already used. Sign in with the password you chose.")
	case inv.WithdrawnAt != nil:
		return nil, notFound("This invitation link no longer works: a newer one was sent, or the invitation was withdrawn. Ask an admin if you need a new one.")
	case !now.Before(inv.ExpiresAt):
		return nil, notFound("This invitation expired on %s UTC. Ask an admin to send a new one.", inv.ExpiresAt.UTC().Format("2006-01-02 15:04"))
	case m.Status != MemberInvited:
		return nil, notFound("This invitation no longer works. Ask an admin if you need a new one.")
	}
	return &OpenInvitation{Member: m, ExpiresAt: inv.ExpiresAt}, nil
}

// AcceptInvitation sets the invitee's password and makes them active,
// audited as team.accept with the invitee as the actor. The link works
// once: using it is a conditional update that only one request can win.
func (db *DB) AcceptInvitation(ctx context.Context, o Origin, token, password, confirm string) (*TeamMember, error) {
	inv, err := db.InvitationByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	fields, advice := FieldErrors{}, FieldAdvice{}
	if r := CheckPassword(password, PasswordContext{Email: inv.Member.EmailAddress}); r != nil {
		r.addTo(fields, advice, "password")
	}
	if confirm != password {
		fields.Add("confirm", "The two passwords do not match.")
	}
	if err := invalidWithAdvice(fields, advice); err != nil {
		return nil, err
	}
	hash, err := HashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	m := inv.Member
	o.Actor = m.AsActor()
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		now := Now()
		r := tx.Model(&Invitation{}).
			Where("token_hash = ? AND used_at IS NULL AND withdrawn_at IS NULL AND expires_at > ?", HashToken(token), now).
			Update("used_at", now)
		if r.Error != nil {
			return Change{}, fmt.Errorf("use invitation: %w", r.Error)
		}
		if r.RowsAffected != 1 {
			// Used, withdrawn or expired since the checks above.
			if _, err := invitationByToken(tx, token, now); err != nil {
				return Change{}, err
			}
			return Change{}, notFound("This invitation no longer works.")
		}
		r = tx.Model(&TeamMember{}).Where("id = ? AND status = ?", m.ID, MemberInvited).
			Updates(map[string]any{"password_hash": hash, "status": MemberActive, "updated_at": now})
		if r.Error != nil {
			return Change{}, fmt.Errorf("activate member: %w", r.Error)
		}
		if r.RowsAffected != 1 {
			return Change{}, notFound("This invitation no longer works. Ask an admin if you need a new one.")
		}
		m.Status, m.UpdatedAt = MemberActive, now
		return Change{Action: "team.accept", Target: m.AuditTarget(),
			Before: map[string]any{"status": MemberInvited}, After: map[string]any{"status": MemberActive, "password": "set"}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// PendingInvitation returns the member's newest invitation that was neither
// used nor withdrawn (it may have expired), or nil.
func (db *DB) PendingInvitation(ctx context.Context, memberID string) (*Invitation, error) {
	var out []Invitation
	err := db.gorm.WithContext(ctx).Where("member_id = ? AND used_at IS NULL AND withdrawn_at IS NULL", memberID).
		Order("created_at DESC").Limit(1).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("pending invitation: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return &out[0], nil
}
