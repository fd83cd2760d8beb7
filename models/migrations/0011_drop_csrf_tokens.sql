-- CSRF tokens are now an HMAC of the session (or of a visitor's cookie):
-- nothing to store.
DROP TABLE IF EXISTS csrf_tokens;
