-- Schema 2: 16-byte binary person keys (see `person_key`) and a settings table naming the
-- key scheme. Rows from schema 1 keep the first half of their hex SHA-256 key, and such a
-- database stays on that unkeyed scheme so its histories still match. The person index
-- carries the quantity, so history reads can be index-only.
CREATE TABLE server_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO server_meta (key, value)
    SELECT 'person_key_scheme',
           CASE WHEN EXISTS (SELECT 1 FROM sales) THEN 'sha256-v1' ELSE 'hmac-sha256-v2' END;
DROP INDEX sales_by_person;
ALTER TABLE sales ALTER COLUMN person TYPE BYTEA USING decode(substr(person, 1, 32), 'hex');
ALTER TABLE sales ADD CONSTRAINT sales_person_is_16_bytes CHECK (octet_length(person) = 16);
CREATE INDEX sales_by_person ON sales (person, sold_at) INCLUDE (quantity);
