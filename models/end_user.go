package models

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"ledgerdesk/models/text"
)

// EndUser is one of the platform's users (Plaid "User", Powens "User").
// Removal keeps the row as a tombstone: ids, client_user_id, timestamps.
type EndUser struct {
	ID            int64 `gorm:"primaryKey"`
	UserID        string
	ClientUserID  string
	UserTokenHash string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	RemovedAt     *time.Time
	Version       int

	HasIdentity       bool
	FirstName         string
	LastName          string
	PhoneNumbers      StringList
	Emails            StringList
	SSNKind           string // "", "full" or "last4"
	SSNCipher         string
	DOBCipher         string `gorm:"column:dob_cipher"`
	PIIKeyID          string `gorm:"column:pii_key_id"`
	AddressStreet     string
	AddressCity       string
	AddressRegion     string
	AddressPostalCode string
	AddressCountry    string
	SearchText        string

	ItemCount             int
	ErrorItemCount        int
	NextConsentExpiration *time.Time
}

func (EndUser) TableName() string { return "end_users" }

// Removed reports whether the user is a tombstone.
func (u *EndUser) Removed() bool { return u.RemovedAt != nil }

// AuditTarget names the user in audit entries.
func (u *EndUser) AuditTarget() Target { return EndUserTarget(u.ID) }

// EndUserTarget names the user with this id in audit entries.
func EndUserTarget(id int64) Target {
	return Target{Type: "end_user", ID: strconv.FormatInt(id, 10)}
}

// StringList is a list of strings stored as a JSON array.
type StringList []string

// GormDataType tells GORM the column's type.
func (StringList) GormDataType() string { return "text" }

// GormValue binds the list as one JSON value; GORM would otherwise expand
// a slice into a parenthesized list of values.
func (l StringList) GormValue(context.Context, *gorm.DB) clause.Expr {
	v, _ := l.Value()
	return clause.Expr{SQL: "?", Vars: []any{v}}
}

// Scan reads the stored JSON.
func (l *StringList) Scan(v any) error {
	var b []byte
	switch t := v.(type) {
	case string:
		b = []byte(t)
	case []byte:
		b = t
	case nil:
		*l = nil
		return nil
	default:
		return fmt.Errorf("StringList: cannot scan %T", v)
	}
	if list, ok := compactStrings(b); ok {
		*l = list
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

// compactStrings reads a JSON array of strings as json.Marshal writes it
// when no string needs an escape, which is how nearly every stored list
// looks; ok is false for anything else, which encoding/json then reads.
// Every row of the users list holds one, and encoding/json took longer
// over them than the page's query.
func compactStrings(b []byte) (list []string, ok bool) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' || !utf8.Valid(b) {
		return nil, false
	}
	for _, c := range b {
		if c == '\\' || c < 0x20 {
			return nil, false
		}
	}
	body := b[1 : len(b)-1]
	list = []string{}
	for len(body) > 0 {
		if body[0] != '"' {
			return nil, false
		}
		end := bytes.IndexByte(body[1:], '"')
		if end < 0 {
			return nil, false
		}
		list = append(list, string(body[1:1+end]))
		body = body[end+2:]
		if len(body) > 0 {
			if body[0] != ',' || len(body) == 1 {
				return nil, false
			}
			body = body[1:]
		}
	}
	return list, true
}

// Value writes the list as JSON (never null).
func (l StringList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	return string(b), err
}

// SSN and date of birth are sealed with the record's user_id and the field
// as context.
func piiContext(userID, field string) string { return "end_user:" + userID + ":" + field }

// storedIdentity is an identity as its columns hold it: the lists as JSON,
// SSN and date of birth sealed. Creating, updating, removing and bulk-loading
// users all store identities through sealIdentity.
type storedIdentity struct {
	HasIdentity          bool
	FirstName, LastName  string
	PhoneNumbers, Emails string // JSON arrays
	SSNKind              string
	SSNCipher, DOBCipher string
	PIIKeyID             string
	Street, City, Region string
	PostalCode, Country  string
	SearchText           string
}

