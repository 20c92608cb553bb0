//! The agencies' sales report: a range of days' sales grouped in SQL, with the daily stock
//! changes and the stock now, read in one snapshot (a read-only REPEATABLE READ transaction).

use deadpool_postgres::Pool;
use time::Date;

use super::{STOCK_ROWS_SQL, stock_row};
use crate::store::{NetDay, ReportRows, SoldSlot, StoreError};

/// The report's sales query: a range of `sold_day`s grouped by day, site and slot (Asia/Taipei
/// hour / 3, as [`crate::store::slot_of_ms`]), adult and child apart. Overrun sales count: they
/// were handed out.
pub(super) const REPORT_SOLD_SQL: &str = "SELECT site, sold_day,
        (floor((extract(epoch FROM sold_at) + 28800) / 10800)::BIGINT % 8)::INT AS slot,
        SUM(CASE kind WHEN 'child' THEN 0 ELSE quantity END)::BIGINT,
        SUM(CASE kind WHEN 'child' THEN quantity ELSE 0 END)::BIGINT
     FROM sales WHERE sold_day BETWEEN $1 AND $2
     GROUP BY sold_day, site, slot";

pub(super) async fn report_rows(
    pool: &Pool,
    from: Date,
    to: Date,
) -> Result<ReportRows, StoreError> {
    let mut client = pool.get().await?;
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let sold = tx
        .query(REPORT_SOLD_SQL, &[&from, &to])
        .await?
        .iter()
        .map(|r| SoldSlot {
            site: r.get(0),
            day: r.get(1),
            slot: u8::try_from(r.get::<_, i32>(2).rem_euclid(8)).unwrap_or(0),
            adult: r.get(3),
            child: r.get(4),
        })
        .collect();
    let net = tx
        .query(
            "SELECT site, day, received_adult - damaged_adult - sold_adult,
                    received_child - damaged_child - sold_child
             FROM daily WHERE day >= $1",
            &[&from],
        )
        .await?
        .iter()
        .map(|r| NetDay {
            site: r.get(0),
            day: r.get(1),
            adult: r.get(2),
            child: r.get(3),
        })
        .collect();
    let stock = tx
        .query(STOCK_ROWS_SQL, &[])
        .await?
        .iter()
        .map(stock_row)
        .collect();
    tx.commit().await?;
    Ok(ReportRows { sold, net, stock })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::postgres::PostgresStore;
    use crate::store::postgres::tests::fresh_database;
    use crate::store::{from_ms, slot_of_ms};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_days_report_can_read_the_covering_day_index_and_slots_like_rust() {
        let Some(url) = fresh_database().await else {
            return;
        };
        let store = PostgresStore::connect(&url).await.unwrap();
        let client = store.pool.get().await.unwrap();
        // An empty table is cheapest to scan whatever the indexes: with scans priced out, the
        // plan shows whether the day index serves the query at all.
        client
            .batch_execute("SET enable_seqscan = off")
            .await
            .unwrap();
        let day = time::macros::date!(2020 - 03 - 12);
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN {REPORT_SOLD_SQL}"), &[&day, &day])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let plan = plan.join(" | ");
        assert!(plan.contains("using sales_by_day"), "{plan}");
        // The SQL slot agrees with Rust's at the slot edges and at Taipei midnight.
        for ms in [
            1_583_953_199_999_i64,
            1_583_953_200_000,
            1_583_942_400_000,
            1_584_028_799_999,
        ] {
            let at = from_ms(ms).unwrap();
            let slot: i32 = client
                .query_one(
                    "SELECT (floor((extract(epoch FROM $1::TIMESTAMPTZ) + 28800) / 10800)::BIGINT % 8)::INT",
                    &[&at],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(slot, i32::from(slot_of_ms(ms)), "{ms}");
        }
    }
}
