-- A kid is unique within its tenant, not across tenants: with one name space for all,
-- a tenant could find out which kids others use (409 "exists") and take a kid before
-- the tenant that meant to use it. SQLite cannot change a primary key in place, so
-- the table is built again. The secrets in clear are sealed right after the
-- migrations (collector/sealed_secrets.py); secure_delete zeroes the old table's pages.
CREATE TABLE signing_keys_per_tenant (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    kid TEXT NOT NULL,
    algorithm TEXT NOT NULL CHECK (algorithm IN ('HS256', 'EdDSA', 'RS256')),
    -- HS256: the secret, sealed; EdDSA and RS256: the public key as PEM.
    material TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (tenant_id, kid)
);

INSERT INTO signing_keys_per_tenant (tenant_id, kid, algorithm, material, created_at, revoked_at)
    SELECT tenant_id, kid, algorithm, material, created_at, revoked_at FROM signing_keys;

DROP TABLE signing_keys;

ALTER TABLE signing_keys_per_tenant RENAME TO signing_keys;
