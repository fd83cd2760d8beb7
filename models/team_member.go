package models

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

// Role is what a team member may do; see DESIGN.md's role table.
type Role string

const (
	RoleAdmin      Role = "admin"
	RoleCompliance Role = "compliance"
	RoleAuditor    Role = "auditor"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleAdmin, RoleCompliance, RoleAuditor}

// ParseRole accepts a role's name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want admin, compliance or auditor)", s)
}

// Label is the role's name as people read it.
func (r Role) Label() string {
	switch r {
	case RoleAdmin:
		return "Admin"
	case RoleCompliance:
		return "Compliance reviewer"
	case RoleAuditor:
		return "Auditor"
	}
	return string(r)
}

// MemberStatus is a team member's lifecycle state (Plaid's DashboardUser).
type MemberStatus string

const (
	MemberInvited     MemberStatus = "invited"
	MemberActive      MemberStatus = "active"
	MemberDeactivated MemberStatus = "deactivated"
)

// TeamMember is a person who signs in to the portal.
type TeamMember struct {
	ID           string `gorm:"primaryKey;size:24"`
	EmailAddress string
	Status       MemberStatus
	Role         Role
	PasswordHash string
	// TimeZone is the IANA zone the member reads times in; "" until they
	// choose one, and their browser's is used.
	TimeZone  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (TeamMember) TableName() string { return "team_members" }

// AuditTarget names the member in audit entries.
func (m *TeamMember) AuditTarget() Target { return Target{Type: "team_member", ID: m.ID} }

// AsActor is the member as the actor of a change.
func (m *TeamMember) AsActor() Actor { return Actor{Type: ActorMember, ID: m.ID} }

// NewMemberID returns a DashboardUser id: 24 hex characters.
func NewMemberID() string { return RandomHex(12) }

// MaxEmailLength is the longest email address (RFC 5321's path limit).
const MaxEmailLength = 254

// NormalizeEmail trims and lower-cases an address, and checks its form.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		//lint:ignore ST1005 the message is shown next to the email field as it is
		return "", errors.New("Enter an email address.")
	}
	if problem := text.Line(MaxEmailLength).Problem(s); problem != "" {
		return "", errors.New(problem)
	}
	s = strings.ToLower(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		//lint:ignore ST1005 the message is shown next to the email field as it is
		return "", errors.New("Enter an email address like name@example.com.")
	}
	return s, nil
}

// MemberByID returns one team member.
func (db *DB) MemberByID(ctx context.Context, id string) (*TeamMember, error) {
	if !text.Key.Valid(id) {
		return nil, notFound("No such team member.")
	}
	var m TeamMember
	err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFound("No team member %s.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load team member: %w", err)
	}
	return &m, nil
}

// CountMembers returns how many team members exist.
func (db *DB) CountMembers(ctx context.Context) (int64, error) {
	var n int64
	err := db.gorm.WithContext(ctx).Model(&TeamMember{}).Count(&n).Error
	return n, err
}

// NewMember is what creating an active member takes.
type NewMember struct {
	Email    string
	Role     Role
	Password string
}

// errMemberEmailInUse refuses a second team member with an address.
var errMemberEmailInUse = &Error{Kind: KindConflict, Message: "A team member with that email already exists.",
	Fields: FieldErrors{"email": "A team member with that email already exists."}}

// CreateMember adds an active team member with a password, audited as
// team.create. Used by the first start and `ledgerdesk admin create`.
func (db *DB) CreateMember(ctx context.Context, o Origin, in NewMember) (*TeamMember, error) {
	fields, advice := FieldErrors{}, FieldAdvice{}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		fields.Add("email", err.Error())
	}
	if _, err := ParseRole(string(in.Role)); err != nil {
		fields.Add("role", "Choose admin, compliance or auditor.")
	}
	if r := CheckPassword(in.Password, PasswordContext{Email: in.Email}); r != nil {
		r.addTo(fields, advice, "password")
	}
	if err := invalidWithAdvice(fields, advice); err != nil {
		return nil, err
	}
	hash, err := HashPassword(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	now := Now()
	m := &TeamMember{ID: NewMemberID(), EmailAddress: email, Status: MemberActive, Role: in.Role,
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		var n int64
		if err := tx.Model(&TeamMember{}).Where("email_address = ?", email).Count(&n).Error; err != nil {
			return Change{}, err
		}
		if n > 0 {
			return Change{}, errMemberEmailInUse
		}
		if err := tx.Create(m).Error; err != nil {
			// The same address, added by another request or process
			// since the count.
			if isUniqueViolation(err) {
				return Change{}, errMemberEmailInUse
			}
			return Change{}, fmt.Errorf("insert team member: %w", err)
		}
		return Change{Action: "team.create", Target: m.AuditTarget(), After: map[string]any{
			"email_address": m.EmailAddress, "role": m.Role, "status": m.Status, "password": "set",
		}}, nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// CanManageUsers: create, update and remove end users, sandbox actions.
func (r Role) CanManageUsers() bool { return r == RoleAdmin }

// CanRevealPII: see a full SSN or date of birth, with a reason.
func (r Role) CanRevealPII() bool { return r == RoleAdmin || r == RoleCompliance }

// MemberEmails maps member ids to their email addresses, for naming actors.
func (db *DB) MemberEmails(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []TeamMember
	if err := db.gorm.WithContext(ctx).Select("id", "email_address").Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("member emails: %w", err)
	}
	for _, m := range rows {
		out[m.ID] = m.EmailAddress
	}
	return out, nil
}
