CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE services (
    slug TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    default_language TEXT NOT NULL DEFAULT 'en',
    created_at INTEGER NOT NULL
);

-- One row per rating; the id is assigned by the collector, so a rating delivered twice
-- by the stream is stored once.
CREATE TABLE ratings (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL,
    channel TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    client_hash TEXT NOT NULL,
    device_class TEXT NOT NULL,
    os_family TEXT NOT NULL,
    browser_family TEXT NOT NULL,
    is_bot INTEGER NOT NULL,
    stored_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX ratings_by_service_time ON ratings (service, received_at);

-- Kept in the same transaction as the raw insert, so analytics never scan ratings.
CREATE TABLE daily_rollups (
    service TEXT NOT NULL,
    day TEXT NOT NULL,
    device_class TEXT NOT NULL,
    language TEXT NOT NULL,
    channel TEXT NOT NULL,
    is_bot INTEGER NOT NULL,
    ratings INTEGER NOT NULL,
    stars_1 INTEGER NOT NULL,
    stars_2 INTEGER NOT NULL,
    stars_3 INTEGER NOT NULL,
    stars_4 INTEGER NOT NULL,
    stars_5 INTEGER NOT NULL,
    comments INTEGER NOT NULL,
    newest_received_at INTEGER NOT NULL,
    PRIMARY KEY (service, day, device_class, language, channel, is_bot)
) WITHOUT ROWID;
