-- The deliveries page lists an endpoint's deliveries newest first, all of
-- them or one state: both walks get an index in that order, so a page deep
-- in a long history seeks instead of sorting.
DROP INDEX webhook_deliveries_endpoint_idx;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, status, id);
CREATE INDEX webhook_deliveries_endpoint_order_idx ON webhook_deliveries (endpoint_id, id);
