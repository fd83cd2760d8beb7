-- End users (Plaid "User", Powens "User"), their linked items (Plaid
-- "Item") and the institutions those items connect to.

CREATE TABLE end_users (
    id {{.AutoID}},
    user_id {{.Text}} NOT NULL,
    client_user_id {{.Text}} NOT NULL,
    user_token_hash CHAR(64) NOT NULL,
    created_at {{.Time}} NOT NULL,
    updated_at {{.Time}} NOT NULL,
    removed_at {{.Time}},
    version INTEGER NOT NULL DEFAULT 1,
    -- The consumer-report identity; erased when the user is removed.
    has_identity {{.Bool}} NOT NULL DEFAULT FALSE,
    first_name {{.Text}} NOT NULL DEFAULT '',
    last_name {{.Text}} NOT NULL DEFAULT '',
    phone_numbers {{.Text}} NOT NULL DEFAULT '[]',
    emails {{.Text}} NOT NULL DEFAULT '[]',
    ssn_kind {{.Text}} NOT NULL DEFAULT '' CHECK (ssn_kind IN ('', 'full', 'last4')),
    ssn_cipher {{.Text}} NOT NULL DEFAULT '',
    dob_cipher {{.Text}} NOT NULL DEFAULT '',
    pii_key_id {{.Text}} NOT NULL DEFAULT '',
    address_street {{.Text}} NOT NULL DEFAULT '',
    address_city {{.Text}} NOT NULL DEFAULT '',
    address_region {{.Text}} NOT NULL DEFAULT '',
    address_postal_code {{.Text}} NOT NULL DEFAULT '',
    address_country {{.Text}} NOT NULL DEFAULT '',
    -- Lower-cased name, emails and phone numbers, each term preceded by a
    -- space, for one substring index ("% term%" is a prefix match).
    search_text {{.Text}} NOT NULL DEFAULT '',
    -- Item health, kept current by every item write, so lists filter on
    -- an indexed column instead of scanning items.
    item_count INTEGER NOT NULL DEFAULT 0,
    error_item_count INTEGER NOT NULL DEFAULT 0,
    next_consent_expiration {{.Time}}
);
-- client_user_id is unique forever: a removed user keeps theirs.
CREATE UNIQUE INDEX end_users_client_user_id_key ON end_users (client_user_id);
CREATE UNIQUE INDEX end_users_user_id_key ON end_users (user_id);
CREATE UNIQUE INDEX end_users_user_token_hash_key ON end_users (user_token_hash);
-- Keyset pagination, newest first, for active and removed users.
CREATE INDEX end_users_active_created_idx ON end_users (created_at DESC, id DESC) WHERE removed_at IS NULL;
CREATE INDEX end_users_removed_created_idx ON end_users (created_at DESC, id DESC) WHERE removed_at IS NOT NULL;
CREATE INDEX end_users_created_idx ON end_users (created_at DESC, id DESC);
CREATE INDEX end_users_error_created_idx ON end_users (created_at DESC, id DESC) WHERE error_item_count > 0;
CREATE INDEX end_users_consent_idx ON end_users (next_consent_expiration) WHERE next_consent_expiration IS NOT NULL;
{{if .Postgres}}
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE INDEX end_users_search_trgm_idx ON end_users USING GIN (search_text public.gin_trgm_ops);
{{end}}

CREATE TABLE institutions (
    id {{.Text}} PRIMARY KEY,
    name {{.Text}} NOT NULL
);

CREATE TABLE items (
    id {{.AutoID}},
    item_id {{.Text}} NOT NULL,
    end_user_id {{.BigInt}} NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    institution_id {{.Text}},
    institution_name {{.Text}},
    webhook {{.Text}},
    auth_method {{.Text}},
    error {{.Text}},
    error_code {{.Text}},
    available_products {{.Text}} NOT NULL DEFAULT '[]',
    billed_products {{.Text}} NOT NULL DEFAULT '[]',
    products {{.Text}} NOT NULL DEFAULT '[]',
    consented_products {{.Text}} NOT NULL DEFAULT '[]',
    consent_expiration_time {{.Time}},
    update_type {{.Text}} NOT NULL DEFAULT 'background' CHECK (update_type IN ('background', 'user_present_required')),
    created_at {{.Time}} NOT NULL,
    updated_at {{.Time}} NOT NULL
);
-- item_id is case-sensitive: a plain unique index (no lower()).
CREATE UNIQUE INDEX items_item_id_key ON items (item_id);
CREATE INDEX items_end_user_idx ON items (end_user_id, id);
CREATE INDEX items_institution_user_idx ON items (institution_id, end_user_id);
