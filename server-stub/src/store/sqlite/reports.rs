//! The agencies' sales report: a range of days' sales grouped in SQL, with the daily stock
//! changes and the stock now, read in one snapshot.

use rusqlite::{Connection, params};
use time::Date;

use super::stock::stock_rows;
use crate::store::{NetDay, ReportRows, SoldSlot, StoreError, day_text, parse_day};

/// The report's sales query: a range of `sold_day`s grouped by day, site and slot (see
/// [`crate::store::slot_of_ms`]), adult and child apart. Overrun sales count: they were handed
/// out.
pub(super) const REPORT_SOLD_SQL: &str =
    "SELECT site, sold_day, (sold_at_ms + 28800000) / 10800000 % 8 AS slot,
            SUM(CASE kind WHEN 'child' THEN 0 ELSE quantity END),
            SUM(CASE kind WHEN 'child' THEN quantity ELSE 0 END)
     FROM sales WHERE sold_day BETWEEN ?1 AND ?2
     GROUP BY sold_day, site, slot";

pub(super) fn report_rows(
    conn: &Connection,
    from: Date,
    to: Date,
) -> Result<ReportRows, StoreError> {
    // One read transaction: the sales, the daily changes and the stock are one snapshot.
    let tx = conn.unchecked_transaction()?;
    let mut sold = Vec::new();
    {
        let mut stmt = tx.prepare_cached(REPORT_SOLD_SQL)?;
        let rows = stmt.query_map(params![day_text(from), day_text(to)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        for row in rows {
            let (site, day, slot, adult, child) = row?;
            sold.push(SoldSlot {
                site,
                day: parse_day(&day)?,
                slot: u8::try_from(slot.rem_euclid(8)).unwrap_or(0),
                adult,
                child,
            });
        }
    }
    let mut net = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT site, day, received_adult - damaged_adult - sold_adult,
                    received_child - damaged_child - sold_child
             FROM daily WHERE day >= ?1",
        )?;
        let rows = stmt.query_map([day_text(from)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        for row in rows {
            let (site, day, adult, child) = row?;
            net.push(NetDay {
                site,
                day: parse_day(&day)?,
                adult,
                child,
            });
        }
    }
    let stock = stock_rows(&tx)?;
    Ok(ReportRows { sold, net, stock })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::slot_of_ms;
    use crate::store::sqlite::{DB_FILE, migrations};

    #[test]
    fn a_days_report_reads_the_covering_day_index_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {REPORT_SOLD_SQL}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(params!["2020-03-12", "2020-03-12"], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join(" | ");
        assert!(
            plan.contains("USING COVERING INDEX sales_by_day (sold_day>? AND sold_day<?)"),
            "{plan}"
        );
    }

    #[test]
    fn the_sql_slot_is_the_taipei_hour_over_three() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        // 2020-03-12 02:59:59.999 and 03:00:00.000 Taipei; 00:00 Taipei is 16:00 UTC the day
        // before, and 23:59:59.999 Taipei is slot 7.
        for ms in [
            1_583_953_199_999_i64,
            1_583_953_200_000,
            1_583_942_400_000,
            1_584_028_799_999,
        ] {
            let sql: i64 = conn
                .query_row("SELECT (?1 + 28800000) / 10800000 % 8", [ms], |r| r.get(0))
                .unwrap();
            assert_eq!(sql, i64::from(slot_of_ms(ms)), "{ms}");
        }
    }
}