// sealIdentity is the identity as stored (SSN and date of birth sealed);
// an empty identity stores as no identity.
func (db *DB) sealIdentity(userID string, id *Identity) storedIdentity {
	s := storedIdentity{PhoneNumbers: "[]", Emails: "[]"}
	if id.Empty() {
		return s
	}
	phones, _ := StringList(id.PhoneNumbers).Value()
	emails, _ := StringList(id.Emails).Value()
	s.HasIdentity = true
	s.FirstName, s.LastName = id.FirstName, id.LastName
	s.PhoneNumbers, s.Emails = phones.(string), emails.(string)
	switch {
	case id.SSNFull != "":
		s.SSNKind = "full"
		s.SSNCipher = db.cipher().Seal(id.SSNFull, piiContext(userID, "ssn"))
	case id.SSNLast4 != "":
		s.SSNKind = "last4"
		s.SSNCipher = db.cipher().Seal(id.SSNLast4, piiContext(userID, "ssn"))
	}
	if id.DateOfBirth != "" {
		s.DOBCipher = db.cipher().Seal(id.DateOfBirth, piiContext(userID, "date_of_birth"))
	}
	if s.SSNCipher != "" || s.DOBCipher != "" {
		s.PIIKeyID = db.cipher().CurrentKeyID()
	}
	s.Street, s.City = id.Address.Street, id.Address.City
	s.Region, s.PostalCode = id.Address.Region, id.Address.PostalCode
	s.Country = id.Address.Country
	s.SearchText = id.searchText()
	return s
}

// identityColumns is the identity as stored, as columns for an update.
func (db *DB) identityColumns(userID string, id *Identity) map[string]any {
	s := db.sealIdentity(userID, id)
	return map[string]any{
		"has_identity": s.HasIdentity, "first_name": s.FirstName, "last_name": s.LastName,
		"phone_numbers": s.PhoneNumbers, "emails": s.Emails,
		"ssn_kind": s.SSNKind, "ssn_cipher": s.SSNCipher, "dob_cipher": s.DOBCipher, "pii_key_id": s.PIIKeyID,
		"address_street": s.Street, "address_city": s.City, "address_region": s.Region,
		"address_postal_code": s.PostalCode, "address_country": s.Country,
		"search_text": s.SearchText,
	}
}

// Identity returns the user's identity with SSN and date of birth opened.
// Callers that show it mask those two unless the member revealed them.
func (db *DB) Identity(u *EndUser) (*Identity, error) {
	if !u.HasIdentity {
		return nil, nil
	}
	id := &Identity{
		FirstName: u.FirstName, LastName: u.LastName,
		PhoneNumbers: append([]string(nil), u.PhoneNumbers...), Emails: append([]string(nil), u.Emails...),
		Address: Address{Street: u.AddressStreet, City: u.AddressCity, Region: u.AddressRegion,
			PostalCode: u.AddressPostalCode, Country: u.AddressCountry},
	}
	ssn, err := db.cipher().Open(u.SSNCipher, u.PIIKeyID, piiContext(u.UserID, "ssn"))
	if err != nil {
		return nil, fmt.Errorf("open ssn of end user %d: %w", u.ID, err)
	}
	if u.SSNKind == "full" {
		id.SSNFull = ssn
	} else {
		id.SSNLast4 = ssn
	}
	if id.DateOfBirth, err = db.cipher().Open(u.DOBCipher, u.PIIKeyID, piiContext(u.UserID, "date_of_birth")); err != nil {
		return nil, fmt.Errorf("open date of birth of end user %d: %w", u.ID, err)
	}
	return id, nil
}

// MaskSSN shows only the last 4 digits: ***-**-6789.
func MaskSSN(ssn string) string {
	if ssn == "" {
		return ""
	}
	if len(ssn) < 4 {
		return "***-**-****"
	}
	return "***-**-" + ssn[len(ssn)-4:]
}

