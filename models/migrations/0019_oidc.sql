-- Sign-in through the company's OpenID Connect provider.

-- The provider's account each member signed in with: once linked, a member
-- is found by issuer and subject, which the provider never reassigns,
-- rather than by an email address, which it may.
CREATE TABLE oidc_identities (
    issuer {{.Text}} NOT NULL,
    subject {{.Text}} NOT NULL,
    member_id CHAR(24) NOT NULL REFERENCES team_members (id) ON DELETE CASCADE,
    created_at {{.Time}} NOT NULL,
    PRIMARY KEY (issuer, subject)
);
-- One account per provider for each member.
CREATE UNIQUE INDEX oidc_identities_member_key ON oidc_identities (member_id, issuer);

-- A sign-in sent to the provider and not back yet. The state travels in
-- the URL; the row holds its hash and the hash of the random value in the
-- browser's cookie, so the answer is taken once, from the browser that
-- asked, within minutes. The nonce and the PKCE verifier are derived from
-- that cookie: nothing here lets anyone finish a sign-in.
CREATE TABLE oidc_states (
    state_hash CHAR(64) PRIMARY KEY,
    browser_hash CHAR(64) NOT NULL,
    next_path {{.Text}} NOT NULL,
    created_at {{.Time}} NOT NULL,
    expires_at {{.Time}} NOT NULL
);
CREATE INDEX oidc_states_expires ON oidc_states (expires_at);
