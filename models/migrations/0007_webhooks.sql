-- Webhooks: the endpoints admins configure, the outbox of events written in
-- the same transaction as the change they report, one delivery per event
-- and endpoint (the state the workers claim), and every attempt made.

CREATE TABLE webhook_endpoints (
    id {{.AutoID}},
    url {{.Text}} NOT NULL,
    -- The subscribed event types, as a JSON array.
    events {{.Text}} NOT NULL DEFAULT '[]',
    -- The signing secret, sealed: it must be used to sign, so it is
    -- encrypted rather than hashed.
    secret_cipher {{.Text}} NOT NULL DEFAULT '',
    secret_key_id {{.Text}} NOT NULL DEFAULT '',
    enabled {{.Bool}} NOT NULL DEFAULT TRUE,
    created_at {{.Time}} NOT NULL,
    updated_at {{.Time}} NOT NULL
);

CREATE TABLE webhook_events (
    id {{.AutoID}},
    -- Sent with every attempt so receivers can de-duplicate.
    event_id {{.Text}} NOT NULL,
    event_type {{.Text}} NOT NULL,
    payload {{.Text}} NOT NULL,
    created_at {{.Time}} NOT NULL
);
CREATE UNIQUE INDEX webhook_events_event_id_key ON webhook_events (event_id);

CREATE TABLE webhook_deliveries (
    id {{.AutoID}},
    event_id {{.BigInt}} NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id {{.BigInt}} NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status {{.Text}} NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {{.Time}} NOT NULL,
    -- Retries stop here (24 hours after the event) and the delivery fails.
    deadline_at {{.Time}} NOT NULL,
    -- A worker's claim: until claimed_until no other worker takes the row,
    -- after it a worker that died mid-delivery has let it go.
    claimed_until {{.Time}},
    claim_token {{.Text}} NOT NULL DEFAULT '',
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error {{.Text}} NOT NULL DEFAULT '',
    created_at {{.Time}} NOT NULL,
    updated_at {{.Time}} NOT NULL,
    delivered_at {{.Time}}
);
-- What the workers poll: due pending rows, oldest due first.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, status);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id {{.AutoID}},
    delivery_id {{.BigInt}} NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id {{.BigInt}} NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    attempted_at {{.Time}} NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    latency_ms INTEGER NOT NULL DEFAULT 0,
    error {{.Text}} NOT NULL DEFAULT ''
);
-- The deliveries page: an endpoint's attempts, newest first, by keyset.
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, id DESC);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id);
