-- Schema 6: the agencies' sales report groups a range of days' sales by day, site and 3-hour
-- slot; this index covers that query (an index-only scan), and the day index lets it read the
-- daily stock changes from a day on without scanning every site's history.
CREATE INDEX sales_by_day ON sales (sold_day, site) INCLUDE (sold_at, kind, quantity);
CREATE INDEX daily_by_day ON daily (day);
