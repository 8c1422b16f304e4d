-- Steps done once for the whole database, by name. 'secrets in clear sealed': the
-- HS256 secrets an older collector stored in clear were sealed; from then on a secret
-- in clear is refused, never sealed (collector/sealed_secrets.py).
CREATE TABLE completed_steps (
    step TEXT PRIMARY KEY,
    completed_at BIGINT NOT NULL
);
