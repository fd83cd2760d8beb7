-- API keys for the seed-compatible JSON API: a public client_id, a secret
-- stored only as its SHA-256, a scope, who made and revoked it, and when it
-- was last used (kept to the minute).

CREATE TABLE api_keys (
    id {{.AutoID}},
    client_id CHAR(24) NOT NULL,
    name {{.Text}} NOT NULL,
    scope {{.Text}} NOT NULL CHECK (scope IN ('read', 'write')),
    secret_hash CHAR(64) NOT NULL,
    secret_hint {{.Text}} NOT NULL DEFAULT '',
    created_by {{.Text}} NOT NULL DEFAULT '',
    created_at {{.Time}} NOT NULL,
    last_used_at {{.Time}},
    revoked_at {{.Time}},
    revoked_by {{.Text}} NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX api_keys_client_id_key ON api_keys (client_id);
-- Powens-style calls send the secret alone as a Bearer token.
CREATE UNIQUE INDEX api_keys_secret_hash_key ON api_keys (secret_hash);
CREATE INDEX api_keys_created_idx ON api_keys (created_at DESC, id DESC);
