//! Stock and listing on SQLite: the site registry's seeding, stock-ins (idempotent by id), the
//! per-day totals and the stock at a day's end, the listing state, and the rows of the open
//! data.

use rusqlite::{Connection, OptionalExtension, params};
use time::{Date, OffsetDateTime};

use super::sales::Stored;
use crate::content_hash::HASH_VERSION;
use crate::open_data::StockRow;
use crate::sites::Site;
use crate::store::{
    DayTotals, Listing, StockOutcome, StockWrite, StoreError, day_text, from_ms, parse_day, to_ms,
};

/// Seeds the sites with their opening stock (listed) unless any is there; `true` if seeded now.
pub(super) fn seed_sites(
    conn: &Connection,
    sites: &[Site],
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM sites", [], |r| r.get(0))?;
    if count > 0 {
        return Ok(false);
    }
    let mut stmt = conn.prepare(
        "INSERT INTO sites (code, adult, child, listed, listing_changed_ms) VALUES (?1, ?2, ?3, 1, ?4)",
    )?;
    for s in sites {
        stmt.execute(params![s.code, s.opening_adult, s.opening_child, to_ms(at)])?;
    }
    Ok(true)
}

fn day_column_add(
    conn: &Connection,
    site: &str,
    day: Date,
    column: &str,
    n: i64,
) -> Result<(), StoreError> {
    // `column` is one of our fixed names, never input.
    let sql = format!(
        "INSERT INTO daily (site, day, {column}) VALUES (?1, ?2, ?3)
         ON CONFLICT (site, day) DO UPDATE SET {column} = {column} + excluded.{column}"
    );
    conn.prepare_cached(&sql)?
        .execute(params![site, day_text(day), n])?;
    Ok(())
}

pub(super) fn record_stock(conn: &Connection, w: &StockWrite) -> Result<StockOutcome, StoreError> {
    let existing = conn
        .prepare_cached(
            "SELECT content_hash, hash_version, site, day FROM stock_ins WHERE id = ?1",
        )?
        .query_row([w.id.to_string()], |r| {
            Ok((Stored::of(r)?, r.get::<_, String>(3)?))
        })
        .optional()?;
    if let Some((stored, day)) = existing {
        return Ok(
            if w.hashes.matches(&stored.hash, stored.version, &stored.site) {
                StockOutcome::Recorded {
                    replayed: true,
                    day: parse_day(&day)?,
                }
            } else {
                StockOutcome::Conflict
            },
        );
    }
    conn.prepare_cached(
        "INSERT INTO stock_ins (id, site, day, received_adult, received_child, damaged_adult,
            damaged_child, recorded_at_ms, content_hash, hash_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        w.id.to_string(),
        w.site,
        day_text(w.day),
        w.received_adult,
        w.received_child,
        w.damaged_adult,
        w.damaged_child,
        to_ms(w.recorded_at),
        w.hashes.keyed,
        HASH_VERSION,
    ])?;
    for (column, n) in [
        ("received_adult", w.received_adult),
        ("received_child", w.received_child),
        ("damaged_adult", w.damaged_adult),
        ("damaged_child", w.damaged_child),
    ] {
        if n > 0 {
            day_column_add(conn, &w.site, w.day, column, i64::from(n))?;
        }
    }
    conn.prepare_cached("UPDATE sites SET adult = adult + ?2, child = child + ?3 WHERE code = ?1")?
        .execute(params![
            w.site,
            i64::from(w.received_adult) - i64::from(w.damaged_adult),
            i64::from(w.received_child) - i64::from(w.damaged_child),
        ])?;
    Ok(StockOutcome::Recorded {
        replayed: false,
        day: w.day,
    })
}

pub(super) fn day_totals(
    conn: &Connection,
    site: &str,
    day: Date,
) -> Result<DayTotals, StoreError> {
    let d = day_text(day);
    let mut t = conn
        .prepare_cached(
            "SELECT received_adult, received_child, sold_adult, sold_child, damaged_adult, damaged_child
             FROM daily WHERE site = ?1 AND day = ?2",
        )?
        .query_row(params![site, d], |r| {
            Ok(DayTotals {
                received_adult: r.get(0)?,
                received_child: r.get(1)?,
                sold_adult: r.get(2)?,
                sold_child: r.get(3)?,
                damaged_adult: r.get(4)?,
                damaged_child: r.get(5)?,
                remaining_adult: 0,
                remaining_child: 0,
            })
        })
        .optional()?
        .unwrap_or_default();
    let (now_adult, now_child): (i64, i64) = conn
        .prepare_cached("SELECT adult, child FROM sites WHERE code = ?1")?
        .query_row([site], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0));
    // Stock at the end of `day` = stock now minus every later day's net change.
    let (later_adult, later_child): (i64, i64) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(received_adult - damaged_adult - sold_adult), 0),
                    COALESCE(SUM(received_child - damaged_child - sold_child), 0)
             FROM daily WHERE site = ?1 AND day > ?2",
        )?
        .query_row(params![site, d], |r| Ok((r.get(0)?, r.get(1)?)))?;
    t.remaining_adult = now_adult - later_adult;
    t.remaining_child = now_child - later_child;
    Ok(t)
}

/// Sets a site's listing state; an unchanged state keeps its time.
pub(super) fn set_listing(
    conn: &Connection,
    site: &str,
    listed: bool,
    at: OffsetDateTime,
) -> Result<Listing, StoreError> {
    let current: Option<(bool, i64)> = conn
        .prepare_cached("SELECT listed, listing_changed_ms FROM sites WHERE code = ?1")?
        .query_row([site], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match current {
        Some((was, changed)) if was == listed => Ok(Listing {
            listed,
            changed_at: from_ms(changed)?,
        }),
        _ => {
            conn.prepare_cached(
                "UPDATE sites SET listed = ?2, listing_changed_ms = ?3 WHERE code = ?1",
            )?
            .execute(params![site, listed, to_ms(at)])?;
            Ok(Listing {
                listed,
                changed_at: at,
            })
        }
    }
}

/// Current stock and listing of every site.
pub(super) fn stock_rows(conn: &Connection) -> Result<Vec<StockRow>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT code, adult, child, listed FROM sites")?;
    let rows = stmt.query_map([], |r| {
        Ok(StockRow {
            code: r.get(0)?,
            adult: r.get(1)?,
            child: r.get(2)?,
            listed: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