// MaskDate hides a date of birth entirely.
func MaskDate(d string) string {
	if d == "" {
		return ""
	}
	return "****-**-**"
}

// auditIdentity is the identity as an audit diff sees it: which fields are
// set, never their values (redacted by key in encodeDiff).
func auditIdentity(id *Identity) map[string]any {
	if id.Empty() {
		return map[string]any{"identity": nil}
	}
	ssn := ""
	if id.SSNFull != "" {
		ssn = "full:" + id.SSNFull
	} else if id.SSNLast4 != "" {
		ssn = "last4:" + id.SSNLast4
	}
	return map[string]any{
		"first_name": id.FirstName, "last_name": id.LastName,
		"phone_numbers": strings.Join(id.PhoneNumbers, ","), "emails": strings.Join(id.Emails, ","),
		"ssn": ssn, "date_of_birth": id.DateOfBirth,
		"street": id.Address.Street, "city": id.Address.City, "region": id.Address.Region,
		"postal_code": id.Address.PostalCode, "country": id.Address.Country,
	}
}

// NewUserID returns an opaque Plaid-style user_id.
func NewUserID() string { return randomBase62(29) }

// NewItemID returns an opaque, case-sensitive Plaid-style item_id.
func NewItemID() string { return randomBase62(37) }

func randomBase62(n int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// NewUserToken returns a user_token as the seed shapes it:
// user-<environment>-<uuid>.
func (db *DB) NewUserToken() string { return "user-" + db.environment() + "-" + uuid.NewString() }

// HasEndUsers reports whether any end user, removed or not, exists.
func (db *DB) HasEndUsers(ctx context.Context) (bool, error) {
	var ids []int64
	err := db.gorm.WithContext(ctx).Model(&EndUser{}).Limit(1).Pluck("id", &ids).Error
	if err != nil {
		return false, fmt.Errorf("look for end users: %w", err)
	}
	return len(ids) > 0, nil
}

// EndUserInput is what creating a user takes.
type EndUserInput struct {
	ClientUserID string
	Identity     *Identity // nil or empty: no consumer-report identity
}

// Created is a new user and its user_token, which exists only here: the
// database keeps its hash.
type Created struct {
	User      *EndUser
	UserToken string
}

// errClientUserIDTaken explains why a client_user_id is refused.
// errClientUserIDInUse is a create refused by the client_user_id index.
var errClientUserIDInUse = errors.New("client_user_id in use")

func errClientUserIDTaken(removed bool) error {
	msg := "This client_user_id is already used by another user."
	if removed {
		msg = "This client_user_id belonged to a user who was removed. A client_user_id can never be used again, even after removal."
	}
	return &Error{Kind: KindConflict, Message: msg, Fields: FieldErrors{FieldClientUserID: msg}}
}

// CreateEndUser validates the input and creates the user, audited as
// user.create, with a USER_CREATED webhook event. A client_user_id is
// refused if any user, removed or not, has ever had it.
func (db *DB) CreateEndUser(ctx context.Context, o Origin, in EndUserInput) (*Created, error) {
	fields := FieldErrors{}
	ValidateClientUserID(in.ClientUserID, fields)
	if !in.Identity.Empty() {
		in.Identity.Normalize()
		in.Identity.Validate(fields, Now())
	}
	if err := fields.Err(); err != nil {
		return nil, err
	}
	now := Now()
	token := db.NewUserToken()
	u := &EndUser{UserID: NewUserID(), ClientUserID: in.ClientUserID, UserTokenHash: HashToken(token),
		CreatedAt: now, UpdatedAt: now, Version: 1, PhoneNumbers: StringList{}, Emails: StringList{}}
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		// The unique index is the check: a used client_user_id fails the
		// insert, and only then is the holder looked up (below, outside
		// the transaction the failed statement ended) to say whether it was
		// removed. A create that succeeds costs no extra query.
		var err error
		if u.ID, err = db.insertReturningID(tx, insertEndUser, endUserFields(u)[1:]); err != nil {
			if isUniqueViolation(err) {
				return Change{}, errClientUserIDInUse
			}
			return Change{}, fmt.Errorf("insert end user: %w", err)
		}
		// Without an identity the row as inserted is already the row as
		// stored: skip a second version of it in a million-row table.
		if !in.Identity.Empty() {
			cols := db.identityColumns(u.UserID, in.Identity)
			if err := tx.Model(&EndUser{}).Where("id = ?", u.ID).Updates(cols).Error; err != nil {
				return Change{}, fmt.Errorf("store identity: %w", err)
			}
		}
		after := auditIdentity(in.Identity)
		after["client_user_id"], after["user_id"] = u.ClientUserID, u.UserID
		return Change{Action: "user.create", Target: u.AuditTarget(), After: after,
			Events: []OutboxEvent{userEvent(EventUserCreated, u)}}, nil
	})
	if errors.Is(err, errClientUserIDInUse) {
		var holder EndUser
		if db.gorm.WithContext(ctx).Select("id", "removed_at").Where("client_user_id = ?", in.ClientUserID).
			Take(&holder).Error == nil {
			return nil, errClientUserIDTaken(holder.Removed())
		}
		// Another unique key (a random id) collided: nothing was written.
		return nil, fmt.Errorf("create end user: %w", err)
	}
	if err != nil {
		return nil, err
	}
	if in.Identity.Empty() {
		// Stored as inserted: nothing to read back.
		return &Created{User: u, UserToken: token}, nil
	}
	created, err := db.endUserByID(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &Created{User: created, UserToken: token}, nil
}

