package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// errLastAdmin refuses a change that would leave the portal without an
// active admin: nobody could manage the team any more.
func errLastAdmin(m *TeamMember, what string) error {
	return &Error{Kind: KindConflict, Message: fmt.Sprintf(
		"%s is the last active admin and cannot be %s: the team would have nobody to manage it. "+
			"Make another member an admin first. Nothing was changed.", m.EmailAddress, what)}
}

// lockActiveAdmins locks the rows of every active admin, in id order, and
// returns their ids. Every change that could reduce the number of admins
// takes these locks first, so two such changes run one after the other:
// on PostgreSQL the second waits, then re-reads the rows the first changed
// (READ COMMITTED re-checks a locked row's WHERE), and sees one admin
// fewer. SQLite has one writer at a time already.
func lockActiveAdmins(tx *gorm.DB) ([]string, error) {
	var ids []string
	err := lockForUpdate(tx).Model(&TeamMember{}).Where("role = ? AND status = ?", RoleAdmin, MemberActive).
		Order("id").Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("lock active admins: %w", err)
	}
	return ids, nil
}

// guardLastAdmin locks the active admins and refuses if m is the only one.
func guardLastAdmin(tx *gorm.DB, m *TeamMember, what string) error {
	if m.Role != RoleAdmin || m.Status != MemberActive {
		return nil
	}
	ids, err := lockActiveAdmins(tx)
	if err != nil {
		return err
	}
	others := 0
	for _, id := range ids {
		if id != m.ID {
			others++
		}
	}
	if others == 0 {
		return errLastAdmin(m, what)
	}
	return nil
}

// guardBreakGlass refuses to take m out of the admins while m is the
// break-glass admin of a portal that requires SSO: theirs is the one
// password that still works, the way in when the provider is down. m's
// row is locked, as the SSO settings lock it to choose it, so the two
// changes cannot pass each other.
func guardBreakGlass(tx *gorm.DB, m *TeamMember, what string) error {
	s, err := readSettings(tx)
	if err != nil {
		return err
	}
	if s.SSO.Required && s.SSO.BreakGlassMemberID == m.ID {
		return &Error{Kind: KindConflict, Message: fmt.Sprintf(
			"%s is the break-glass admin while sign-in through the identity provider is required, and cannot be %s: "+
				"choose another break-glass admin in Settings first. Nothing was changed.", m.EmailAddress, what)}
	}
	return nil
}

// lockMemberForTeamChange takes the admins' locks before the member's own,
// the same order for every team change, so two changes never deadlock.
func lockMemberForTeamChange(tx *gorm.DB, id string) (*TeamMember, error) {
	if _, err := lockActiveAdmins(tx); err != nil {
		return nil, err
	}
	return lockMember(tx, id)
}

