//! Eligibility on SQLite: a person's purchase history (what the rules and the eligibility union
//! read) and the audit of answered eligibility questions.

use rusqlite::{Connection, params};

use super::parse_uuid;
use crate::person_key::PersonKey;
use crate::store::{AskRange, AskRecord, HeldSale, StoreError, codes, from_ms, to_ms};

/// Every recorded sale of `person` (any site).
pub(super) fn history(conn: &Connection, person: &PersonKey) -> Result<Vec<HeldSale>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT sold_at_ms, quantity, id FROM sales WHERE person = ?1")?;
    let rows = stmt.query_map([person.as_bytes()], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (ms, quantity, id) = row?;
        out.push(codes::held_sale(parse_uuid(&id)?, from_ms(ms)?, quantity)?);
    }
    Ok(out)
}

/// Appends answered eligibility questions.
pub(super) fn record_asks(conn: &Connection, asks: &[AskRecord]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO eligibility_asks (asked_ms, site, token_id, person, id_masked)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for a in asks {
        stmt.execute(params![
            to_ms(a.asked_at),
            a.site,
            a.token_id,
            &a.person.as_bytes()[..],
            a.id_masked,
        ])?;
    }
    Ok(())
}

/// A page of the eligibility audit.
pub(super) fn asks(
    conn: &Connection,
    range: &AskRange,
) -> Result<Vec<(i64, AskRecord)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, asked_ms, site, token_id, person, id_masked FROM eligibility_asks
         WHERE (asked_ms, seq) > (?1, ?2) AND asked_ms < ?3
           AND (?4 IS NULL OR site = ?4)
         ORDER BY asked_ms, seq LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![
            range.after.0,
            range.after.1,
            range.before_ms,
            range.site,
            range.limit
        ],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, String>(5)?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, ms, site, token_id, person, id_masked) = row?;
        let person = PersonKey::from_slice(&person)
            .ok_or_else(|| StoreError::Corrupt("person key of an ask".into()))?;
        out.push((
            seq,
            AskRecord {
                asked_at: from_ms(ms)?,
                site,
                token_id,
                person,
                id_masked,
            },
        ));
    }
    Ok(out)
}
