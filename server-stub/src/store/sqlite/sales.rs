//! Sales on SQLite: a batch is judged and written inside the writer's transaction (each new
//! sale against the person's whole history, later sales re-judged when one arrives dated
//! before them), replays answer as first recorded, and the day totals and the stock change
//! once per batch. Also the sales audit (overrun or flagged sales).

use mask_api::{AuditSale, SaleResult};
use rusqlite::{Connection, OptionalExtension, params};
use time::Date;

use super::parse_uuid;
use crate::content_hash::HASH_VERSION;
use crate::store::{
    PreparedSale, SalesOutcome, SalesWrite, SoldTotals, StoreError, codes, conflict_result,
    day_text, from_ms, judge_in_order, to_ms,
};

fn record_sale(
    conn: &Connection,
    write: &SalesWrite,
    sale: &PreparedSale,
) -> Result<SaleResult, StoreError> {
    let held = super::histories::history(conn, &sale.person)?;
    let ((status, reason), later) = judge_in_order(&write.policies, sale, &held);
    let day = mask_api::taipei_date(sale.sold_at);
    conn.prepare_cached(
        "INSERT INTO sales (id, site, person, id_masked, kind, quantity, sold_at_ms, sold_day,
            source, offline, content_hash, status, overrun_reason, recorded_at_ms, flags,
            hash_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        sale.id.to_string(),
        write.site,
        sale.person.as_bytes(),
        sale.id_masked,
        codes::kind(sale.kind),
        i64::from(sale.quantity),
        to_ms(sale.sold_at),
        day_text(day),
        codes::source(sale.source),
        sale.offline,
        sale.hashes.keyed,
        codes::status(status),
        reason.map(|r| r.as_str()),
        to_ms(write.now),
        codes::flags(&sale.flags),
        HASH_VERSION,
    ])?;
    // A sale dated before others of this person: their windows are judged again.
    for (id, (status, reason)) in later {
        conn.prepare_cached("UPDATE sales SET status = ?2, overrun_reason = ?3 WHERE id = ?1")?
            .execute(params![
                id.to_string(),
                codes::status(status),
                reason.map(|r| r.as_str())
            ])?;
    }
    Ok(SaleResult {
        id: sale.id,
        status,
        overrun_reason: reason,
        recorded_at: write.now,
        replayed: false,
        flags: sale.flags.clone(),
        problem: None,
    })
}

/// An earlier record of an id: what its content is compared by.
pub(super) struct Stored {
    pub(super) hash: String,
    pub(super) version: i16,
    pub(super) site: String,
}

impl Stored {
    /// From the first three columns: `content_hash, hash_version, site`.
    pub(super) fn of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
        Ok(Stored {
            hash: r.get(0)?,
            version: r.get(1)?,
            site: r.get(2)?,
        })
    }
}

/// An earlier record of a sale id: what it is compared by, and its result.
fn existing_sale(conn: &Connection, id: &str) -> Result<Option<(Stored, SaleResult)>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT content_hash, hash_version, site, status, overrun_reason, recorded_at_ms, flags
             FROM sales WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                Stored::of(r)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
            ))
        })
        .optional()?;
    let Some((stored, status, reason, recorded_ms, flags)) = row else {
        return Ok(None);
    };
    let result = codes::replayed_result(
        parse_uuid(id)?,
        &status,
        reason,
        from_ms(recorded_ms)?,
        &flags,
    )?;
    Ok(Some((stored, result)))
}

pub(super) fn record_sales(
    conn: &Connection,
    write: &SalesWrite,
) -> Result<SalesOutcome, StoreError> {
    let mut results = Vec::with_capacity(write.sales.len());
    let mut sold = SoldTotals::default();
    for sale in &write.sales {
        match existing_sale(conn, &sale.id.to_string())? {
            Some((stored, result))
                if sale
                    .hashes
                    .matches(&stored.hash, stored.version, &stored.site) =>
            {
                results.push(result);
            }
            Some(_) => results.push(conflict_result(sale, write.now)),
            None => {
                results.push(record_sale(conn, write, sale)?);
                sold.add(sale);
            }
        }
    }
    // The day totals and the stock change once per batch, not once per sale.
    for (day, (adult, child)) in &sold.by_day {
        conn.prepare_cached(
            "INSERT INTO daily (site, day, sold_adult, sold_child) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (site, day) DO UPDATE SET
                sold_adult = sold_adult + excluded.sold_adult,
                sold_child = sold_child + excluded.sold_child",
        )?
        .execute(params![write.site, day_text(*day), adult, child])?;
    }
    if !sold.by_day.is_empty() {
        let (adult, child) = sold.total();
        conn.prepare_cached(
            "UPDATE sites SET adult = adult - ?2, child = child - ?3 WHERE code = ?1",
        )?
        .execute(params![write.site, adult, child])?;
    }
    Ok(SalesOutcome(results))
}

/// Every sale sold on `from..=to` that is overrun or has a flag, in (sold_at, id) order.
pub(super) fn audit(conn: &Connection, from: Date, to: Date) -> Result<Vec<AuditSale>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, sold_at_ms, recorded_at_ms, site, id_masked, kind, quantity, status,
                overrun_reason, flags, offline
         FROM sales
         WHERE sold_day BETWEEN ?1 AND ?2 AND (status = 'overrun' OR flags <> '')
         ORDER BY sold_at_ms, id",
    )?;
    let mut rows = stmt.query(params![day_text(from), day_text(to)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let row = codes::AuditRow {
            id: parse_uuid(&r.get::<_, String>(0)?)?,
            sold_at: from_ms(r.get(1)?)?,
            recorded_at: from_ms(r.get(2)?)?,
            site: r.get(3)?,
            id_masked: r.get(4)?,
            kind: r.get(5)?,
            quantity: r.get(6)?,
            status: r.get(7)?,
            overrun_reason: r.get(8)?,
            flags: r.get(9)?,
            offline: r.get(10)?,
        };
        out.push(row.parse()?);
    }
    Ok(out)
}
