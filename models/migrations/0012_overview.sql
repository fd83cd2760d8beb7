-- The overview's figures count large tables, so a schedule computes them
-- and keeps the latest result here (one row); the page reads it.
CREATE TABLE overview_snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    figures {{.Text}} NOT NULL,
    computed_at {{.Time}} NOT NULL
);

-- Items in error have no history of their own: each refresh records the
-- day's count, and the last one recorded on a day stands for it.
CREATE TABLE overview_days (
    day {{.Time}} PRIMARY KEY,
    items_in_error {{.BigInt}} NOT NULL,
    recorded_at {{.Time}} NOT NULL
);

-- Items in error by code and institution, for the overview and the users
-- list's error-code filter; few items are in error, so the index is small.
CREATE INDEX items_error_idx ON items (error_code, institution_id, end_user_id) WHERE error_code IS NOT NULL;
