-- Portal signing keys (collector/signing_keys.py): a tenant's HS256 secrets and
-- EdDSA/RS256 public keys by kid. Revoked keys stay, so a token signed with one is
-- refused as "revoked" rather than "unknown".
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    algorithm TEXT NOT NULL CHECK (algorithm IN ('HS256', 'EdDSA', 'RS256')),
    material TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- From a verified transaction token: the portal's reference, its attributes, and the
-- seconds the agency took to answer the case.
ALTER TABLE ratings ADD COLUMN transaction_ref TEXT;
ALTER TABLE ratings ADD COLUMN office TEXT NOT NULL DEFAULT '';
ALTER TABLE ratings ADD COLUMN operator TEXT NOT NULL DEFAULT '';
ALTER TABLE ratings ADD COLUMN answer_seconds INTEGER;

-- One rating per transaction, whatever reaches the stream.
CREATE UNIQUE INDEX ratings_one_per_transaction
    ON ratings (service, transaction_ref) WHERE transaction_ref IS NOT NULL;

ALTER TABLE daily_rollups ADD COLUMN answered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_rollups ADD COLUMN answer_seconds_sum INTEGER NOT NULL DEFAULT 0;