// EndUserByID returns a user, removed or not.
func (db *DB) EndUserByID(ctx context.Context, id int64) (*EndUser, error) {
	return readFrom(ctx, db, 0, func(d *DB) (*EndUser, error) { return d.endUserByID(ctx, id) })
}

func (db *DB) endUserByID(ctx context.Context, id int64) (*EndUser, error) {
	return db.findEndUser(ctx, notFound("No end user %d.", id), endUserByID, id)
}

// EndUserByToken returns the (not removed) user a user_token belongs to.
func (db *DB) EndUserByToken(ctx context.Context, token string) (*EndUser, error) {
	if !text.Key.Valid(token) {
		return nil, notFound("No user has this user_token.")
	}
	return db.findEndUser(ctx, notFound("No user has this user_token."), endUserByToken, HashToken(token))
}

// EndUserByUserID returns a user by its opaque user_id.
func (db *DB) EndUserByUserID(ctx context.Context, userID string) (*EndUser, error) {
	if !text.Key.Valid(userID) {
		return nil, notFound("No user has this user_id.")
	}
	return db.findEndUser(ctx, notFound("No user has user_id %s.", userID), endUserByUserID, userID)
}

var (
	endUserByID     = newStatement("SELECT " + endUserColumns.String() + " FROM end_users WHERE id = ?")
	endUserByToken  = newStatement("SELECT " + endUserColumns.String() + " FROM end_users WHERE user_token_hash = ? AND removed_at IS NULL")
	endUserByUserID = newStatement("SELECT " + endUserColumns.String() + " FROM end_users WHERE user_id = ?")
)

// findEndUser loads the one user a lookup by key finds, or returns missing.
func (db *DB) findEndUser(ctx context.Context, missing error, lookup statement, key any) (*EndUser, error) {
	u, err := endUserRows.one(ctx, db, lookup, key)
	if err != nil {
		return nil, fmt.Errorf("load end user: %w", err)
	}
	if u == nil {
		return nil, missing
	}
	return u, nil
}

// StaleUpdateError says the user changed since the form was opened.
type StaleUpdateError struct {
	Current *EndUser
	Changed []string // fields the other change touched, by name
}

