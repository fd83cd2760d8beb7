package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Item is a user's link to an institution (Plaid "Item").
type Item struct {
	ID                    int64 `gorm:"primaryKey"`
	ItemID                string
	EndUserID             int64
	InstitutionID         *string
	InstitutionName       *string
	Webhook               *string
	AuthMethod            *string
	Error                 *ItemError `gorm:"serializer:json"`
	ErrorCode             *string
	AvailableProducts     StringList
	BilledProducts        StringList
	Products              StringList
	ConsentedProducts     StringList
	ConsentExpirationTime *time.Time
	UpdateType            string
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

func (Item) TableName() string { return "items" }

// ItemError is Plaid's error object as an item carries it.
type ItemError struct {
	ErrorType        string          `json:"error_type"`
	ErrorCode        string          `json:"error_code"`
	ErrorCodeReason  *string         `json:"error_code_reason"`
	ErrorMessage     string          `json:"error_message"`
	DisplayMessage   *string         `json:"display_message"`
	RequestID        string          `json:"request_id"`
	Causes           json.RawMessage `json:"causes"`
	Status           *int            `json:"status"`
	DocumentationURL string          `json:"documentation_url"`
	SuggestedAction  *string         `json:"suggested_action"`
}

// AuthMethods are the values Plaid's auth_method may take (or null).
var AuthMethods = []string{"INSTANT_AUTH", "INSTANT_MATCH", "AUTOMATED_MICRODEPOSITS", "SAME_DAY_MICRODEPOSITS",
	"INSTANT_MICRODEPOSITS", "DATABASE_MATCH", "DATABASE_INSIGHTS", "TRANSFER_MIGRATED", "INVESTMENTS_FALLBACK"}

// Health is an item's state at a glance.
type Health struct {
	Kind string // HealthOK, HealthError, HealthExpiring, HealthExpired
	Code string // the error code, for HealthError
}

const (
	HealthOK       = "healthy"
	HealthError    = "error"
	HealthExpiring = "consent_expiring"
	HealthExpired  = "consent_expired"
)

// ConsentWarning is how soon a consent expiry is flagged;
// ConsentWarningMonth is the overview's longer look ahead.
const (
	ConsentWarning      = 7 * 24 * time.Hour
	ConsentWarningMonth = 30 * 24 * time.Hour
)

// HealthAt derives the item's health at t: an error first, then consent.
func (it *Item) HealthAt(t time.Time) Health {
	switch {
	case it.Error != nil:
		return Health{Kind: HealthError, Code: it.Error.ErrorCode}
	case it.ConsentExpirationTime != nil && !it.ConsentExpirationTime.After(t):
		return Health{Kind: HealthExpired}
	case it.ConsentExpirationTime != nil && it.ConsentExpirationTime.Sub(t) <= ConsentWarning:
		return Health{Kind: HealthExpiring}
	}
	return Health{Kind: HealthOK}
}

var itemsOfUser = newStatement("SELECT " + itemColumns.String() + " FROM items WHERE end_user_id = ? ORDER BY id")

// ItemsOfUser lists a user's items, oldest first.
func (db *DB) ItemsOfUser(ctx context.Context, endUserID int64) ([]Item, error) {
	return readFrom(ctx, db, 0, func(d *DB) ([]Item, error) { return d.itemsOfUser(ctx, endUserID) })
}

func (db *DB) itemsOfUser(ctx context.Context, endUserID int64) ([]Item, error) {
	out, err := itemRows.list(ctx, db, itemsOfUser, nil, endUserID)
	if err != nil {
		return nil, fmt.Errorf("items of end user %d: %w", endUserID, err)
	}
	return out, nil
}

// refreshItemSummary recomputes the health columns the users list filters
// on; every item write calls it in its transaction.
func refreshItemSummary(tx *gorm.DB, endUserID int64) error {
	var s struct {
		N      int
		Errors int
		Next   *time.Time
	}
	// MIN over a time column comes back as text on SQLite: read it apart.
	err := tx.Raw(`SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN error_code IS NOT NULL THEN 1 ELSE 0 END), 0) AS errors
		FROM items WHERE end_user_id = ?`, endUserID).Scan(&s).Error
	if err != nil {
		return err
	}
	var next Item
	res := tx.Select("consent_expiration_time").Where("end_user_id = ? AND consent_expiration_time IS NOT NULL", endUserID).
		Order("consent_expiration_time").Limit(1).Find(&next)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected > 0 {
		s.Next = next.ConsentExpirationTime
	}
	return tx.Model(&EndUser{}).Where("id = ?", endUserID).Updates(map[string]any{
		"item_count": s.N, "error_item_count": s.Errors, "next_consent_expiration": s.Next,
	}).Error
}

// AddItem links a new item to a user (the seed data and sandbox tools),
// audited as item.create.
func (db *DB) AddItem(ctx context.Context, o Origin, it *Item) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		// Lock the user so a concurrent removal, which deletes the items
		// under the same lock, cannot leave this one on a tombstone.
		var u EndUser
		if err := lockForUpdate(tx).Select("id", "removed_at").Where("id = ?", it.EndUserID).Take(&u).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Change{}, notFound("No end user %d.", it.EndUserID)
			}
			return Change{}, fmt.Errorf("load end user %d: %w", it.EndUserID, err)
		}
		if u.Removed() {
			return Change{}, &Error{Kind: KindConflict, Message: "This user was removed; it cannot have items."}
		}
		if it.ItemID == "" {
			it.ItemID = NewItemID()
		}
		if it.UpdateType == "" {
			it.UpdateType = "background"
		}
		if it.Error != nil {
			code := it.Error.ErrorCode
			it.ErrorCode = &code
		}
		if it.ConsentExpirationTime != nil {
			// SQLite compares stored times as text: keep them all in UTC.
			t := it.ConsentExpirationTime.UTC().Truncate(time.Microsecond)
			it.ConsentExpirationTime = &t
		}
		now := Now()
		it.CreatedAt, it.UpdatedAt = now, now
		if err := tx.Create(it).Error; err != nil {
			return Change{}, fmt.Errorf("insert item: %w", err)
		}
		if err := refreshItemSummary(tx, it.EndUserID); err != nil {
			return Change{}, err
		}
		return Change{Action: "item.create", Target: Target{Type: "end_user", ID: strconv.FormatInt(it.EndUserID, 10)},
			After: map[string]any{"item_id": it.ItemID, "institution_id": it.InstitutionID}}, nil
	})
}

