-- Two-step sign-in: a member's TOTP secret (sealed) and its recovery codes
-- (hashed), the stage of sign-in a session is at, and the portal settings
-- that make it mandatory for admins.

-- One row per member who has set up, or is setting up, an authenticator.
-- confirmed_at is NULL until a first code proves the app holds the secret.
-- last_step is the TOTP time step of the newest accepted code: a code of
-- that step or an older one is refused, so each code works once.
CREATE TABLE member_mfa (
    member_id CHAR(24) PRIMARY KEY REFERENCES team_members (id) ON DELETE CASCADE,
    secret_cipher {{.Text}} NOT NULL,
    key_id {{.Text}} NOT NULL,
    last_step {{.BigInt}} NOT NULL DEFAULT 0,
    confirmed_at {{.Time}},
    created_at {{.Time}} NOT NULL,
    updated_at {{.Time}} NOT NULL
);

CREATE TABLE mfa_recovery_codes (
    id {{.AutoID}},
    member_id CHAR(24) NOT NULL REFERENCES team_members (id) ON DELETE CASCADE,
    code_hash CHAR(64) NOT NULL,
    used_at {{.Time}},
    created_at {{.Time}} NOT NULL
);
CREATE UNIQUE INDEX mfa_recovery_codes_hash_key ON mfa_recovery_codes (member_id, code_hash);

-- '' is a completed sign-in; mfa_pending waits for the second factor;
-- mfa_enrol is an admin who must set up an authenticator first.
ALTER TABLE sessions ADD COLUMN mfa_stage {{.Text}} NOT NULL DEFAULT ''
    CHECK (mfa_stage IN ('', 'mfa_pending', 'mfa_enrol'));

-- Portal-wide settings, one row per setting.
CREATE TABLE settings (
    name {{.Text}} PRIMARY KEY,
    value {{.Text}} NOT NULL,
    updated_at {{.Time}} NOT NULL
);