func (e *StaleUpdateError) Error() string {
	return "this user was changed by someone else since you opened the form"
}

// UpdateEndUser replaces a user's identity, audited as user.update with only
// the changed fields (values redacted). version is the user's version when
// the form was opened; if the user changed since, nothing is written and a
// *StaleUpdateError (kind conflict) says what changed. An identity equal to
// the stored one writes nothing: no new version, no audit entry.
func (db *DB) UpdateEndUser(ctx context.Context, o Origin, id int64, version int, ident *Identity) (*EndUser, error) {
	u, _, err := db.UpdateEndUserKeeping(ctx, o, id, version, ident, KeepPII{})
	return u, err
}

// KeepPII says which sealed values an update leaves as they are when the
// form sent none: forms never carry the clear SSN or date of birth.
type KeepPII struct {
	SSN         bool
	DateOfBirth bool
}

// UpdateEndUserKeeping is UpdateEndUser that keeps the stored SSN and date
// of birth where keep says so and the new identity has none. changed is
// false when the identity was already the stored one and nothing was
// written.
func (db *DB) UpdateEndUserKeeping(ctx context.Context, o Origin, id int64, version int, ident *Identity, keep KeepPII) (u *EndUser, changed bool, err error) {
	if ident != nil {
		// Work on a copy: kept values are opened into it, and they must not
		// reach the caller's identity (and from there a page).
		cp := *ident
		ident = &cp
	}
	fields := FieldErrors{}
	if !ident.Empty() {
		ident.Normalize()
		ident.Validate(fields, Now())
	}
	if err := fields.Err(); err != nil {
		return nil, false, err
	}
	if same, err := db.identityUnchanged(ctx, id, version, ident, keep); err != nil || same != nil {
		return same, false, err
	}
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		var u EndUser
		if err := tx.Where("id = ?", id).Take(&u).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Change{}, notFound("No end user %d.", id)
			}
			return Change{}, err
		}
		if u.Removed() {
			return Change{}, &Error{Kind: KindConflict, Message: "This user was removed; a removed user cannot be changed."}
		}
		before, err := db.Identity(&u)
		if err != nil {
			return Change{}, err
		}
		keepSealed(ident, before, keep)
		if u.Version != version {
			return Change{}, &Error{Kind: KindConflict, Message: "Someone else changed this user since you opened the form. Nothing was saved: review their change below.",
				Err: &StaleUpdateError{Current: &u, Changed: differingFields(before, ident)}}
		}
		cols := db.identityColumns(u.UserID, ident)
		cols["version"] = u.Version + 1
		cols["updated_at"] = Now()
		res := tx.Model(&EndUser{}).Where("id = ? AND version = ?", id, version).Updates(cols)
		if res.Error != nil {
			return Change{}, fmt.Errorf("update end user %d: %w", id, res.Error)
		}
		if res.RowsAffected != 1 {
			return Change{}, &Error{Kind: KindConflict, Message: "Someone else changed this user since you opened the form."}
		}
		return Change{Action: "user.update", Target: u.AuditTarget(),
			Before: auditIdentity(before), After: auditIdentity(ident)}, nil
	})
	if err != nil {
		return nil, false, err
	}
	u, err = db.endUserByID(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return u, true, nil
}

// keepSealed fills the stored SSN and date of birth into ident where keep
// says so and ident carries none.
func keepSealed(ident, before *Identity, keep KeepPII) {
	if ident.Empty() || before == nil {
		return
	}
	if keep.SSN && ident.SSNFull == "" && ident.SSNLast4 == "" {
		ident.SSNFull, ident.SSNLast4 = before.SSNFull, before.SSNLast4
	}
	if keep.DateOfBirth && ident.DateOfBirth == "" {
		ident.DateOfBirth = before.DateOfBirth
	}
}

