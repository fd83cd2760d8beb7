-- How common each trigram of search_key is, so a long search looks up only
-- its rarest stretches in the trigram index.
--
-- The trigram index answers a LIKE by reading the posting list of every
-- trigram of the term. A whole email address has trigrams of its domain
-- ("com", "ail") that nearly every user shares: at ten million users one
-- address read several megabytes of posting lists (120 to 240 ms) to find
-- one row. ANALYZE keeps, for this expression, its most common elements
-- and their frequencies (about 5,500 trigrams at ten million users, each
-- in more than 0.03 % of them): the search picks the rarest stretches of
-- the term from them and checks the whole term on the few rows those
-- find.
--
-- pg_stats_ext_exprs shows a statistics object's figures only to the
-- table's owner, so the owner's function hands the portal's role the
-- trigrams and their shares, and nothing else; GrantApp grants it.
{{if .Postgres}}
CREATE STATISTICS end_users_search_trigrams ON (public.show_trgm(search_key)) FROM end_users;
ALTER STATISTICS end_users_search_trigrams SET STATISTICS 1000;
CREATE FUNCTION search_trigram_shares() RETURNS TABLE (trigram TEXT, share REAL)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT u.trigram, u.share
    FROM pg_catalog.pg_stats_ext_exprs s,
        unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS u(trigram, share)
    WHERE s.statistics_schemaname = current_schema() AND s.statistics_name = 'end_users_search_trigrams'
        AND u.trigram IS NOT NULL
$$;
REVOKE ALL ON FUNCTION search_trigram_shares() FROM PUBLIC;
{{end}}
