-- Schema 2: 16-byte binary person keys (see `person_key`) and a settings table naming
-- the key scheme. Rows from schema 1 keep the first half of their hex SHA-256 key, and
-- such a database stays on that unkeyed scheme so its histories still match. The person
-- index covers the history query (sold_at, quantity) so eligibility reads no table rows.
CREATE TABLE server_meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
INSERT INTO server_meta (key, value)
    SELECT 'person_key_scheme',
           CASE WHEN EXISTS (SELECT 1 FROM sales) THEN 'sha256-v1' ELSE 'hmac-sha256-v2' END;
CREATE TABLE sales_v2 (
    id TEXT PRIMARY KEY NOT NULL,
    site TEXT NOT NULL,
    person BLOB NOT NULL CHECK (length(person) = 16),
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
INSERT INTO sales_v2 (id, site, person, id_masked, kind, quantity, sold_at_ms,
        sold_day, source, offline, content_hash, status, overrun_reason, recorded_at_ms)
    SELECT id, site, unhex(substr(person, 1, 32)), id_masked, kind, quantity,
        sold_at_ms, sold_day, source, offline, content_hash, status, overrun_reason,
        recorded_at_ms
    FROM sales ORDER BY rowid;
DROP TABLE sales;
ALTER TABLE sales_v2 RENAME TO sales;
CREATE INDEX sales_by_person ON sales (person, sold_at_ms, quantity);
CREATE INDEX sales_overrun ON sales (status) WHERE status = 'overrun';
