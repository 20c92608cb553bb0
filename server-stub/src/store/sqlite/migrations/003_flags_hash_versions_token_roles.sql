-- Schema 3: audit flags per sale; keyed content hashes (version 2; older rows keep
-- version 1, see `content_hash`); token roles (pharmacy or audit). The person index
-- carries the sale id, which orders a person's sales and deduplicates unsynced ones.
ALTER TABLE sales ADD COLUMN flags TEXT NOT NULL DEFAULT '';
ALTER TABLE sales ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE stock_ins ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'pharmacy';
DROP INDEX sales_by_person;
CREATE INDEX sales_by_person ON sales (person, sold_at_ms, quantity, id);
CREATE INDEX sales_audit ON sales (sold_day) WHERE status = 'overrun' OR flags <> '';
