package models

import (
	"context"
	"fmt"
	"strings"
)

// MemberFilter is what the team list shows; all of it comes from the URL.
type MemberFilter struct {
	Status string // "" for any, or a MemberStatus
	Role   string // "" for any, or a Role
	Search string // part of an email address
}

// MemberPageRequest asks for one page of the team list.
type MemberPageRequest struct {
	Filter MemberFilter
	Limit  int    // one of PageSizes
	Cursor string // opaque, from a previous page's Next or Prev; "" for the first page
}

// MemberPage is one page of the team, newest first. As in Plaid's
// /dashboard_user/list, Next is empty on the last page.
type MemberPage struct {
	Members []TeamMember
	PageCursors
}

// Validate checks the search, which reaches the database, against the
// text rule; a refused one is named by its query parameter, q. Status and
// role are compared with fixed values only.
func (f MemberFilter) Validate() error {
	fields := FieldErrors{}
	if problem := searchRule.Problem(strings.TrimSpace(f.Search)); problem != "" {
		fields.Add("q", problem)
	}
	return fields.Err()
}

// Normalize fills defaults and drops values the list does not know.
func (r *MemberPageRequest) Normalize() {
	r.Filter.Search = foldCase(strings.TrimSpace(r.Filter.Search), strings.ToLower)
	switch MemberStatus(r.Filter.Status) {
	case MemberInvited, MemberActive, MemberDeactivated:
	default:
		r.Filter.Status = ""
	}
	if _, err := ParseRole(r.Filter.Role); err != nil {
		r.Filter.Role = ""
	}
	ok := false
	for _, n := range PageSizes {
		ok = ok || r.Limit == n
	}
	if !ok {
		r.Limit = PageSizes[0]
	}
}

// ListMembers returns one page of team members, newest first, by keyset
// on (created_at, id), never OFFSET. The team is small (people, not
// customers), so the email search is a plain substring match.
func (db *DB) ListMembers(ctx context.Context, r MemberPageRequest) (*MemberPage, error) {
	if err := r.Filter.Validate(); err != nil {
		return nil, err
	}
	r.Normalize()
	q := db.gorm.WithContext(ctx).Model(&TeamMember{}).
		Select("id", "email_address", "status", "role", "created_at", "updated_at")
	if r.Filter.Status != "" {
		q = q.Where("status = ?", r.Filter.Status)
	}
	if r.Filter.Role != "" {
		q = q.Where("role = ?", r.Filter.Role)
	}
	if r.Filter.Search != "" {
		q = q.Where("email_address LIKE ?"+db.Dialect.likeEscape(), "%"+escapeLike(r.Filter.Search)+"%")
	}
	from, err := memberCursors.decode(r.Cursor)
	if err != nil {
		return nil, err
	}
	q = memberCursors.seek(q, from)
	var rows []TeamMember
	if err := q.Limit(r.Limit + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list team members: %w", err)
	}
	page := &MemberPage{}
	page.Members, page.PageCursors = keysetPage(memberCursors, rows, r.Limit, from,
		func(m *TeamMember) cursor { return cursor{at: m.CreatedAt, key: m.ID} })
	return page, nil
}

// MemberActivity returns the newest audit entries in which the member
// acted or was acted on.
func (db *DB) MemberActivity(ctx context.Context, memberID string, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := db.gorm.WithContext(ctx).
		Where("(actor_type = ? AND actor_id = ?) OR (target_type = ? AND target_id = ?)",
			ActorMember, memberID, "team_member", memberID).
		Order("seq DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("member activity: %w", err)
	}
	return out, nil
}
