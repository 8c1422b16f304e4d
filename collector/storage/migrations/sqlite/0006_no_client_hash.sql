-- The client hash is no longer stored: nothing read it, and with the day's salt (kept
-- in Redis, so in its AOF until the daily rewrite) every hash mapped back to its IP
-- address. It lives on only in Redis, as the key of the client's rate limit, which
-- expires. The writer connection has secure_delete on (collector/storage/sqlite.py),
-- so the dropped values are zeroed in the file rather than left in free space, and the
-- WAL is truncated after a migration (sqlite_migrations.py).
ALTER TABLE ratings DROP COLUMN client_hash;
