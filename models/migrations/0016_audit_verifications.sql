-- Full verifications of the audit chain, started from the integrity page
-- and run in the background by the process that started them. Kept here,
-- not in that process, so that any process answers the page's progress
-- poll and two clicks on two processes run one verification.
CREATE TABLE audit_verifications (
    id {{.AutoID}},
    state {{.Text}} NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    started_by {{.Text}} NOT NULL,
    total {{.BigInt}} NOT NULL DEFAULT 0,
    checked {{.BigInt}} NOT NULL DEFAULT 0,
    -- The outcome: first_bad_seq 0 is an intact chain.
    head_seq {{.BigInt}} NOT NULL DEFAULT 0,
    first_bad_seq {{.BigInt}} NOT NULL DEFAULT 0,
    problem {{.Text}} NOT NULL DEFAULT '',
    started_at {{.Time}} NOT NULL,
    -- Moved by the running process as it goes: a run whose process
    -- stopped is recognised by its silence and taken over.
    heartbeat_at {{.Time}} NOT NULL,
    finished_at {{.Time}}
);
-- At most one runs at a time, whichever process started it.
CREATE UNIQUE INDEX audit_verifications_running_key ON audit_verifications (state) WHERE state = 'running';
