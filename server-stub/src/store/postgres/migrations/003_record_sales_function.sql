-- Schema 3: the write half of a group of sales batches as one call (see `sales`).
CREATE OR REPLACE FUNCTION mask_record_sales(
    p_lock_keys BIGINT[], p_persons BYTEA[], p_seen BIGINT[],
    p_id UUID[], p_site TEXT[], p_person BYTEA[], p_id_masked TEXT[], p_kind TEXT[],
    p_quantity BIGINT[], p_sold_at TIMESTAMPTZ[], p_sold_day DATE[], p_source TEXT[],
    p_offline BOOLEAN[], p_content_hash TEXT[], p_status TEXT[], p_overrun_reason TEXT[],
    p_recorded_at TIMESTAMPTZ[],
    p_day_site TEXT[], p_day DATE[], p_day_adult BIGINT[], p_day_child BIGINT[],
    p_stock_site TEXT[], p_stock_adult BIGINT[], p_stock_child BIGINT[]
) RETURNS BOOLEAN LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM unnest(p_lock_keys) AS k ORDER BY k;
    -- Each statement from here on sees every sale committed before the locks were granted
    -- (READ COMMITTED: a new snapshot per statement of a volatile function). The caller
    -- judged the sales on histories of p_seen purchases, read without locks: if any person
    -- has more now, or any id was recorded meanwhile, write nothing and let it read again.
    -- The scalar subqueries stay per-key index probes whatever the table statistics say.
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
        offline, content_hash, status, overrun_reason, recorded_at)
    SELECT * FROM unnest(p_id, p_site, p_person, p_id_masked, p_kind, p_quantity, p_sold_at,
        p_sold_day, p_source, p_offline, p_content_hash, p_status, p_overrun_reason,
        p_recorded_at);
    INSERT INTO daily (site, day, sold_adult, sold_child)
    SELECT * FROM unnest(p_day_site, p_day, p_day_adult, p_day_child)
    ON CONFLICT (site, day) DO UPDATE SET
        sold_adult = daily.sold_adult + excluded.sold_adult,
        sold_child = daily.sold_child + excluded.sold_child;
    -- One keyed update per site: a join with the array could plan as a scan of every site.
    FOR i IN 1 .. coalesce(array_length(p_stock_site, 1), 0) LOOP
        UPDATE sites SET adult = adult - p_stock_adult[i], child = child - p_stock_child[i]
        WHERE code = p_stock_site[i];
    END LOOP;
    RETURN TRUE;
END
$fn$;
