-- Team invitations: one-time links that let an invited member set a
-- password. Only the token's hash is kept. A row stays after it was used,
-- expired or withdrawn (by a resend or a revoke), so a stale link can be
-- told apart from a link that never existed.

CREATE TABLE team_invitations (
    token_hash CHAR(64) PRIMARY KEY,
    member_id CHAR(24) NOT NULL REFERENCES team_members (id) ON DELETE CASCADE,
    invited_by {{.Text}} NOT NULL DEFAULT '',
    created_at {{.Time}} NOT NULL,
    expires_at {{.Time}} NOT NULL,
    used_at {{.Time}},
    withdrawn_at {{.Time}}
);
CREATE INDEX team_invitations_member_idx ON team_invitations (member_id, created_at);
