-- The zone a member reads times in, chosen on the account page; '' until
-- they choose, and their browser's is used.
ALTER TABLE team_members ADD COLUMN time_zone {{.Text}} NOT NULL DEFAULT '';
