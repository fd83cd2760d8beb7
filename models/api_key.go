package models

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

// APIScope is what an API key may do.
type APIScope string

const (
	// ScopeRead may call the get, list and items endpoints.
	ScopeRead APIScope = "read"
	// ScopeWrite may also create, update and remove users and reset logins.
	ScopeWrite APIScope = "write"
)

// Label is the scope as people read it.
func (s APIScope) Label() string {
	if s == ScopeWrite {
		return "Read-write"
	}
	return "Read-only"
}

// Allows reports whether a key with this scope may use an endpoint that
// needs want.
func (s APIScope) Allows(want APIScope) bool { return want == ScopeRead || s == ScopeWrite }

// ActorEndUser is an end user acting on their own record with their
// user_token (Powens' user token on /2.0/users/me).
const ActorEndUser ActorType = "end_user"

// APIKey is a credential for the JSON API (Plaid's client_id and secret,
// Powens' users token). The secret itself is never stored.
type APIKey struct {
	ID         int64 `gorm:"primaryKey"`
	ClientID   string
	Name       string
	Scope      APIScope
	SecretHash string
	SecretHint string // the last 4 characters, to tell keys apart
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	RevokedBy  string
}

func (APIKey) TableName() string { return "api_keys" }

// Revoked reports whether the key no longer authenticates.
func (k *APIKey) Revoked() bool { return k.RevokedAt != nil }

// AuditTarget names the key in audit entries.
func (k *APIKey) AuditTarget() Target {
	return Target{Type: "api_key", ID: strconv.FormatInt(k.ID, 10)}
}

// AsActor is the key as the actor of the changes made with it.
func (k *APIKey) AsActor() Actor { return Actor{Type: ActorAPIKey, ID: strconv.FormatInt(k.ID, 10)} }

// secretPrefix marks Ledgerdesk secrets so that scanners and people can
// tell one from a user_token at a glance.
const secretPrefix = "ldk_"

// newAPISecret returns a secret with 192 random bits.
func newAPISecret() string { return secretPrefix + RandomToken(24) }

// hashAPISecret is how a secret is stored and looked up. The secret is 192
// random bits, so a fast SHA-256 cannot be brute-forced from a stolen
// table: a slow password hash (argon2id, bcrypt) would add nothing but
// tens of milliseconds of CPU to every API call.
func hashAPISecret(secret string) string { return HashToken(secret) }

// MaxAPIKeyName is the longest name a key may have.
const MaxAPIKeyName = 100

// NewAPIKey is what creating a key takes.
type NewAPIKey struct {
	Name  string
	Scope APIScope
}

// CreatedAPIKey is a new key and its secret, which exists only here.
type CreatedAPIKey struct {
	Key    *APIKey
	Secret string
}

// CreateAPIKey makes a key, audited as api_key.create. The secret is
// returned once; only its hash is kept.
func (db *DB) CreateAPIKey(ctx context.Context, o Origin, in NewAPIKey) (*CreatedAPIKey, error) {
	in, err := in.checked()
	if err != nil {
		return nil, err
	}
	var out *CreatedAPIKey
	err = db.Apply(ctx, o, func(tx *gorm.DB) (c Change, err error) {
		out, c, err = createAPIKey(tx, o, in)
		return c, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checked is the input trimmed, or the errors of its fields.
func (in NewAPIKey) checked() (NewAPIKey, error) {
	in.Name = strings.TrimSpace(in.Name)
	fields := FieldErrors{}
	if in.Name == "" {
		fields.Add("name", "Name the key after what uses it, like “billing service”.")
	} else if problem := text.Line(MaxAPIKeyName).Problem(in.Name); problem != "" {
		fields.Add("name", problem)
	}
	if in.Scope != ScopeRead && in.Scope != ScopeWrite {
		fields.Add("scope", "Choose read-only or read-write.")
	}
	return in, fields.Err()
}

// createAPIKey is CreateAPIKey's change inside tx, for checked input.
func createAPIKey(tx *gorm.DB, o Origin, in NewAPIKey) (*CreatedAPIKey, Change, error) {
	secret := newAPISecret()
	k := &APIKey{ClientID: RandomHex(12), Name: in.Name, Scope: in.Scope, SecretHash: hashAPISecret(secret),
		SecretHint: secret[len(secret)-4:], CreatedBy: o.Actor.ID, CreatedAt: Now()}
	if err := tx.Create(k).Error; err != nil {
		return nil, Change{}, fmt.Errorf("insert api key: %w", err)
	}
	return &CreatedAPIKey{Key: k, Secret: secret}, Change{Action: "api_key.create", Target: k.AuditTarget(), After: map[string]any{
		"key_name": k.Name, "client_id": k.ClientID, "scope": k.Scope, "secret": "set",
	}}, nil
}

// RevokeAPIKey stops a key from authenticating, at once, audited as
// api_key.revoke.
func (db *DB) RevokeAPIKey(ctx context.Context, o Origin, id int64) (*APIKey, error) {
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		var k APIKey
		if err := lockForUpdate(tx).Where("id = ?", id).Take(&k).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Change{}, notFound("No API key %d.", id)
			}
			return Change{}, fmt.Errorf("load api key %d: %w", id, err)
		}
		if k.Revoked() {
			return Change{}, &Error{Kind: KindConflict, Message: "This key was already revoked."}
		}
		if err := tx.Model(&APIKey{}).Where("id = ?", id).
			Updates(map[string]any{"revoked_at": Now(), "revoked_by": o.Actor.ID}).Error; err != nil {
			return Change{}, fmt.Errorf("revoke api key %d: %w", id, err)
		}
		return Change{Action: "api_key.revoke", Target: k.AuditTarget(),
			Before: map[string]any{"revoked": false}, After: map[string]any{"revoked": true}}, nil
	})
	if err != nil {
		return nil, err
	}
	return db.APIKeyByID(ctx, id)
}

