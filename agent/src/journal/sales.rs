//! Sales: the writer (a sale is committed durably before anyone is told it happened), the
//! server's verdicts applied to queued sales, retention, and the reads of a buyer's history
//! and of the sales outbox.

use mask_api::{BuyerKind, Purchase, SaleSource};
use rusqlite::params;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::convert::{
    from_ms, iso, kind_code, ms, parse_iso, parse_kind, parse_source, parse_uuid, source_code,
};
use super::{Journal, JournalError, Result, cached_execute, cached_row};

/// A sale about to be recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSale {
    /// UUIDv7 made at the moment of the sale.
    pub id: Uuid,
    /// Full national ID number (validated).
    pub id_no: String,
    /// Birth date when known.
    pub birth_date: Option<Date>,
    /// Adult or child masks.
    pub kind: BuyerKind,
    /// Masks handed over.
    pub quantity: u32,
    /// When (UTC; stored to the millisecond).
    pub sold_at: OffsetDateTime,
    /// Card or manual.
    pub source: SaleSource,
    /// Decided locally (server unreachable).
    pub offline: bool,
    /// The PC's own clock reading at the sale, when `sold_at` was corrected to the server's
    /// clock (None: no correction known).
    pub pc_sold_at: Option<OffsetDateTime>,
}

impl NewSale {
    /// The instant truncated to what the journal stores, so the receipt, the journal and the
    /// server all carry the very same value.
    pub fn truncate_time(at: OffsetDateTime) -> OffsetDateTime {
        mask_api::to_millisecond(at)
    }
}

/// Server-side state of a journaled sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// Not yet acknowledged.
    Queued,
    /// Accepted.
    Accepted,
    /// Recorded but over quota.
    Overrun,
    /// The server would not take it: needs attention. Stored as `rejected`; it stays in the
    /// journal, counts in every local rule and the inventory, and is not sent again.
    Rejected,
}

/// A server verdict on one sale, applied by [`Journal::apply_sale_results`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleVerdict {
    /// The sale.
    pub id: Uuid,
    /// Accepted, overrun or rejected.
    pub state: SyncState,
    /// Rule broken (overrun) or why rejected.
    pub detail: Option<String>,
    /// When the server recorded it.
    pub server_recorded_at: Option<OffsetDateTime>,
}

impl Journal {
    /// Records a sale and commits it durably (the WAL is fsync'd before this returns).
    pub fn record_sale(&mut self, sale: &NewSale) -> Result<()> {
        self.record_sales(std::slice::from_ref(sale))
    }

    /// Records several sales in one durable commit (imports, tests, benchmarks).
    pub fn record_sales(&mut self, sales: &[NewSale]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO sales (id, id_no, id_masked, birth_date, kind, quantity, sold_at_ms, \
                 sold_day, source, offline, pc_sold_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for sale in sales {
                insert.execute(params![
                    sale.id.to_string(),
                    sale.id_no,
                    nhi_card::mask_id(&sale.id_no),
                    sale.birth_date.map(iso),
                    kind_code(sale.kind),
                    sale.quantity,
                    ms(sale.sold_at),
                    iso(mask_api::taipei_date(sale.sold_at)),
                    source_code(sale.source),
                    sale.offline,
                    sale.pc_sold_at.map(ms),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Earlier purchases of one person at this pharmacy (for the offline decision), newest last.
    /// Sales that need attention count too: the masks were handed over.
    pub fn purchases_of(&self, id_no: &str) -> Result<Vec<Purchase>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sold_at_ms, quantity FROM sales WHERE id_no = ?1 ORDER BY sold_at_ms",
        )?;
        let rows = stmt.query_map([id_no], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, u32>(1)?))
        })?;
        rows.map(|row| {
            let (at, quantity) = row?;
            Ok(Purchase {
                sold_at: from_ms(at)?,
                quantity,
            })
        })
        .collect()
    }

    /// The next `limit` queued sales, oldest first, as the server wants them.
    pub fn queued_sales(&self, limit: usize) -> Result<Vec<mask_api::Sale>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, id_no, birth_date, kind, quantity, sold_at_ms, source, offline \
             FROM sales WHERE sync_state = 'queued' ORDER BY id LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, u32>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, bool>(7)?,
            ))
        })?;
        rows.map(|row| {
            let (id, id_no, birth, kind, quantity, at, source, offline) = row?;
            Ok(mask_api::Sale {
                id: parse_uuid(&id)?,
                id_no: id_no.ok_or(JournalError::Corrupt {
                    what: "sales.id_no",
                    detail: "a queued sale lost its ID number".into(),
                })?,
                birth_date: birth.as_deref().map(parse_iso).transpose()?,
                kind: parse_kind(&kind)?,
                quantity,
                sold_at: from_ms(at)?,
                source: parse_source(&source)?,
                offline,
            })
        })
        .collect()
    }

    /// Applies the server's verdicts in one transaction. Only queued sales change (a verdict
    /// arriving twice changes nothing the second time).
    pub fn apply_sale_results(
        &mut self,
        verdicts: &[SaleVerdict],
        now: OffsetDateTime,
    ) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut changed = 0;
        {
            let mut update = tx.prepare_cached(
                "UPDATE sales SET sync_state = ?2, overrun_reason = ?3, reject_reason = ?4, \
                 server_recorded_at_ms = ?5, synced_at_ms = ?6 WHERE id = ?1 AND sync_state = 'queued'",
            )?;
            let mut flag = tx.prepare_cached(
                "INSERT OR IGNORE INTO sale_flags (sale_id, flag, detail, flagged_at_ms) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for verdict in verdicts {
                let id = verdict.id.to_string();
                let (overrun, reject) = match verdict.state {
                    SyncState::Overrun => (verdict.detail.clone(), None),
                    SyncState::Rejected => (None, verdict.detail.clone()),
                    _ => (None, None),
                };
                let n = update.execute(params![
                    id,
                    verdict.state,
                    overrun,
                    reject,
                    verdict.server_recorded_at.map(ms),
                    ms(now),
                ])?;
                changed += n;
                if n > 0 && matches!(verdict.state, SyncState::Overrun | SyncState::Rejected) {
                    flag.execute(params![id, verdict.state, verdict.detail, ms(now)])?;
                }
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Sales not yet acknowledged.
    pub fn queued_sale_count(&self) -> Result<u64> {
        Ok(cached_row(
            &self.conn,
            "SELECT COUNT(*) FROM sales WHERE sync_state = 'queued'",
            [],
            |row| row.get(0),
        )?)
    }

    /// Sales flagged overrun by the server (all time).
    pub fn overrun_count(&self) -> Result<u64> {
        Ok(cached_row(
            &self.conn,
            "SELECT COUNT(*) FROM sale_flags WHERE flag = 'overrun'",
            [],
            |row| row.get(0),
        )?)
    }

    /// All sales in the journal (for tests and doctor).
    pub fn sale_count(&self) -> Result<u64> {
        Ok(cached_row(
            &self.conn,
            "SELECT COUNT(*) FROM sales",
            [],
            |row| row.get(0),
        )?)
    }

    /// Purges the personal data (ID number, birth date) of sales the server has acknowledged and
    /// that are older than `before`. Masked IDs, quantities and states stay for the books.
    pub fn purge_personal_data(
        &mut self,
        before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let n = cached_execute(
            &tx,
            "UPDATE sales SET id_no = NULL, birth_date = NULL, purged_at_ms = ?2 \
             WHERE id_no IS NOT NULL AND sync_state != 'queued' AND sold_at_ms < ?1",
            params![ms(before), ms(now)],
        )?;
        tx.commit()?;
        Ok(n)
    }
}
