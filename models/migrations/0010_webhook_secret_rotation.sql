-- Rotating an endpoint's signing secret: the secret it replaced, sealed
-- with the field key like the current one (but to its own context), keeps
-- signing beside the new one until previous_secret_until, so receivers can
-- switch over without missing an event.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_cipher {{.Text}} NOT NULL DEFAULT '';
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_key_id {{.Text}} NOT NULL DEFAULT '';
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_until {{.Time}};