// ChangeMemberRole gives a member another role, audited as
// team.role_change. The last active admin cannot be demoted.
func (db *DB) ChangeMemberRole(ctx context.Context, o Origin, memberID string, role Role) (*TeamMember, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return nil, (FieldErrors{"role": "Choose admin, compliance or auditor."}).Err()
	}
	var out *TeamMember
	err := db.Apply(ctx, o, func(tx *gorm.DB) (c Change, err error) {
		out, c, err = changeMemberRole(tx, memberID, role)
		return c, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// changeMemberRole is ChangeMemberRole's change inside tx.
func changeMemberRole(tx *gorm.DB, memberID string, role Role) (*TeamMember, Change, error) {
	m, err := lockMemberForTeamChange(tx, memberID)
	if err != nil {
		return nil, Change{}, err
	}
	if m.Role == role {
		return nil, Change{}, &Error{Kind: KindConflict, Message: fmt.Sprintf("%s is already %s. Nothing was changed.", m.EmailAddress, role.Label())}
	}
	if role != RoleAdmin {
		if err := guardLastAdmin(tx, m, "demoted"); err != nil {
			return nil, Change{}, err
		}
		if err := guardBreakGlass(tx, m, "demoted"); err != nil {
			return nil, Change{}, err
		}
	}
	before := m.Role
	m.Role, m.UpdatedAt = role, Now()
	if err := tx.Model(&TeamMember{}).Where("id = ?", m.ID).
		Updates(map[string]any{"role": m.Role, "updated_at": m.UpdatedAt}).Error; err != nil {
		return nil, Change{}, fmt.Errorf("change role: %w", err)
	}
	return m, Change{Action: "team.role_change", Target: m.AuditTarget(),
		Before: map[string]any{"role": before}, After: map[string]any{"role": m.Role}}, nil
}

// DeactivateMember deactivates an active member and ends every session of
// theirs in the same transaction, audited as team.deactivate. Their next
// request finds no session and lands on the login page. The last active
// admin cannot be deactivated, and nobody deactivates themselves (another
// admin would have to undo it).
func (db *DB) DeactivateMember(ctx context.Context, o Origin, memberID string) (ended int64, err error) {
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		m, err := lockMemberForTeamChange(tx, memberID)
		if err != nil {
			return Change{}, err
		}
		switch {
		case m.Status == MemberInvited:
			return Change{}, &Error{Kind: KindConflict, Message: fmt.Sprintf(
				"%s has not accepted their invitation yet: revoke the invitation instead.", m.EmailAddress)}
		case m.Status != MemberActive:
			return Change{}, &Error{Kind: KindConflict, Message: fmt.Sprintf("%s is already deactivated.", m.EmailAddress)}
		case o.Actor.Type == ActorMember && o.Actor.ID == m.ID:
			return Change{}, &Error{Kind: KindForbidden, Message: "You cannot deactivate yourself; ask another admin. Nothing was changed."}
		}
		if err := guardLastAdmin(tx, m, "deactivated"); err != nil {
			return Change{}, err
		}
		if err := guardBreakGlass(tx, m, "deactivated"); err != nil {
			return Change{}, err
		}
		now := Now()
		if err := tx.Model(&TeamMember{}).Where("id = ?", m.ID).
			Updates(map[string]any{"status": MemberDeactivated, "updated_at": now}).Error; err != nil {
			return Change{}, fmt.Errorf("deactivate member: %w", err)
		}
		r := tx.Where("member_id = ?", m.ID).Delete(&Session{})
		if r.Error != nil {
			return Change{}, fmt.Errorf("end sessions: %w", r.Error)
		}
		ended = r.RowsAffected
		return Change{Action: "team.deactivate", Target: m.AuditTarget(),
			Before: map[string]any{"status": m.Status}, After: map[string]any{"status": MemberDeactivated, "sessions_ended": ended}}, nil
	})
	return ended, err
}

// ReactivateMember makes a deactivated member active again, audited as
// team.reactivate. A member who never set a password is invited again
// instead (ResendInvitation).
func (db *DB) ReactivateMember(ctx context.Context, o Origin, memberID string) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		m, err := lockMemberForTeamChange(tx, memberID)
		if err != nil {
			return Change{}, err
		}
		if !m.CanReactivate() {
			msg := fmt.Sprintf("%s is not deactivated (status %s).", m.EmailAddress, m.Status)
			if m.neverAccepted() {
				msg = fmt.Sprintf("%s never accepted their invitation: invite them again instead.", m.EmailAddress)
			}
			return Change{}, &Error{Kind: KindConflict, Message: msg}
		}
		if err := tx.Model(&TeamMember{}).Where("id = ?", m.ID).
			Updates(map[string]any{"status": MemberActive, "updated_at": Now()}).Error; err != nil {
			return Change{}, fmt.Errorf("reactivate member: %w", err)
		}
		return Change{Action: "team.reactivate", Target: m.AuditTarget(),
			Before: map[string]any{"status": m.Status}, After: map[string]any{"status": MemberActive}}, nil
	})
}
