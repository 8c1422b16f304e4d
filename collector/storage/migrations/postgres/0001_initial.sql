-- The whole schema as SQLite reached it in its migrations 0001-0004, in one step: no
-- PostgreSQL database existed before. Times are milliseconds since the epoch (BIGINT),
-- days are the tenant's local days (DATE). Identifiers sort bytewise (COLLATE "C"), as
-- SQLite's BINARY does, so lists and cursors come out in the same order on both.

CREATE TABLE tenants (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,  -- seconds
    -- IANA zone of the tenant's local days; a name the collector does not know counts
    -- as UTC (collector/local_days.py computes every day, for both backends).
    time_zone TEXT NOT NULL DEFAULT 'UTC'
);

CREATE TABLE services (
    slug TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    default_language TEXT NOT NULL DEFAULT 'en',
    -- The widget's configuration, as JSON validated by collector.services.ServiceConfig.
    config TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL  -- seconds
);

-- Portal signing keys (collector/signing_keys.py). Revoked keys stay, so a token signed
-- with one is refused as "revoked" rather than "unknown".
CREATE TABLE signing_keys (
    kid TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    algorithm TEXT NOT NULL CHECK (algorithm IN ('HS256', 'EdDSA', 'RS256')),
    material TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- One row per rating, partitioned by the UTC month of received_at: old months can be
-- detached or dropped whole, and a month's rows sit together on disk. Partitions are
-- created by the storage before it writes a month's first rows; the DEFAULT partition
-- takes anything else, so no rating is ever refused for want of a partition.
CREATE TABLE ratings (
    id TEXT COLLATE "C" NOT NULL,
    service TEXT COLLATE "C" NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL,
    channel TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    client_hash TEXT NOT NULL,
    device_class TEXT NOT NULL,
    os_family TEXT NOT NULL,
    browser_family TEXT NOT NULL,
    is_bot BOOLEAN NOT NULL,
    -- Closed questions' answers by question id, kept as the JSON text the flusher wrote.
    answers JSON NOT NULL DEFAULT '{}',
    -- From a verified transaction token: the portal's reference, its attributes, and
    -- the seconds the agency took to answer the case.
    transaction_ref TEXT COLLATE "C",
    office TEXT NOT NULL DEFAULT '',
    operator TEXT NOT NULL DEFAULT '',
    answer_seconds BIGINT,
    stored_at BIGINT NOT NULL
) PARTITION BY RANGE (received_at);

CREATE TABLE ratings_default PARTITION OF ratings DEFAULT;

-- A unique index on a partitioned table must contain the partition key, so it cannot
-- say "one row per id" or "one rating per transaction" across months. The ids live
-- here as well, unpartitioned: the flusher inserts a batch's keys first (ON CONFLICT DO
-- NOTHING) and writes to ratings only the rows whose key was new. Partitioning by the
-- id's own UUIDv7 time instead would not do: received_at comes from another clock read
-- than the id, ids need not be UUIDv7, and transaction references would still need a
-- table like this one.
CREATE TABLE rating_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    service TEXT COLLATE "C" NOT NULL,
    transaction_ref TEXT COLLATE "C",
    received_at BIGINT NOT NULL  -- finds the rating's partition
);

CREATE UNIQUE INDEX rating_keys_one_per_transaction
    ON rating_keys (service, transaction_ref) WHERE transaction_ref IS NOT NULL;

-- Comments lists and exports read raw rows by service and time; lowest ratings first
-- needs the rating in the key. Only rows with a comment are in the second.
CREATE INDEX ratings_by_service_time ON ratings (service, received_at);
-- Comments lowest ratings first, in the key's own order (see SQLite's 0004).
CREATE INDEX ratings_comments ON ratings (service, rating, received_at DESC, id DESC)
    WHERE comment <> '' AND NOT is_bot;

-- Kept in the same transaction as the raw insert, so analytics never scan ratings.
-- Per device class, language, channel and bot flag.
CREATE TABLE daily_rollups (
    service TEXT COLLATE "C" NOT NULL,
    day DATE NOT NULL,
    device_class TEXT COLLATE "C" NOT NULL,
    language TEXT COLLATE "C" NOT NULL,
    channel TEXT COLLATE "C" NOT NULL,
    is_bot BOOLEAN NOT NULL,
    ratings BIGINT NOT NULL,
    stars_1 BIGINT NOT NULL,
    stars_2 BIGINT NOT NULL,
    stars_3 BIGINT NOT NULL,
    stars_4 BIGINT NOT NULL,
    stars_5 BIGINT NOT NULL,
    comments BIGINT NOT NULL,
    newest_received_at BIGINT NOT NULL,
    answered BIGINT NOT NULL DEFAULT 0,
    answer_seconds_sum BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (service, day, device_class, language, channel, is_bot)
);

CREATE TABLE daily_answer_rollups (
    service TEXT COLLATE "C" NOT NULL,
    day DATE NOT NULL,
    question TEXT COLLATE "C" NOT NULL,
    answer TEXT COLLATE "C" NOT NULL,
    ratings BIGINT NOT NULL,
    PRIMARY KEY (service, day, question, answer)
);

-- One row per service and day, humans only (bots counted apart): what summaries, time
-- series and league tables read, so a year of one service is 365 rows.
CREATE TABLE service_days (
    service TEXT COLLATE "C" NOT NULL,
    day DATE NOT NULL,
    ratings BIGINT NOT NULL DEFAULT 0,
    stars_1 BIGINT NOT NULL DEFAULT 0,
    stars_2 BIGINT NOT NULL DEFAULT 0,
    stars_3 BIGINT NOT NULL DEFAULT 0,
    stars_4 BIGINT NOT NULL DEFAULT 0,
    stars_5 BIGINT NOT NULL DEFAULT 0,
    comments BIGINT NOT NULL DEFAULT 0,
    answered BIGINT NOT NULL DEFAULT 0,
    answer_seconds_sum BIGINT NOT NULL DEFAULT 0,
    newest_received_at BIGINT,
    bots BIGINT NOT NULL DEFAULT 0,
    impressions BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (service, day)
);

-- Breakdowns: one row per service, dimension (os, browser, office, operator), day and
-- value; humans only. Device, language and channel come from daily_rollups.
CREATE TABLE dimension_days (
    service TEXT COLLATE "C" NOT NULL,
    dimension TEXT COLLATE "C" NOT NULL,
    day DATE NOT NULL,
    value TEXT COLLATE "C" NOT NULL,
    ratings BIGINT NOT NULL,
    stars_1 BIGINT NOT NULL,
    stars_2 BIGINT NOT NULL,
    stars_3 BIGINT NOT NULL,
    stars_4 BIGINT NOT NULL,
    stars_5 BIGINT NOT NULL,
    answered BIGINT NOT NULL,
    answer_seconds_sum BIGINT NOT NULL,
    PRIMARY KEY (service, dimension, day, value)
);

-- Widget views per service and UTC quarter hour (every real time zone is a whole
-- number of quarter hours from UTC, so local days can always be rebuilt from these).
CREATE TABLE impression_quarters (
    service TEXT COLLATE "C" NOT NULL,
    quarter_start BIGINT NOT NULL,
    impressions BIGINT NOT NULL,
    PRIMARY KEY (service, quarter_start)
);

-- Impression batches already added, so a batch delivered twice counts once.
CREATE TABLE impression_batches (
    id TEXT COLLATE "C" PRIMARY KEY,
    applied_at BIGINT NOT NULL
);
