package models

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"ledgerdesk/models/text"
)

// SSOSettings are the admins' choices for sign-in through the company's
// OpenID Connect provider (the provider itself is configured with flags).
type SSOSettings struct {
	// Required turns password sign-in off for everyone but the
	// break-glass admin.
	Required bool
	// BreakGlassMemberID is the one admin whose password still works while
	// Required is on: the way in when the provider is down.
	BreakGlassMemberID string
	// AllowedDomains: a person whose verified email is at one of these
	// domains gets an account at their first sign-in. Lower case.
	AllowedDomains []string
	// RoleMap gives the provider's groups their roles in Ledgerdesk.
	RoleMap []GroupRole
}

// GroupRole is one line of the role mapping: members of Group get Role.
type GroupRole struct {
	Group string `json:"group"`
	Role  Role   `json:"role"`
}

// Limits of the SSO settings form.
const (
	MaxSSOGroups        = 100
	MaxSSOGroupLength   = 256
	MaxSSOAllowedDomain = 50
	maxSSOFormText      = 40_000
)

const (
	settingSSORequired   = "sso_required"
	settingSSOBreakGlass = "sso_break_glass_member"
	settingSSODomains    = "sso_allowed_domains"
	settingSSORoleMap    = "sso_role_map"
)

// readRow takes the value of one settings row, if it is one of these.
func (s *SSOSettings) readRow(r setting) error {
	var err error
	switch r.Name {
	case settingSSORequired:
		s.Required, _ = strconv.ParseBool(r.Value)
	case settingSSOBreakGlass:
		s.BreakGlassMemberID = r.Value
	case settingSSODomains:
		err = json.Unmarshal([]byte(r.Value), &s.AllowedDomains)
	case settingSSORoleMap:
		err = json.Unmarshal([]byte(r.Value), &s.RoleMap)
	}
	if err != nil {
		return fmt.Errorf("read setting %s: %w", r.Name, err)
	}
	return nil
}

