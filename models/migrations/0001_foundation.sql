-- Team members (Plaid's DashboardUser), their sessions, sign-in throttling,
-- CSRF tokens, and the hash-chained audit log with its chain head.

CREATE TABLE team_members (
    id CHAR(24) PRIMARY KEY,
    email_address {{.Text}} NOT NULL,
    status {{.Text}} NOT NULL CHECK (status IN ('invited', 'active', 'deactivated')),
    role {{.Text}} NOT NULL CHECK (role IN ('admin', 'compliance', 'auditor')),
    password_hash {{.Text}} NOT NULL DEFAULT '',
    created_at {{.Time}} NOT NULL,
    updated_at {{.Time}} NOT NULL
);
CREATE UNIQUE INDEX team_members_email_key ON team_members (email_address);
CREATE INDEX team_members_created_idx ON team_members (created_at DESC, id DESC);

CREATE TABLE sessions (
    id_hash CHAR(64) PRIMARY KEY,
    member_id CHAR(24) NOT NULL REFERENCES team_members (id) ON DELETE CASCADE,
    ip {{.Text}} NOT NULL DEFAULT '',
    user_agent {{.Text}} NOT NULL DEFAULT '',
    data {{.Text}} NOT NULL DEFAULT '{}',
    created_at {{.Time}} NOT NULL,
    last_seen_at {{.Time}} NOT NULL,
    expires_at {{.Time}} NOT NULL
);
CREATE INDEX sessions_member_idx ON sessions (member_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE login_failures (
    id {{.AutoID}},
    account_key CHAR(64) NOT NULL,
    ip {{.Text}} NOT NULL,
    failed_at {{.Time}} NOT NULL
);
CREATE INDEX login_failures_account_idx ON login_failures (account_key, failed_at);
CREATE INDEX login_failures_ip_idx ON login_failures (ip, failed_at);

CREATE TABLE csrf_tokens (
    token_hash CHAR(64) PRIMARY KEY,
    expires_at {{.Time}} NOT NULL
);
CREATE INDEX csrf_tokens_expires_idx ON csrf_tokens (expires_at);

CREATE TABLE audit_entries (
    seq {{.BigInt}} PRIMARY KEY,
    occurred_at {{.Time}} NOT NULL,
    actor_type {{.Text}} NOT NULL,
    actor_id {{.Text}} NOT NULL DEFAULT '',
    action {{.Text}} NOT NULL,
    target_type {{.Text}} NOT NULL DEFAULT '',
    target_id {{.Text}} NOT NULL DEFAULT '',
    request_id {{.Text}} NOT NULL DEFAULT '',
    ip {{.Text}} NOT NULL DEFAULT '',
    user_agent {{.Text}} NOT NULL DEFAULT '',
    diff {{.Text}} NOT NULL DEFAULT '{}',
    reason {{.Text}} NOT NULL DEFAULT '',
    prev_hash CHAR(64) NOT NULL,
    hash CHAR(64) NOT NULL
);
CREATE INDEX audit_entries_target_idx ON audit_entries (target_type, target_id, seq);
CREATE INDEX audit_entries_actor_idx ON audit_entries (actor_type, actor_id, seq);
CREATE INDEX audit_entries_action_idx ON audit_entries (action, seq);
CREATE INDEX audit_entries_time_idx ON audit_entries (occurred_at);

-- One row: the seq and hash of the newest entry. Writers lock it to append.
CREATE TABLE audit_chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq {{.BigInt}} NOT NULL,
    hash CHAR(64) NOT NULL,
    updated_at {{.Time}} NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash, updated_at)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', CURRENT_TIMESTAMP);

{{if .Postgres}}
-- The log is append-only: the database itself refuses to change history.
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_entries_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_entries_no_truncate
    BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();
{{end}}
{{if .SQLite}}
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: DELETE refused'); END;
{{end}}
