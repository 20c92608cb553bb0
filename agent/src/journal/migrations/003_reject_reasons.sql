-- Why the server would not take a stock-in or listing change (sales keep theirs in
-- `sales.reject_reason`): the `rejected` state means "needs attention", and a person
-- needs the reason to act on it.
-- The partial index keeps the attention count (read with every status) off a scan of all
-- sales.
ALTER TABLE stock_ins ADD COLUMN reject_reason TEXT;
ALTER TABLE listing_changes ADD COLUMN reject_reason TEXT;
CREATE INDEX sales_attention ON sales (reject_reason) WHERE sync_state = 'rejected';
