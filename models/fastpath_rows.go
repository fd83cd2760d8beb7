package models

import "strings"

// The row types the fast path (fastpath.go) reads: each one's columns and,
// in the same order, its fields. A test holds both to the GORM model.

var (
	endUserRows = fastRows[EndUser]{endUserColumns, endUserFields}
	listRows    = fastRows[EndUser]{ListColumns, listFields}
	itemRows    = fastRows[Item]{itemColumns, itemFields}
	apiKeyRows  = fastRows[APIKey]{apiKeyColumns, apiKeyFields}
	auditRows   = fastRows[AuditEntry]{auditColumns, auditFields}
)

// endUserColumns are every column of EndUser, for reading whole users.
var endUserColumns = columns{"id", "user_id", "client_user_id", "user_token_hash", "created_at", "updated_at",
	"removed_at", "version", "has_identity", "first_name", "last_name", "phone_numbers", "emails", "ssn_kind",
	"ssn_cipher", "dob_cipher", "pii_key_id", "address_street", "address_city", "address_region",
	"address_postal_code", "address_country", "search_text", "item_count", "error_item_count",
	"next_consent_expiration"}

func endUserFields(u *EndUser) []any {
	return []any{&u.ID, &u.UserID, &u.ClientUserID, &u.UserTokenHash, &u.CreatedAt, &u.UpdatedAt,
		&u.RemovedAt, &u.Version, &u.HasIdentity, &u.FirstName, &u.LastName, &u.PhoneNumbers, &u.Emails, &u.SSNKind,
		&u.SSNCipher, &u.DOBCipher, &u.PIIKeyID, &u.AddressStreet, &u.AddressCity, &u.AddressRegion,
		&u.AddressPostalCode, &u.AddressCountry, &u.SearchText, &u.ItemCount, &u.ErrorItemCount,
		&u.NextConsentExpiration}
}

// insertEndUser stores a new user (every column but the id, which it
// returns): each create through the API runs it.
var insertEndUser = newStatement("INSERT INTO end_users (" + endUserColumns[1:].String() + ") VALUES (" +
	strings.TrimSuffix(strings.Repeat("?, ", len(endUserColumns)-1), ", ") + ") RETURNING id")

// ListColumns are the columns a page of the users list shows: not the
// sealed identity, the token hash or the search text, which would only be
// read and thrown away.
var ListColumns = columns{"id", "user_id", "client_user_id", "created_at", "updated_at", "removed_at",
	"has_identity", "first_name", "last_name", "emails", "item_count", "error_item_count", "next_consent_expiration"}

func listFields(u *EndUser) []any {
	return []any{&u.ID, &u.UserID, &u.ClientUserID, &u.CreatedAt, &u.UpdatedAt, &u.RemovedAt,
		&u.HasIdentity, &u.FirstName, &u.LastName, &u.Emails, &u.ItemCount, &u.ErrorItemCount,
		&u.NextConsentExpiration}
}

var itemColumns = columns{"id", "item_id", "end_user_id", "institution_id", "institution_name", "webhook",
	"auth_method", "error", "error_code", "available_products", "billed_products", "products",
	"consented_products", "consent_expiration_time", "update_type", "created_at", "updated_at"}

func itemFields(i *Item) []any {
	return []any{&i.ID, &i.ItemID, &i.EndUserID, &i.InstitutionID, &i.InstitutionName, &i.Webhook,
		&i.AuthMethod, jsonColumn[ItemError]{&i.Error}, &i.ErrorCode, &i.AvailableProducts, &i.BilledProducts, &i.Products,
		&i.ConsentedProducts, &i.ConsentExpirationTime, &i.UpdateType, &i.CreatedAt, &i.UpdatedAt}
}

var apiKeyColumns = columns{"id", "client_id", "name", "scope", "secret_hash", "secret_hint", "created_by",
	"created_at", "last_used_at", "revoked_at", "revoked_by"}

func apiKeyFields(k *APIKey) []any {
	return []any{&k.ID, &k.ClientID, &k.Name, &k.Scope, &k.SecretHash, &k.SecretHint, &k.CreatedBy,
		&k.CreatedAt, &k.LastUsedAt, &k.RevokedAt, &k.RevokedBy}
}

// auditColumns are every column of AuditEntry.
var auditColumns = columns{"seq", "occurred_at", "actor_type", "actor_id", "action", "target_type", "target_id",
	"request_id", "ip", "user_agent", "diff", "reason", "prev_hash", "hash"}

func auditFields(e *AuditEntry) []any {
	return []any{&e.Seq, &e.OccurredAt, &e.ActorType, &e.ActorID, &e.Action, &e.TargetType, &e.TargetID,
		&e.RequestID, &e.IP, &e.UserAgent, &e.Diff, &e.Reason, &e.PrevHash, &e.Hash}
}

// sessionColumns are a session and its member, read together (every page
// a member sees reads them). The member's password hash is not read.
var sessionColumns = columns{"s.id_hash", "s.member_id", "s.ip", "s.user_agent", "s.data", "s.created_at",
	"s.last_seen_at", "s.expires_at", "s.mfa_stage", "m.id", "m.email_address", "m.status", "m.role", "m.time_zone",
	"m.created_at", "m.updated_at"}

func sessionWithMemberFields(out *SessionWithMember) []any {
	s, m := &out.Session, &out.Member
	return []any{&s.IDHash, &s.MemberID, &s.IP, &s.UserAgent, &s.Data, &s.CreatedAt, &s.LastSeenAt,
		&s.ExpiresAt, &s.MFAStage, &m.ID, &m.EmailAddress, &m.Status, &m.Role, &m.TimeZone,
		&m.CreatedAt, &m.UpdatedAt}
}
