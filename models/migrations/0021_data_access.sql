-- The personal-data access log: which end users each access entry
-- (pii.view, pii.search, user.export, user.pii_reveal) is about, so that
-- "who looked at this person's data" is an index range read. The entries
-- themselves are in the chain; these rows only index them, and like the
-- entries they are never changed or removed.
CREATE TABLE pii_access (
    end_user_id {{.BigInt}} NOT NULL,
    seq {{.BigInt}} NOT NULL,
    PRIMARY KEY (end_user_id, seq)
);
{{if .Postgres}}
CREATE OR REPLACE FUNCTION pii_access_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pii_access is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER pii_access_no_update_delete
    BEFORE UPDATE OR DELETE ON pii_access
    FOR EACH ROW EXECUTE FUNCTION pii_access_append_only();
CREATE TRIGGER pii_access_no_truncate
    BEFORE TRUNCATE ON pii_access
    FOR EACH STATEMENT EXECUTE FUNCTION pii_access_append_only();
{{end}}
{{if .SQLite}}
CREATE TRIGGER pii_access_no_update BEFORE UPDATE ON pii_access
BEGIN SELECT RAISE(ABORT, 'pii_access is append-only: UPDATE refused'); END;
CREATE TRIGGER pii_access_no_delete BEFORE DELETE ON pii_access
BEGIN SELECT RAISE(ABORT, 'pii_access is append-only: DELETE refused'); END;
{{end}}
