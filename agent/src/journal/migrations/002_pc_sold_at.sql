-- The PC's own clock reading at the sale, kept beside `sold_at_ms` (which is corrected by
-- the offset to the server's clock) for the audit of a wrong PC clock.
ALTER TABLE sales ADD COLUMN pc_sold_at_ms INTEGER;
