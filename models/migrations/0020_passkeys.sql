-- Passkeys (WebAuthn): a member's credentials, the handle authenticators
-- know them by, and the ceremonies waiting for a browser's answer.

-- The user handle an authenticator stores with a member's passkeys and
-- gives back at a password-less sign-in: random, one per member, so it
-- says nothing of who they are.
CREATE TABLE passkey_handles (
    member_id CHAR(24) PRIMARY KEY REFERENCES team_members (id) ON DELETE CASCADE,
    handle {{.Text}} NOT NULL,
    created_at {{.Time}} NOT NULL
);
CREATE UNIQUE INDEX passkey_handles_handle_key ON passkey_handles (handle);

-- One row per registered passkey. credential_id and public_key are
-- base64url; rp_id is the relying party it was made for, so a passkey made
-- under another --public-url is never offered or accepted. sign_count and
-- clone_warning follow each sign-in (a counter that does not move forward
-- marks a possibly cloned authenticator).
CREATE TABLE member_passkeys (
    id {{.AutoID}},
    member_id CHAR(24) NOT NULL REFERENCES team_members (id) ON DELETE CASCADE,
    rp_id {{.Text}} NOT NULL,
    credential_id {{.Text}} NOT NULL,
    public_key {{.Text}} NOT NULL,
    name {{.Text}} NOT NULL,
    attestation_type {{.Text}} NOT NULL DEFAULT '',
    attestation_format {{.Text}} NOT NULL DEFAULT '',
    aaguid {{.Text}} NOT NULL DEFAULT '',
    transports {{.Text}} NOT NULL DEFAULT '',
    flags {{.BigInt}} NOT NULL DEFAULT 0,
    sign_count {{.BigInt}} NOT NULL DEFAULT 0,
    clone_warning {{.Bool}} NOT NULL DEFAULT FALSE,
    created_at {{.Time}} NOT NULL,
    last_used_at {{.Time}}
);
CREATE UNIQUE INDEX member_passkeys_credential_key ON member_passkeys (rp_id, credential_id);
CREATE INDEX member_passkeys_member ON member_passkeys (member_id, created_at);

-- A ceremony begun and not yet finished: the library's session data (the
-- challenge among it), bound to the browser that began it (binding: the
-- hash of its session, or of its pre-sign-in visitor value). One per
-- binding and purpose; finishing deletes it, so each challenge is answered
-- once.
CREATE TABLE passkey_ceremonies (
    binding CHAR(64) NOT NULL,
    purpose {{.Text}} NOT NULL CHECK (purpose IN ('register', 'second_factor', 'sign_in')),
    member_id CHAR(24) REFERENCES team_members (id) ON DELETE CASCADE,
    name {{.Text}} NOT NULL DEFAULT '',
    session_data {{.Text}} NOT NULL,
    expires_at {{.Time}} NOT NULL,
    PRIMARY KEY (binding, purpose)
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
