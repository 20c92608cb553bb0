//! Journal queries of the decision side: a buyer's whole local history (whatever its sync
//! state), the sales the server may not hold, the offline allocation used today, the opening
//! stock from the server (kept in `meta`).

use mask_api::{BuyerKind, UnsyncedPurchase};
use rusqlite::{OptionalExtension, params};
use time::{Date, OffsetDateTime};

use super::convert::{corrupt, from_ms, iso, kind_code, ms};
use super::{Journal, Result, cached_row};

const OPENING_PREFIX: &str = "opening:";

/// The opening stock the server holds for one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opening {
    /// The day it opens.
    pub day: Date,
    /// Adult masks on hand at the start of `day`.
    pub adult: i64,
    /// Child masks on hand at the start of `day`.
    pub child: i64,
}

/// Local movements of one kind over a span of days.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Movements {
    pub received: i64,
    pub damaged: i64,
    pub sold: i64,
    /// Sales (records, one per buyer served).
    pub sales: i64,
    /// Stock-in records (each states both kinds, so any one makes the stock known).
    pub stock_ins: i64,
}

impl Journal {
    /// This person's sales the server has not acknowledged (queued or needing attention).
    pub fn unsynced_of(&self, id_no: &str) -> Result<Vec<UnsyncedPurchase>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, sold_at_ms, quantity FROM sales WHERE id_no = ?1 \
             AND sync_state NOT IN ('accepted', 'overrun') ORDER BY sold_at_ms",
        )?;
        let rows = stmt.query_map([id_no], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, u32>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (id, at, quantity) = row?;
            Ok(UnsyncedPurchase {
                id: uuid::Uuid::parse_str(&id).map_err(|e| corrupt("id", e))?,
                sold_at: from_ms(at)?,
                quantity,
            })
        })
        .collect()
    }

    /// Whether this person has a sale recorded at or after `since` (a decision made before it
    /// is stale).
    pub fn has_sale_since(&self, id_no: &str, since: OffsetDateTime) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM sales WHERE id_no = ?1 AND sold_at_ms >= ?2 LIMIT 1")?
            .exists(params![id_no, ms(since)])?)
    }

    /// Masks of `kind` sold on local decisions on `day`.
    pub fn sold_offline_on(&self, day: Date, kind: BuyerKind) -> Result<u32> {
        let sold: i64 = cached_row(
            &self.conn,
            "SELECT COALESCE(SUM(quantity), 0) FROM sales WHERE sold_day = ?1 AND kind = ?2 \
             AND offline = 1",
            params![iso(day), kind_code(kind)],
            |row| row.get(0),
        )?;
        Ok(u32::try_from(sold.max(0)).unwrap_or(u32::MAX))
    }

    /// Keeps the server's opening stock of `opening.day`.
    pub fn store_opening(&mut self, opening: Opening) -> Result<()> {
        self.set_meta(
            &format!("{OPENING_PREFIX}{}", iso(opening.day)),
            &format!("{} {}", opening.adult, opening.child),
        )
    }

    /// The latest opening stock known for a day on or before `day`.
    pub fn opening_on_or_before(&self, day: Date) -> Result<Option<Opening>> {
        let found: Option<(String, String)> = cached_row(
            &self.conn,
            "SELECT key, value FROM meta WHERE key LIKE 'opening:%' AND key <= ?1 \
                 ORDER BY key DESC LIMIT 1",
            [format!("{OPENING_PREFIX}{}", iso(day))],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
        let Some((key, value)) = found else {
            return Ok(None);
        };
        let day = Date::parse(
            &key[OPENING_PREFIX.len()..],
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|e| corrupt("meta opening", e))?;
        let mut parts = value.split(' ').map(str::parse::<i64>);
        match (parts.next(), parts.next()) {
            (Some(Ok(adult)), Some(Ok(child))) => Ok(Some(Opening { day, adult, child })),
            _ => Err(corrupt("meta opening", value)),
        }
    }

    /// Local received, damaged and sold of `kind` from `from` to `to` (inclusive; `None`: from
    /// the first record), every record whatever its sync state.
    pub fn movements(&self, kind: BuyerKind, from: Option<Date>, to: Date) -> Result<Movements> {
        let (received_col, damaged_col) = match kind {
            BuyerKind::Adult => ("received_adult", "damaged_adult"),
            BuyerKind::Child => ("received_child", "damaged_child"),
        };
        let from = from.map_or_else(|| "0000-00-00".to_owned(), iso);
        let to = iso(to);
        let (received, damaged, stock_ins): (i64, i64, i64) = cached_row(
            &self.conn,
            &format!(
                "SELECT COALESCE(SUM({received_col}), 0), COALESCE(SUM({damaged_col}), 0), \
                 COUNT(*) FROM stock_ins WHERE day >= ?1 AND day <= ?2"
            ),
            params![from, to],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        let (sold, sales): (i64, i64) = cached_row(
            &self.conn,
            "SELECT COALESCE(SUM(quantity), 0), COUNT(*) FROM sales \
             WHERE sold_day >= ?1 AND sold_day <= ?2 AND kind = ?3",
            params![from, to, kind_code(kind)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok(Movements {
            received,
            damaged,
            sold,
            sales,
            stock_ins,
        })
    }
}
