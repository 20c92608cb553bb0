//! Stock-ins: recorded, sent to the server, and marked acknowledged or refused.

use rusqlite::params;
use time::OffsetDateTime;
use uuid::Uuid;

use super::convert::{from_ms, iso, ms, parse_uuid};
use super::outbox::Sent;
use super::{Journal, Result, cached_execute};

/// A stock-in waiting for the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedStockIn {
    /// Idempotency key.
    pub id: Uuid,
    /// Counts.
    pub form: mask_protocol::StockInForm,
    /// When entered.
    pub recorded_at: OffsetDateTime,
}

impl Journal {
    /// Records a stock-in.
    pub fn record_stock_in(&mut self, stock: &QueuedStockIn) -> Result<()> {
        let tx = self.conn.transaction()?;
        cached_execute(
            &tx,
            "INSERT INTO stock_ins (id, received_adult, received_child, damaged_adult, damaged_child, \
             recorded_at_ms, day) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                stock.id.to_string(),
                stock.form.received_adult,
                stock.form.received_child,
                stock.form.damaged_adult,
                stock.form.damaged_child,
                ms(stock.recorded_at),
                iso(mask_api::taipei_date(stock.recorded_at)),
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Stock-ins waiting for the server, oldest first.
    pub fn queued_stock_ins(&self, limit: usize) -> Result<Vec<QueuedStockIn>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, received_adult, received_child, damaged_adult, damaged_child, recorded_at_ms \
             FROM stock_ins WHERE sync_state = 'queued' ORDER BY id LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                mask_protocol::StockInForm {
                    received_adult: row.get(1)?,
                    received_child: row.get(2)?,
                    damaged_adult: row.get(3)?,
                    damaged_child: row.get(4)?,
                },
                row.get::<_, i64>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (id, form, at) = row?;
            Ok(QueuedStockIn {
                id: parse_uuid(&id)?,
                form,
                recorded_at: from_ms(at)?,
            })
        })
        .collect()
    }

    /// Marks a stock-in acknowledged (`synced`), or refused by the server with `reason`
    /// (`rejected`: needs attention, still counted in the inventory).
    pub fn mark_stock_in(
        &mut self,
        id: Uuid,
        refused: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.mark_sent(Sent::StockIn(id), refused, now)
    }
}