// APIKeyByID returns a key, revoked or not.
func (db *DB) APIKeyByID(ctx context.Context, id int64) (*APIKey, error) {
	var k APIKey
	err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&k).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFound("No API key %d.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load api key %d: %w", id, err)
	}
	return &k, nil
}

// errBadAPIKey is every authentication failure alike, so a caller cannot
// tell an unknown client_id from a wrong secret or a revoked key.
var errBadAPIKey = &Error{Kind: KindUnauthorized, Message: "invalid client_id or secret provided"}

// AuthenticateAPIKey returns the live key with this client_id and secret.
func (db *DB) AuthenticateAPIKey(ctx context.Context, clientID, secret string) (*APIKey, error) {
	if clientID == "" || secret == "" || len(clientID) > 64 || !text.Key.Valid(clientID) || !text.Key.Valid(secret) {
		return nil, errBadAPIKey
	}
	k, err := db.findAPIKey(ctx, apiKeyByClientID, clientID)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(hashAPISecret(secret)), []byte(k.SecretHash)) != 1 || k.Revoked() {
		return nil, errBadAPIKey
	}
	return k, db.touchAPIKey(ctx, k)
}

// AuthenticateAPISecret returns the live key whose secret this is, for a
// Bearer token that carries the secret alone.
func (db *DB) AuthenticateAPISecret(ctx context.Context, secret string) (*APIKey, error) {
	if !strings.HasPrefix(secret, secretPrefix) || !text.Key.Valid(secret) {
		return nil, errBadAPIKey
	}
	// The lookup is by hash: no timing of the comparison says anything
	// about the secret.
	k, err := db.findAPIKey(ctx, apiKeyBySecretHash, hashAPISecret(secret))
	if err != nil {
		return nil, err
	}
	if k.Revoked() {
		return nil, errBadAPIKey
	}
	return k, db.touchAPIKey(ctx, k)
}

// Every API call looks its key up: fixed statements, not built through GORM.
var (
	apiKeyByClientID   = newStatement("SELECT " + apiKeyColumns.String() + " FROM api_keys WHERE client_id = ?")
	apiKeyBySecretHash = newStatement("SELECT " + apiKeyColumns.String() + " FROM api_keys WHERE secret_hash = ?")
)

// findAPIKey loads the key a lookup finds; none is errBadAPIKey.
func (db *DB) findAPIKey(ctx context.Context, lookup statement, key string) (*APIKey, error) {
	k, err := apiKeyRows.one(ctx, db, lookup, key)
	if err != nil {
		return nil, fmt.Errorf("load api key: %w", err)
	}
	if k == nil {
		return nil, errBadAPIKey
	}
	return k, nil
}

// apiKeyTouchEvery is how stale last_used_at may get: writing it on every
// call would add a write to every read the API serves.
const apiKeyTouchEvery = time.Minute

// touchAPIKey records the key's use, at most once a minute. It is
// bookkeeping about the credential, not a change to data anyone made, so
// it is not audited (like a session's last-seen time).
func (db *DB) touchAPIKey(ctx context.Context, k *APIKey) error {
	now := Now()
	if k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) < apiKeyTouchEvery {
		return nil
	}
	err := db.gorm.WithContext(ctx).Model(&APIKey{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", k.ID, now.Add(-apiKeyTouchEvery)).
		Update("last_used_at", now).Error
	if err != nil {
		return fmt.Errorf("touch api key %d: %w", k.ID, err)
	}
	k.LastUsedAt = &now
	return nil
}

// APIKeyPage is one page of keys, newest first.
type APIKeyPage struct {
	Keys []APIKey
	PageCursors
}

// APIKeyPageSize is how many keys a page lists.
const APIKeyPageSize = 50

// ListAPIKeys returns a page of keys, newest first, by keyset: cursorText
// is "" or a page's Next or Prev.
func (db *DB) ListAPIKeys(ctx context.Context, cursorText string) (*APIKeyPage, error) {
	from, err := apiKeyCursors.decode(cursorText)
	if err != nil {
		return nil, err
	}
	q := db.gorm.WithContext(ctx).Model(&APIKey{})
	q = apiKeyCursors.seek(q, from)
	var rows []APIKey
	if err := q.Limit(APIKeyPageSize + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	page := &APIKeyPage{}
	page.Keys, page.PageCursors = keysetPage(apiKeyCursors, rows, APIKeyPageSize, from,
		func(k *APIKey) cursor { return cursor{at: k.CreatedAt, id: k.ID} })
	return page, nil
}

// CountActiveAPIKeys counts the keys that still authenticate.
func (db *DB) CountActiveAPIKeys(ctx context.Context) (int64, error) {
	var n int64
	err := db.gorm.WithContext(ctx).Model(&APIKey{}).Where("revoked_at IS NULL").Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count api keys: %w", err)
	}
	return n, nil
}

// APIKeyLabels names keys for people, by id as audit entries hold it:
// “name (client_id)”.
func (db *DB) APIKeyLabels(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	// Entries hold ids as text; one that is not a key's number names none.
	var keyIDs []int64
	for _, id := range ids {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			keyIDs = append(keyIDs, n)
		}
	}
	if len(keyIDs) == 0 {
		return out, nil
	}
	var rows []APIKey
	if err := db.gorm.WithContext(ctx).Select("id", "name", "client_id").Where("id IN ?", keyIDs).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("api key labels: %w", err)
	}
	for _, k := range rows {
		out[strconv.FormatInt(k.ID, 10)] = "API key “" + k.Name + "” (" + k.ClientID + ")"
	}
	return out, nil
}
