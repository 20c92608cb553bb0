-- Schema 1.
CREATE TABLE sites (
    code TEXT PRIMARY KEY,
    adult BIGINT NOT NULL,
    child BIGINT NOT NULL,
    listed BOOLEAN NOT NULL,
    listing_changed_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
);
CREATE TABLE sales (
    id UUID PRIMARY KEY,
    site TEXT NOT NULL,
    person TEXT NOT NULL,
    id_masked TEXT NOT NULL,
    kind TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    sold_at TIMESTAMPTZ NOT NULL,
    sold_day DATE NOT NULL,
    source TEXT NOT NULL,
    offline BOOLEAN NOT NULL,
    content_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    overrun_reason TEXT,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sales_by_person ON sales (person, sold_at);
CREATE TABLE stock_ins (
    id UUID PRIMARY KEY,
    site TEXT NOT NULL,
    day DATE NOT NULL,
    received_adult BIGINT NOT NULL,
    received_child BIGINT NOT NULL,
    damaged_adult BIGINT NOT NULL,
    damaged_child BIGINT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE TABLE daily (
    site TEXT NOT NULL,
    day DATE NOT NULL,
    received_adult BIGINT NOT NULL DEFAULT 0,
    received_child BIGINT NOT NULL DEFAULT 0,
    sold_adult BIGINT NOT NULL DEFAULT 0,
    sold_child BIGINT NOT NULL DEFAULT 0,
    damaged_adult BIGINT NOT NULL DEFAULT 0,
    damaged_child BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day)
);