// identityUnchanged returns the user when ident, with the kept values, is
// the identity already stored at version: then there is nothing to write
// and no transaction to open. In every other case (another version, a
// removed or missing user, a difference) it returns nil and the update
// goes on to report or write it.
func (db *DB) identityUnchanged(ctx context.Context, id int64, version int, ident *Identity, keep KeepPII) (*EndUser, error) {
	u, err := db.endUserByID(ctx, id)
	if err != nil {
		var merr *Error
		if errors.As(err, &merr) && merr.Kind == KindNotFound {
			return nil, nil
		}
		return nil, err
	}
	if u.Removed() || u.Version != version {
		return nil, nil
	}
	before, err := db.Identity(u)
	if err != nil {
		return nil, err
	}
	var next *Identity
	if ident != nil {
		cp := *ident
		next = &cp
	}
	keepSealed(next, before, keep)
	if len(differingFields(before, next)) > 0 {
		return nil, nil
	}
	return u, nil
}

// differingFields names the identity fields whose values differ.
func differingFields(a, b *Identity) []string {
	am, bm := auditIdentity(a), auditIdentity(b)
	var out []string
	for _, k := range []string{"identity", "first_name", "last_name", "phone_numbers", "emails", "ssn", "date_of_birth",
		"street", "city", "region", "postal_code", "country"} {
		if fmt.Sprint(am[k]) != fmt.Sprint(bm[k]) {
			out = append(out, k)
		}
	}
	return out
}

// RemoveEndUser deletes the user's items and erases their identity,
// leaving a tombstone, audited as user.remove, with a USER_DELETED
// webhook event. confirm must repeat the client_user_id exactly.
func (db *DB) RemoveEndUser(ctx context.Context, o Origin, id int64, confirm string) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		return db.removeEndUser(tx, id, func(u *EndUser) error {
			if confirm != u.ClientUserID {
				return FieldErrors{"confirm": "Type the user's client_user_id exactly to confirm the removal."}.Err()
			}
			return nil
		})
	})
}

// removeEndUser is RemoveEndUser's change inside tx, once confirmed
// accepts the locked user.
func (db *DB) removeEndUser(tx *gorm.DB, id int64, confirmed func(*EndUser) error) (Change, error) {
	var u EndUser
	if err := lockForUpdate(tx).Where("id = ?", id).Take(&u).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return Change{}, notFound("No end user %d.", id)
		}
		return Change{}, err
	}
	if u.Removed() {
		return Change{}, &Error{Kind: KindConflict, Message: "This user was already removed."}
	}
	if err := confirmed(&u); err != nil {
		return Change{}, err
	}
	res := tx.Where("end_user_id = ?", u.ID).Delete(&Item{})
	if res.Error != nil {
		return Change{}, fmt.Errorf("delete items of end user %d: %w", id, res.Error)
	}
	now := Now()
	cols := db.identityColumns(u.UserID, nil)
	cols["removed_at"], cols["updated_at"], cols["version"] = now, now, u.Version+1
	cols["item_count"], cols["error_item_count"], cols["next_consent_expiration"] = 0, 0, nil
	if err := tx.Model(&EndUser{}).Where("id = ?", u.ID).Updates(cols).Error; err != nil {
		return Change{}, fmt.Errorf("erase end user %d: %w", id, err)
	}
	return Change{Action: "user.remove", Target: u.AuditTarget(),
		Before: map[string]any{"items": u.ItemCount, "identity": u.HasIdentity, "removed": false},
		After:  map[string]any{"items": 0, "identity": false, "removed": true, "items_deleted": res.RowsAffected},
		Events: []OutboxEvent{userEvent(EventUserDeleted, &u)}}, nil
}

