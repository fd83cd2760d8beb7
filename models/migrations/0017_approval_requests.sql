-- Four-eyes approvals: while the setting is on, some portal actions are
-- written as requests that a second admin approves (which runs the
-- action) or denies. A request keeps what its target looked like when it
-- was made, so that an approval of a target changed since is refused.
CREATE TABLE approval_requests (
    id {{.AutoID}},
    action {{.Text}} NOT NULL CHECK (action IN ('user.remove', 'user.token_rotate', 'team.make_admin',
        'team.mfa_reset', 'api_key.create', 'webhook.delete')),
    state {{.Text}} NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'failed', 'expired')),
    target_type {{.Text}} NOT NULL,
    -- Empty for a key to create; the key's id once approved.
    target_id {{.Text}} NOT NULL DEFAULT '',
    -- What the page names the target by, as it was when asked.
    target_label {{.Text}} NOT NULL DEFAULT '',
    -- What the action takes (a key's name and scope), as JSON.
    params {{.Text}} NOT NULL DEFAULT '{}',
    -- The target as the requester saw it, as JSON: compared at approval.
    seen {{.Text}} NOT NULL DEFAULT '{}',
    reason {{.Text}} NOT NULL,
    requested_by {{.Text}} NOT NULL,
    requested_at {{.Time}} NOT NULL,
    expires_at {{.Time}} NOT NULL,
    decided_by {{.Text}} NOT NULL DEFAULT '',
    decided_at {{.Time}},
    -- The approver's or denier's comment, or why an approval failed.
    comment {{.Text}} NOT NULL DEFAULT ''
);
-- One open request per action and existing target: a second would only
-- race the first. An expired one is closed before a new one is written.
CREATE UNIQUE INDEX approval_requests_open_key ON approval_requests (action, target_type, target_id)
    WHERE state = 'pending' AND target_id <> '';
-- The pending page and the navigation's count: open requests, newest first.
CREATE INDEX approval_requests_pending_idx ON approval_requests (requested_at, id) WHERE state = 'pending';
-- A target's page shows the requests about it.
CREATE INDEX approval_requests_target_idx ON approval_requests (target_type, target_id, id);
