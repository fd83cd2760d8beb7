package models

import "context"

// DashboardUserPage is one page of team members as Plaid's
// /dashboard_user/list returns them, newest first.
type DashboardUserPage struct {
	Members []TeamMember
	Next    string // "" when this is the last page
}

// DashboardUserPageSize is how many members a page of the API lists.
const DashboardUserPageSize = 100

// ListDashboardUsers returns a page of the whole team for the API; cursor
// is "" for the first page or a previous page's Next. It is the team list's
// query without filters.
func (db *DB) ListDashboardUsers(ctx context.Context, cursor string) (*DashboardUserPage, error) {
	page, err := db.ListMembers(ctx, MemberPageRequest{Limit: DashboardUserPageSize, Cursor: cursor})
	if err != nil {
		return nil, err
	}
	return &DashboardUserPage{Members: page.Members, Next: page.Next}, nil
}
