CREATE TABLE sales (
    id               TEXT PRIMARY KEY NOT NULL,        -- UUIDv7, the idempotency key
    id_no            TEXT,                             -- NULL once purged (retention)
    id_masked        TEXT NOT NULL,
    birth_date       TEXT,                             -- YYYY-MM-DD, NULL when unknown or purged
    kind             TEXT NOT NULL CHECK (kind IN ('adult', 'child')),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    sold_at_ms       INTEGER NOT NULL,                 -- UTC, unix milliseconds
    sold_day         TEXT NOT NULL,                    -- Asia/Taipei date, YYYY-MM-DD
    source           TEXT NOT NULL CHECK (source IN ('card', 'manual')),
    offline          INTEGER NOT NULL CHECK (offline IN (0, 1)),
    sync_state       TEXT NOT NULL DEFAULT 'queued'
                     CHECK (sync_state IN ('queued', 'accepted', 'overrun', 'rejected')),
    overrun_reason   TEXT,
    reject_reason    TEXT,
    server_recorded_at_ms INTEGER,
    synced_at_ms     INTEGER,
    purged_at_ms     INTEGER
) STRICT;
CREATE INDEX sales_outbox ON sales (id) WHERE sync_state = 'queued';
CREATE INDEX sales_by_person ON sales (id_no, sold_at_ms) WHERE id_no IS NOT NULL;
CREATE INDEX sales_by_day ON sales (sold_day);

CREATE TABLE stock_ins (
    id               TEXT PRIMARY KEY NOT NULL,        -- UUIDv7, idempotency key at the server
    received_adult   INTEGER NOT NULL CHECK (received_adult >= 0),
    received_child   INTEGER NOT NULL CHECK (received_child >= 0),
    damaged_adult    INTEGER NOT NULL CHECK (damaged_adult >= 0),
    damaged_child    INTEGER NOT NULL CHECK (damaged_child >= 0),
    recorded_at_ms   INTEGER NOT NULL,
    day              TEXT NOT NULL,
    sync_state       TEXT NOT NULL DEFAULT 'queued'
                     CHECK (sync_state IN ('queued', 'synced', 'rejected')),
    synced_at_ms     INTEGER
) STRICT;
CREATE INDEX stock_ins_by_day ON stock_ins (day);

CREATE TABLE listing_changes (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    listed           INTEGER NOT NULL CHECK (listed IN (0, 1)),
    changed_at_ms    INTEGER NOT NULL,
    sync_state       TEXT NOT NULL DEFAULT 'queued'
                     CHECK (sync_state IN ('queued', 'synced', 'superseded', 'rejected')),
    synced_at_ms     INTEGER
) STRICT;

CREATE TABLE policy_cache (
    singleton        INTEGER PRIMARY KEY CHECK (singleton = 1),
    policy_json      TEXT NOT NULL,
    fetched_at_ms    INTEGER NOT NULL
) STRICT;

CREATE TABLE meta (
    key              TEXT PRIMARY KEY NOT NULL,
    value            TEXT NOT NULL
) STRICT;

-- Sync outcomes that need a human (overrun, rejected), kept even after personal data is purged.
CREATE TABLE sale_flags (
    sale_id          TEXT PRIMARY KEY NOT NULL REFERENCES sales (id),
    flag             TEXT NOT NULL CHECK (flag IN ('overrun', 'rejected')),
    detail           TEXT,
    flagged_at_ms    INTEGER NOT NULL
) STRICT;
