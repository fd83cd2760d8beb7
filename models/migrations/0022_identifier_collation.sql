-- Identifiers compare byte by byte.
--
-- The unique keys on user_id, client_user_id, user_token_hash and item_id,
-- and the items' institution index, are opaque identifiers: nobody reads
-- them in a language's alphabetical order. Under a database's default
-- locale PostgreSQL compares them through the C library's strcoll and
-- cannot sort on abbreviated keys, which made rebuilding these indexes a
-- quarter of a ten-million-user load. The "C" collation compares bytes:
-- equality is unchanged (every locale here is deterministic), and their
-- order is code point order, as C.UTF-8 already gave. Only the indexes are
-- rebuilt; the table is not rewritten.
{{if .Postgres}}
ALTER TABLE end_users
    ALTER COLUMN user_id TYPE TEXT COLLATE "C",
    ALTER COLUMN client_user_id TYPE TEXT COLLATE "C",
    ALTER COLUMN user_token_hash TYPE CHAR(64) COLLATE "C";
ALTER TABLE items
    ALTER COLUMN item_id TYPE TEXT COLLATE "C",
    ALTER COLUMN institution_id TYPE TEXT COLLATE "C";
{{end}}
