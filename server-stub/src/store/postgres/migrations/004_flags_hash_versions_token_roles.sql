-- Schema 4: audit flags per sale; keyed content hashes (version 2; older rows keep version
-- 1, see `content_hash`); token roles. The person index carries the sale id (it orders a
-- person's sales and deduplicates unsynced ones). The write also stores the re-judged
-- status of a person's later sales when a sale arrives dated before them, under the same
-- locks as the insert.
ALTER TABLE sales ADD COLUMN flags TEXT NOT NULL DEFAULT '';
ALTER TABLE sales ADD COLUMN hash_version SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE stock_ins ADD COLUMN hash_version SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'pharmacy';
DROP INDEX sales_by_person;
CREATE INDEX sales_by_person ON sales (person, sold_at) INCLUDE (quantity, id);
CREATE INDEX sales_audit ON sales (sold_day) WHERE status = 'overrun' OR flags <> '';
DROP FUNCTION mask_record_sales(BIGINT[], BYTEA[], BIGINT[], UUID[], TEXT[], BYTEA[], TEXT[],
    TEXT[], BIGINT[], TIMESTAMPTZ[], DATE[], TEXT[], BOOLEAN[], TEXT[], TEXT[], TEXT[],
    TIMESTAMPTZ[], TEXT[], DATE[], BIGINT[], BIGINT[], TEXT[], BIGINT[], BIGINT[]);
CREATE FUNCTION mask_record_sales(
    p_lock_keys BIGINT[], p_persons BYTEA[], p_seen BIGINT[],
    p_id UUID[], p_site TEXT[], p_person BYTEA[], p_id_masked TEXT[], p_kind TEXT[],
    p_quantity BIGINT[], p_sold_at TIMESTAMPTZ[], p_sold_day DATE[], p_source TEXT[],
    p_offline BOOLEAN[], p_content_hash TEXT[], p_status TEXT[], p_overrun_reason TEXT[],
    p_recorded_at TIMESTAMPTZ[], p_flags TEXT[],
    p_day_site TEXT[], p_day DATE[], p_day_adult BIGINT[], p_day_child BIGINT[],
    p_stock_site TEXT[], p_stock_adult BIGINT[], p_stock_child BIGINT[],
    p_rejudged_id UUID[], p_rejudged_status TEXT[], p_rejudged_reason TEXT[]
) RETURNS BOOLEAN LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM unnest(p_lock_keys) AS k ORDER BY k;
    -- As in schema 3: the histories judged must be the ones held now, else write nothing.
    IF EXISTS (
        SELECT 1 FROM unnest(p_persons, p_seen) AS p (person, seen)
        WHERE (SELECT count(*) FROM sales WHERE sales.person = p.person) <> p.seen
    ) OR EXISTS (
        SELECT 1 FROM unnest(p_id) AS k (id)
        WHERE (SELECT count(*) FROM sales WHERE sales.id = k.id) > 0
    ) THEN
        RETURN FALSE;
    END IF;
    INSERT INTO sales (id, site, person, id_masked, kind, quantity, sold_at, sold_day, source,
        offline, content_hash, status, overrun_reason, recorded_at, flags, hash_version)
    SELECT u.*, 2 FROM unnest(p_id, p_site, p_person, p_id_masked, p_kind, p_quantity,
        p_sold_at, p_sold_day, p_source, p_offline, p_content_hash, p_status,
        p_overrun_reason, p_recorded_at, p_flags) AS u;
    -- Keyed updates, one per re-judged sale (rare: only sales that arrive out of order).
    FOR i IN 1 .. coalesce(array_length(p_rejudged_id, 1), 0) LOOP
        UPDATE sales SET status = p_rejudged_status[i], overrun_reason = p_rejudged_reason[i]
        WHERE id = p_rejudged_id[i];
    END LOOP;
    INSERT INTO daily (site, day, sold_adult, sold_child)
    SELECT * FROM unnest(p_day_site, p_day, p_day_adult, p_day_child)
    ON CONFLICT (site, day) DO UPDATE SET
        sold_adult = daily.sold_adult + excluded.sold_adult,
        sold_child = daily.sold_child + excluded.sold_child;
    FOR i IN 1 .. coalesce(array_length(p_stock_site, 1), 0) LOOP
        UPDATE sites SET adult = adult - p_stock_adult[i], child = child - p_stock_child[i]
        WHERE code = p_stock_site[i];
    END LOOP;
    RETURN TRUE;
END
$fn$;
