-- The client hash is no longer stored: nothing read it, and with the day's salt (kept
-- in Redis, so in its AOF until the daily rewrite) every hash mapped back to its IP
-- address. It lives on only in Redis, as the key of the client's rate limit, which
-- expires. DROP COLUMN alone only hides a column (its values stay in every row on
-- disk), so the values are blanked first; the old row versions stay in the table's
-- files until VACUUM reclaims their space (docs/privacy.md).
UPDATE ratings SET client_hash = '' WHERE client_hash <> '';
ALTER TABLE ratings DROP COLUMN client_hash;
