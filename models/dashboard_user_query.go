package models

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// DashboardUserPage is one page of team members as Plaid's
// /dashboard_user/list returns them, newest first.
type DashboardUserPage struct {
	Members []TeamMember
	Next    string // "" when this is the last page
}

// DashboardUserPageSize is how many members a page of the API lists.
const DashboardUserPageSize = 100

// ListDashboardUsers returns a page of team members by keyset; cursor is
// "" for the first page or a previous page's Next.
func (db *DB) ListDashboardUsers(ctx context.Context, cursorText string) (*DashboardUserPage, error) {
	q := db.gorm.WithContext(ctx).Model(&TeamMember{}).
		Select("id", "email_address", "status", "role", "created_at", "updated_at")
	if cursorText != "" {
		c, err := decodeMemberCursor(cursorText)
		if err != nil {
			return nil, &Error{Kind: KindInvalid, Message: "cursor is not a cursor this list returned",
				Fields: FieldErrors{"cursor": "cursor is not a cursor this list returned"}}
		}
		q = q.Where("(created_at, id) < (?, ?)", c.T, c.ID)
	}
	var rows []TeamMember
	if err := q.Order("created_at DESC, id DESC").Limit(DashboardUserPageSize + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list dashboard users: %w", err)
	}
	page := &DashboardUserPage{Members: rows}
	if len(rows) > DashboardUserPageSize {
		page.Members = rows[:DashboardUserPageSize]
		last := page.Members[DashboardUserPageSize-1]
		page.Next = memberCursor(last)
	}
	return page, nil
}

// memberKey is where a page of members ends: members have text ids.
type memberKey struct {
	T  time.Time `json:"t"`
	ID string    `json:"i"`
}

func memberCursor(m TeamMember) string {
	b, _ := json.Marshal(memberKey{T: m.CreatedAt, ID: m.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeMemberCursor(s string) (memberKey, error) {
	var k memberKey
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &k)
	}
	if err == nil && (len(k.ID) != 24 || k.T.IsZero()) {
		err = fmt.Errorf("incomplete cursor")
	}
	return k, err
}
