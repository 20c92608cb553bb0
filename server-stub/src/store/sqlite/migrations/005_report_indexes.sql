-- Schema 5: the agencies' sales report groups a range of days' sales by day, site and 3-hour
-- slot; this index covers that query (no table reads), and the day index lets it read the daily
-- stock changes from a day on without scanning every site's history.
CREATE INDEX sales_by_day ON sales (sold_day, site, sold_at_ms, kind, quantity);
CREATE INDEX daily_by_day ON daily (day);
