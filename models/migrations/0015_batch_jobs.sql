-- Batch actions: one admin action over many end users, run in the
-- background. The job is what was asked and how far it got; its targets
-- are the users it covers, fixed when it was asked (the count the admin
-- confirmed), each with its own outcome, so a run that stops resumes
-- where it was and reports every failure at the end.
CREATE TABLE batch_jobs (
    id {{.AutoID}},
    action {{.Text}} NOT NULL CHECK (action IN ('reset_login', 'remove')),
    state {{.Text}} NOT NULL CHECK (state IN ('queued', 'running', 'cancelling', 'done', 'cancelled')),
    -- Who asked, from where: the per-user changes are theirs.
    actor_id {{.Text}} NOT NULL,
    request_id {{.Text}} NOT NULL DEFAULT '',
    ip {{.Text}} NOT NULL DEFAULT '',
    user_agent {{.Text}} NOT NULL DEFAULT '',
    -- The selection as asked, as JSON: the ids ticked, or the filter.
    selection {{.Text}} NOT NULL,
    total {{.BigInt}} NOT NULL DEFAULT 0,
    -- Whether the targets are written: a selection of many users is
    -- written by the runner, not by the request that asked for it.
    prepared {{.Bool}} NOT NULL DEFAULT FALSE,
    -- The last target the runner reached (targets go by user id).
    reached_user_id {{.BigInt}} NOT NULL DEFAULT 0,
    succeeded {{.BigInt}} NOT NULL DEFAULT 0,
    failed {{.BigInt}} NOT NULL DEFAULT 0,
    -- Why a job stopped before its end, when it did.
    note {{.Text}} NOT NULL DEFAULT '',
    created_at {{.Time}} NOT NULL,
    started_at {{.Time}},
    finished_at {{.Time}},
    -- A runner's claim: until lease_until no other runner takes the job;
    -- after it, a runner that died has let it go.
    lease_until {{.Time}},
    lease_token {{.Text}} NOT NULL DEFAULT ''
);
-- What the runners poll: unfinished jobs, oldest first.
CREATE INDEX batch_jobs_open_idx ON batch_jobs (id) WHERE state IN ('queued', 'running', 'cancelling');

-- A job over a million users writes a million targets: end_user_id has no
-- foreign key (end users are never deleted, and the key would be checked
-- for every row written), and the runner walks the primary key from its
-- cursor rather than keeping an index of the pending ones.
CREATE TABLE batch_job_targets (
    batch_job_id {{.BigInt}} NOT NULL REFERENCES batch_jobs (id) ON DELETE CASCADE,
    end_user_id {{.BigInt}} NOT NULL,
    outcome {{.Text}} NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'done', 'failed')),
    message {{.Text}} NOT NULL DEFAULT '',
    PRIMARY KEY (batch_job_id, end_user_id)
);
-- The failures the job page lists.
CREATE INDEX batch_job_targets_failed_idx ON batch_job_targets (batch_job_id, end_user_id) WHERE outcome = 'failed';