func (s SSOSettings) rows() map[string]string {
	domains, _ := json.Marshal(nonNil(s.AllowedDomains))
	roles, _ := json.Marshal(nonNil(s.RoleMap))
	return map[string]string{
		settingSSORequired:   strconv.FormatBool(s.Required),
		settingSSOBreakGlass: s.BreakGlassMemberID,
		settingSSODomains:    string(domains),
		settingSSORoleMap:    string(roles),
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s SSOSettings) equal(o SSOSettings) bool {
	return s.Required == o.Required && s.BreakGlassMemberID == o.BreakGlassMemberID &&
		slices.Equal(s.AllowedDomains, o.AllowedDomains) && slices.Equal(s.RoleMap, o.RoleMap)
}

func (s SSOSettings) auditFields() map[string]any {
	return map[string]any{
		"sso_required": s.Required, "break_glass_member": s.BreakGlassMemberID,
		"allowed_domains": nonNil(s.AllowedDomains), "role_map": s.RoleMapText(),
	}
}

// RoleFor is the role the provider's groups give: the most powerful role
// any of them maps to. ok is false when none of them is mapped.
func (s SSOSettings) RoleFor(groups []string) (role Role, ok bool) {
	best := len(Roles)
	for _, g := range s.RoleMap {
		if !slices.Contains(groups, g.Group) {
			continue
		}
		if i := slices.Index(Roles, g.Role); i >= 0 && i < best {
			best = i
		}
	}
	if best == len(Roles) {
		return "", false
	}
	return Roles[best], true
}

// AllowsDomain reports whether an email's domain may create an account at
// first sign-in.
func (s SSOSettings) AllowsDomain(email string) bool {
	at := strings.LastIndex(email, "@")
	return at >= 0 && slices.Contains(s.AllowedDomains, strings.ToLower(email[at+1:]))
}

// RoleMapText is the mapping as its form shows it: "group = role" a line.
func (s SSOSettings) RoleMapText() string {
	var b strings.Builder
	for _, g := range s.RoleMap {
		fmt.Fprintf(&b, "%s = %s\n", g.Group, g.Role)
	}
	return b.String()
}

// DomainsText is the allowed domains as their form field shows them.
func (s SSOSettings) DomainsText() string { return strings.Join(s.AllowedDomains, ", ") }

// SSOForm is the settings page's SSO section as submitted.
type SSOForm struct {
	Required   bool
	BreakGlass string
	Domains    string
	RoleMap    string
}

// ParseSSOForm reads the form into settings; a field it cannot read is a
// field error (role_map, allowed_domains, break_glass).
func ParseSSOForm(in SSOForm) (SSOSettings, error) {
	fields := FieldErrors{}
	out := SSOSettings{Required: in.Required}
	if problem := text.Key.Problem(in.BreakGlass); problem != "" {
		fields.Add("break_glass", problem)
	} else {
		out.BreakGlassMemberID = strings.TrimSpace(in.BreakGlass)
	}

	if problem := text.Line(maxSSOFormText).Problem(in.Domains); problem != "" {
		fields.Add("allowed_domains", problem)
	} else {
		for _, d := range strings.FieldsFunc(strings.ToLower(in.Domains), func(r rune) bool { return r == ',' || r == ' ' }) {
			d = strings.TrimPrefix(d, "@")
			switch {
			case !isDomainName(d):
				fields.Add("allowed_domains", fmt.Sprintf("%q is not a domain name like example.com.", d))
			case slices.Contains(out.AllowedDomains, d):
				fields.Add("allowed_domains", fmt.Sprintf("%s is listed twice.", d))
			default:
				out.AllowedDomains = append(out.AllowedDomains, d)
			}
		}
		if len(out.AllowedDomains) > MaxSSOAllowedDomain {
			fields.Add("allowed_domains", fmt.Sprintf("List at most %d domains.", MaxSSOAllowedDomain))
		}
	}

	if problem := text.Lines(maxSSOFormText).Problem(in.RoleMap); problem != "" {
		fields.Add("role_map", problem)
	} else {
		for i, line := range strings.Split(in.RoleMap, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			eq := strings.LastIndex(line, "=")
			if eq < 0 {
				fields.Add("role_map", fmt.Sprintf("Line %d: write the group, an equals sign and the role, e.g. ledgerdesk-admins = admin.", i+1))
				continue
			}
			group, name := strings.TrimSpace(line[:eq]), strings.TrimSpace(line[eq+1:])
			role, err := ParseRole(strings.ToLower(name))
			switch {
			case group == "":
				fields.Add("role_map", fmt.Sprintf("Line %d: name the group before the equals sign.", i+1))
			case !text.Line(MaxSSOGroupLength).Valid(group):
				fields.Add("role_map", fmt.Sprintf("Line %d: %s", i+1, text.Line(MaxSSOGroupLength).Problem(group)))
			case err != nil:
				fields.Add("role_map", fmt.Sprintf("Line %d: the role must be admin, compliance or auditor.", i+1))
			case slices.ContainsFunc(out.RoleMap, func(g GroupRole) bool { return g.Group == group }):
				fields.Add("role_map", fmt.Sprintf("Line %d: the group %s is mapped twice.", i+1, group))
			default:
				out.RoleMap = append(out.RoleMap, GroupRole{Group: group, Role: role})
			}
		}
		if len(out.RoleMap) > MaxSSOGroups {
			fields.Add("role_map", fmt.Sprintf("Map at most %d groups.", MaxSSOGroups))
		}
	}
	if err := fields.Err(); err != nil {
		return SSOSettings{}, err
	}
	return out, nil
}

// isDomainName accepts a DNS name of two labels or more: letters, digits
// and hyphens, no label starting or ending with a hyphen.
func isDomainName(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// BreakGlassCandidates are the members who may be the break-glass admin:
// active admins with a password.
func (db *DB) BreakGlassCandidates(ctx context.Context) ([]TeamMember, error) {
	var out []TeamMember
	err := db.gorm.WithContext(ctx).Select("id", "email_address").
		Where("role = ? AND status = ? AND password_hash <> ''", RoleAdmin, MemberActive).
		Order("email_address").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list break-glass candidates: %w", err)
	}
	return out, nil
}

// isBreakGlassCandidate reports whether a member may be the break-glass
// admin: an active admin with a password.
func isBreakGlassCandidate(m *TeamMember) bool {
	return m.Role == RoleAdmin && m.Status == MemberActive && m.PasswordHash != ""
}

// UpdateSSOSettings stores the SSO settings, audited as
// settings.sso_update with what changed; settings already as asked are
// left alone, unaudited. So that no one is locked out, SSO can be required
// only with the provider configured, a group mapped to the admin role and
// a break-glass admin chosen: an active admin with a password.
func (db *DB) UpdateSSOSettings(ctx context.Context, o Origin, next SSOSettings, providerConfigured bool) (changed bool, err error) {
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		fields := FieldErrors{}
		if next.BreakGlassMemberID != "" {
			var m TeamMember
			err := lockForUpdate(tx).Where("id = ?", next.BreakGlassMemberID).Limit(1).Find(&m).Error
			if err != nil {
				return Change{}, fmt.Errorf("read break-glass admin: %w", err)
			}
			if m.ID == "" || !isBreakGlassCandidate(&m) {
				fields.Add("break_glass", "Choose an active admin who has a password.")
			}
		}
		if next.Required {
			switch {
			case !providerConfigured:
				fields.Add("sso_required", "Configure the identity provider first (--oidc-issuer and the client's id and secret): with none, nobody could sign in.")
			case next.BreakGlassMemberID == "":
				fields.Add("break_glass", "Choose a break-glass admin: while SSO is required, their password is the way in when the provider is down.")
			case !slices.ContainsFunc(next.RoleMap, func(g GroupRole) bool { return g.Role == RoleAdmin }):
				fields.Add("role_map", "Map at least one group to admin: while SSO is required, admins sign in through the provider.")
			}
		}
		if err := fields.Err(); err != nil {
			return Change{}, err
		}
		before, err := readSettings(tx)
		if err != nil {
			return Change{}, err
		}
		if before.SSO.equal(next) {
			return Change{}, errNothingToChange
		}
		now := db.now()
		for name, value := range next.rows() {
			row := setting{Name: name, Value: value, UpdatedAt: now}
			err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}},
				DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"})}).Create(&row).Error
			if err != nil {
				return Change{}, fmt.Errorf("store SSO settings: %w", err)
			}
		}
		return Change{Action: "settings.sso_update", Target: Target{Type: "settings", ID: "sso"},
			Before: before.SSO.auditFields(), After: next.auditFields()}, nil
	})
	if err == errNothingToChange {
		return false, nil
	}
	return err == nil, err
}
