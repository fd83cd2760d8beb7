package apijson

import (
	"strings"
	"time"

	"ledgerdesk/models"
)

// Timestamp is how times are written: RFC 3339 in UTC, to the second, as
// the seeds' examples show them.
func Timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// DashboardUser is Plaid's DashboardUser.
type DashboardUser struct {
	ID           string `json:"id"`
	CreatedAt    string `json:"created_at"`
	EmailAddress string `json:"email_address"`
	Status       string `json:"status"`
}

// NewDashboardUser shapes a team member.
func NewDashboardUser(m *models.TeamMember) DashboardUser {
	return DashboardUser{ID: m.ID, CreatedAt: Timestamp(m.CreatedAt), EmailAddress: m.EmailAddress, Status: string(m.Status)}
}

// DashboardUserGetResponse is /dashboard_user/get's answer.
type DashboardUserGetResponse struct {
	DashboardUser
	RequestID string `json:"request_id"`
}

// DashboardUserListResponse is /dashboard_user/list's answer; next_cursor
// is empty on the last page.
type DashboardUserListResponse struct {
	DashboardUsers []DashboardUser `json:"dashboard_users"`
	NextCursor     string          `json:"next_cursor"`
	RequestID      string          `json:"request_id"`
}

// UserCreateResponse is /user/create's answer: the only time the
// user_token is seen.
type UserCreateResponse struct {
	UserToken string `json:"user_token"`
	UserID    string `json:"user_id"`
	RequestID string `json:"request_id"`
}

// RequestIDResponse is the answer of endpoints that return nothing else.
type RequestIDResponse struct {
	RequestID string `json:"request_id"`
}

// Item is Plaid's Item as /user/items/get lists it.
type Item struct {
	ItemID                string            `json:"item_id"`
	InstitutionID         *string           `json:"institution_id"`
	InstitutionName       *string           `json:"institution_name"`
	Webhook               *string           `json:"webhook"`
	AuthMethod            *string           `json:"auth_method"`
	Error                 *models.ItemError `json:"error"`
	AvailableProducts     []string          `json:"available_products"`
	BilledProducts        []string          `json:"billed_products"`
	Products              []string          `json:"products"`
	ConsentedProducts     []string          `json:"consented_products"`
	ConsentExpirationTime *string           `json:"consent_expiration_time"`
	UpdateType            string            `json:"update_type"`
}

// NewItem shapes an item; lists are never null.
func NewItem(it *models.Item) Item {
	out := Item{ItemID: it.ItemID, InstitutionID: it.InstitutionID, InstitutionName: it.InstitutionName,
		Webhook: it.Webhook, AuthMethod: it.AuthMethod, Error: it.Error,
		AvailableProducts: list(it.AvailableProducts), BilledProducts: list(it.BilledProducts),
		Products: list(it.Products), ConsentedProducts: list(it.ConsentedProducts), UpdateType: it.UpdateType}
	if it.ConsentExpirationTime != nil {
		s := Timestamp(*it.ConsentExpirationTime)
		out.ConsentExpirationTime = &s
	}
	if out.Error != nil {
		e := *out.Error
		if c := strings.TrimSpace(string(e.Causes)); c == "" || c == "null" {
			e.Causes = []byte("[]")
		}
		out.Error = &e
	}
	return out
}

func list(l models.StringList) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// UserItemsGetResponse is /user/items/get's answer.
type UserItemsGetResponse struct {
	Items     []Item `json:"items"`
	RequestID string `json:"request_id"`
}

// Identity reads consumer_report_user_identity into the model's identity.
func Identity(b *Body) *models.Identity {
	if b == nil {
		return nil
	}
	id := &models.Identity{
		FirstName:    b.String("first_name", true),
		LastName:     b.String("last_name", true),
		PhoneNumbers: b.Strings("phone_numbers", true),
		Emails:       b.Strings("emails", true),
		SSNFull:      b.String("ssn_full", false),
		SSNLast4:     b.String("ssn_last_4", false),
		DateOfBirth:  b.String("date_of_birth", false),
	}
	if a := b.Object("primary_address", true); a != nil {
		id.Address = models.Address{
			Street:     a.String("street", true),
			City:       a.String("city", true),
			Region:     a.String("region", true),
			PostalCode: a.String("postal_code", true),
			Country:    a.String("country", true),
		}
	}
	return id
}

// PowensUser is Powens' User object.
type PowensUser struct {
	ID     int64  `json:"id"`
	Signin string `json:"signin"`
}

// NewPowensUser shapes an end user; signin is when they were created.
func NewPowensUser(u *models.EndUser) PowensUser {
	return PowensUser{ID: u.ID, Signin: Timestamp(u.CreatedAt)}
}

// PowensUsersList is Powens' UsersList object, with a link to the next
// page when there is one.
type PowensUsersList struct {
	Users []PowensUser `json:"users"`
	Links *PowensLinks `json:"_links,omitempty"`
}

// PowensLinks points at the next page.
type PowensLinks struct {
	Next *PowensLink `json:"next"`
}

// PowensLink is one link.
type PowensLink struct {
	Href string `json:"href"`
}
