-- A kid is unique within its tenant, not across tenants: with one name space for all,
-- a tenant could find out which kids others use (409 "exists") and take a kid before
-- the tenant that meant to use it. The secrets in clear are sealed right after the
-- migrations (collector/sealed_secrets.py).
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_pkey;
ALTER TABLE signing_keys ADD PRIMARY KEY (tenant_id, kid);
