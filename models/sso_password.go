package models

import "context"

// ErrSSORequired refuses a right password while SSO is required. It is
// only said once the password was checked, so it tells nothing to someone
// guessing, and the same for every member but the break-glass admin.
var ErrSSORequired = &Error{Kind: KindForbidden,
	Message: "Password sign-in is turned off: sign in through your identity provider instead."}

// ssoPasswordRule says whether a right password may sign m in and, while
// SSO is required, whether m is the break-glass admin, whose sign-in is
// audited as such. Only an active admin with a password is one.
func (db *DB) ssoPasswordRule(ctx context.Context, m *TeamMember) (allowed, breakGlass bool, err error) {
	s, err := db.Settings(ctx)
	if err != nil {
		return false, false, err
	}
	if !s.SSO.Required {
		return true, false, nil
	}
	if m.ID == s.SSO.BreakGlassMemberID && isBreakGlassCandidate(m) {
		return true, true, nil
	}
	return false, false, nil
}