// RotateUserToken gives the user a new user_token, returned once; the old
// one stops working. Audited as user.token_rotate.
func (db *DB) RotateUserToken(ctx context.Context, o Origin, id int64) (string, error) {
	token := db.NewUserToken()
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		return rotateUserToken(tx, id, token)
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// rotateUserToken is RotateUserToken's change inside tx.
func rotateUserToken(tx *gorm.DB, id int64, token string) (Change, error) {
	res := tx.Model(&EndUser{}).Where("id = ? AND removed_at IS NULL", id).
		Updates(map[string]any{"user_token_hash": HashToken(token), "updated_at": Now()})
	if res.Error != nil {
		return Change{}, fmt.Errorf("rotate token of end user %d: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return Change{}, notFound("No active end user %d.", id)
	}
	return Change{Action: "user.token_rotate", Target: EndUserTarget(id),
		Before: map[string]any{"user_token": "old"}, After: map[string]any{"user_token": "new"}}, nil
}

// The sealed personal fields, which the default field policy reveals with
// a reason.
const (
	RevealSSN         = "ssn"
	RevealDateOfBirth = "date_of_birth"
)

// MinRevealReason and MaxRevealReason bound a reveal's reason, in
// characters.
const (
	MinRevealReason = 10
	MaxRevealReason = 500
)

// ActionPIIReveal is the audit action of a reveal of a personal value.
const ActionPIIReveal = "user.pii_reveal"

// RevealPII returns one personal field in clear (a list joined by ", ",
// the address on one line), writing a user.pii_reveal entry with the
// member's reason in the same transaction. The field policy, read in that
// transaction, must give role "reveal with a reason" for the field. The
// value is returned only if the entry committed.
func (db *DB) RevealPII(ctx context.Context, o Origin, role Role, id int64, field, reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	f, ok := ParsePersonalField(field)
	if !ok {
		return "", FieldErrors{"field": "Choose a personal field: names, emails, phone numbers, address, SSN or date of birth."}.Err()
	}
	if problem := text.Line(MaxRevealReason).Problem(reason); problem != "" {
		return "", FieldErrors{"reason": problem}.Err()
	}
	if utf8RuneCount(reason) < MinRevealReason {
		return "", FieldErrors{"reason": fmt.Sprintf("Say why you need to see this (at least %d characters); the reason is kept in the audit log.", MinRevealReason)}.Err()
	}
	var value string
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		policy, err := readFieldPolicy(tx)
		if err != nil {
			return Change{}, err
		}
		if policy.State(role, f) != FieldReveal {
			return Change{}, &Error{Kind: KindForbidden, Message: "The field policy does not let your role reveal the " + strings.ToLower(f.Label()) + "."}
		}
		var u EndUser
		if err := tx.Where("id = ?", id).Take(&u).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Change{}, notFound("No end user %d.", id)
			}
			return Change{}, err
		}
		ident, err := db.Identity(&u)
		if err != nil {
			return Change{}, err
		}
		if ident != nil {
			value = clearValue(ident, f)
		}
		if value == "" {
			return Change{}, notFound("This user has no %s on record.", strings.ToLower(f.Label()))
		}
		return Change{Action: ActionPIIReveal, Target: u.AuditTarget(), Reason: reason,
			After: map[string]any{"field": field}, Subjects: []int64{u.ID}}, nil
	})
	if err != nil {
		return "", err
	}
	return value, nil
}

func utf8RuneCount(s string) int { return len([]rune(s)) }

// clearValue is one personal field of an identity in clear, as a reveal
// shows it.
func clearValue(id *Identity, f PersonalField) string {
	switch f {
	case PolicyNames:
		return strings.TrimSpace(id.FirstName + " " + id.LastName)
	case PolicyEmails:
		return strings.Join(id.Emails, ", ")
	case PolicyPhones:
		return strings.Join(id.PhoneNumbers, ", ")
	case PolicyAddress:
		a := id.Address
		if a == (Address{}) {
			return ""
		}
		return strings.Join([]string{a.Street, a.City, strings.TrimSpace(a.Region + " " + a.PostalCode), a.Country}, ", ")
	case PolicySSN:
		return id.SSNFull + id.SSNLast4
	case PolicyDOB:
		return id.DateOfBirth
	}
	return ""
}
