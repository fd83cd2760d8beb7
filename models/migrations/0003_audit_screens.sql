-- The audit screens: an index for each filter of /audit, each ending in seq
-- so a filtered page is an index range read newest first, and the signed
-- checkpoints of the chain head.

-- Action groups (auth, team, user, item, api) are the part before the dot.
{{if .Postgres}}
CREATE INDEX audit_entries_action_group_idx ON audit_entries ((split_part(action, '.', 1)), seq);
{{end}}
{{if .SQLite}}
CREATE INDEX audit_entries_action_group_idx ON audit_entries ((substr(action, 1, instr(action || '.', '.') - 1)), seq);
{{end}}
-- An actor given by id alone (any actor type).
CREATE INDEX audit_entries_actor_id_idx ON audit_entries (actor_id, seq);
-- A target type without an id ("every end user entry").
CREATE INDEX audit_entries_target_type_idx ON audit_entries (target_type, seq);
CREATE INDEX audit_entries_request_idx ON audit_entries (request_id, seq);
CREATE INDEX audit_entries_ip_idx ON audit_entries (ip, seq);

-- A checkpoint is the chain head (seq, hash) at signed_at, signed with the
-- portal's Ed25519 key. Kept outside the chain, and meant to be copied
-- elsewhere: a signed checkpoint proves what the chain held up to seq even
-- if the whole chain is rewritten later.
CREATE TABLE audit_checkpoints (
    id {{.AutoID}},
    seq {{.BigInt}} NOT NULL,
    hash CHAR(64) NOT NULL,
    signed_at {{.Time}} NOT NULL,
    public_key {{.Text}} NOT NULL,
    signature {{.Text}} NOT NULL
);
CREATE INDEX audit_checkpoints_seq_idx ON audit_checkpoints (seq);