// loginRequired is the error /sandbox/user/reset_login puts items into.
func loginRequired(requestID string) *ItemError {
	display := "The login details of this account have changed. Please log in again."
	status := 400
	return &ItemError{
		ErrorType:        "ITEM_ERROR",
		ErrorCode:        "ITEM_LOGIN_REQUIRED",
		ErrorMessage:     "the login details of this item have changed (credentials, MFA, or required user action) and a user login is required to update this information.",
		DisplayMessage:   &display,
		RequestID:        requestID,
		Causes:           json.RawMessage("[]"),
		Status:           &status,
		DocumentationURL: "https://plaid.com/docs/errors/item/#item_login_required",
	}
}

// ResetLogin puts every item of the user into ITEM_LOGIN_REQUIRED, as
// /sandbox/user/reset_login does, audited as item.reset_login. It returns
// how many items changed.
func (db *DB) ResetLogin(ctx context.Context, o Origin, endUserID int64) (int, error) {
	return db.ResetLoginItems(ctx, o, endUserID, nil)
}

// ResetLoginItems is ResetLogin for the items itemIDs names (all of the
// user's items when nil). An item_id that is not the user's is refused and
// nothing changes.
func (db *DB) ResetLoginItems(ctx context.Context, o Origin, endUserID int64, itemIDs []string) (int, error) {
	var changed int
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		c, n, err := resetLogin(tx, o.RequestID, endUserID, itemIDs)
		changed = n
		return c, err
	})
	return changed, err
}

// resetLogin is ResetLoginItems' change inside tx, and how many items it
// changed.
func resetLogin(tx *gorm.DB, requestID string, endUserID int64, itemIDs []string) (Change, int, error) {
	var u EndUser
	if err := tx.Select("id", "removed_at").Where("id = ?", endUserID).Take(&u).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return Change{}, 0, notFound("No end user %d.", endUserID)
		}
		return Change{}, 0, err
	}
	if u.Removed() {
		return Change{}, 0, &Error{Kind: KindConflict, Message: "This user was removed; it has no items."}
	}
	var items []Item
	if err := tx.Where("end_user_id = ?", endUserID).Order("id").Find(&items).Error; err != nil {
		return Change{}, 0, err
	}
	if itemIDs != nil {
		items = selectItems(items, itemIDs)
		if items == nil {
			return Change{}, 0, FieldErrors{"item_ids": "Every item_id must be one of this user's items."}.Err()
		}
	}
	var changed []string
	for i := range items {
		it := &items[i]
		it.Error = loginRequired(requestID)
		code := it.Error.ErrorCode
		if err := tx.Model(it).Updates(map[string]any{"error": mustJSON(it.Error), "error_code": code, "updated_at": Now()}).Error; err != nil {
			return Change{}, 0, fmt.Errorf("reset login of item %s: %w", it.ItemID, err)
		}
		changed = append(changed, it.ItemID)
	}
	if err := refreshItemSummary(tx, endUserID); err != nil {
		return Change{}, 0, err
	}
	return Change{Action: "item.reset_login", Target: Target{Type: "end_user", ID: strconv.FormatInt(endUserID, 10)},
		After: map[string]any{"items": changed, "error_code": "ITEM_LOGIN_REQUIRED"}}, len(changed), nil
}

// selectItems returns the items ids names, or nil if any id is not there.
func selectItems(items []Item, ids []string) []Item {
	byID := make(map[string]Item, len(items))
	for _, it := range items {
		byID[it.ItemID] = it
	}
	out := []Item{}
	seen := map[string]bool{}
	for _, id := range ids {
		it, ok := byID[id]
		if !ok {
			return nil
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, it)
		}
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// HealthClock judges consent expiry against one fixed moment, so a whole
// page agrees on what "now" is.
type HealthClock struct{ Now time.Time }

// ConsentHealth is the health a consent expiring at t implies.
func (c HealthClock) ConsentHealth(t *time.Time) string {
	switch {
	case t == nil:
		return HealthOK
	case !t.After(c.Now):
		return HealthExpired
	case t.Sub(c.Now) <= ConsentWarning:
		return HealthExpiring
	}
	return HealthOK
}
