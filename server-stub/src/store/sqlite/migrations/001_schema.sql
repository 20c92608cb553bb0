-- Schema 1.
CREATE TABLE sites (
    code TEXT PRIMARY KEY NOT NULL,
    adult INTEGER NOT NULL,
    child INTEGER NOT NULL,
    listed INTEGER NOT NULL,
    listing_changed_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY NOT NULL,
    site TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER
) STRICT;
CREATE TABLE sales (
    id TEXT PRIMARY KEY NOT NULL,
    site TEXT NOT NULL,
    person TEXT NOT NULL,
    id_masked TEXT NOT NULL,
    kind TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    sold_at_ms INTEGER NOT NULL,
    sold_day TEXT NOT NULL,
    source TEXT NOT NULL,
    offline INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    overrun_reason TEXT,
    recorded_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX sales_by_person ON sales (person, sold_at_ms);
CREATE INDEX sales_overrun ON sales (status) WHERE status = 'overrun';
CREATE TABLE stock_ins (
    id TEXT PRIMARY KEY NOT NULL,
    site TEXT NOT NULL,
    day TEXT NOT NULL,
    received_adult INTEGER NOT NULL,
    received_child INTEGER NOT NULL,
    damaged_adult INTEGER NOT NULL,
    damaged_child INTEGER NOT NULL,
    recorded_at_ms INTEGER NOT NULL,
    content_hash TEXT NOT NULL
) STRICT;
CREATE TABLE daily (
    site TEXT NOT NULL,
    day TEXT NOT NULL,
    received_adult INTEGER NOT NULL DEFAULT 0,
    received_child INTEGER NOT NULL DEFAULT 0,
    sold_adult INTEGER NOT NULL DEFAULT 0,
    sold_child INTEGER NOT NULL DEFAULT 0,
    damaged_adult INTEGER NOT NULL DEFAULT 0,
    damaged_child INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day)
) STRICT;
