//! `journal export`: one day's sales, IDs masked, for the pharmacy's own books.

use time::Date;

use super::convert::{corrupt, from_ms, iso};
use super::{Journal, Result};

/// One line of `journal export`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExportRow {
    pub sale_id: String,
    /// Local time (Asia/Taipei), RFC 3339.
    pub sold_at: String,
    pub id_masked: String,
    /// adult / child.
    pub kind: String,
    /// Masks.
    pub quantity: u32,
    /// card / manual.
    pub source: String,
    /// Offline decision.
    pub offline: bool,
    /// queued / accepted / overrun / rejected.
    pub sync_state: String,
    /// Overrun rule or rejection reason.
    pub detail: String,
    /// The server would not take this sale: a person has to look at it (`detail` says why).
    pub needs_attention: bool,
}

impl Journal {
    /// The sales of one day (Asia/Taipei) for `journal export`, IDs masked.
    pub fn export_day(&self, day: Date) -> Result<Vec<ExportRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, sold_at_ms, id_masked, kind, quantity, source, offline, sync_state, \
             COALESCE(overrun_reason, reject_reason, '') FROM sales WHERE sold_day = ?1 ORDER BY sold_at_ms, id",
        )?;
        let rows = stmt.query_map([iso(day)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, u32>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, bool>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, String>(8)?,
            ))
        })?;
        rows.map(|row| {
            let (sale_id, at, id_masked, kind, quantity, source, offline, sync_state, detail) =
                row?;
            let local = from_ms(at)?.to_offset(mask_api::TAIPEI);
            Ok(ExportRow {
                sale_id,
                sold_at: local
                    .format(&time::format_description::well_known::Rfc3339)
                    .map_err(|e| corrupt("sold_at", e))?,
                id_masked,
                kind,
                quantity,
                source,
                offline,
                needs_attention: sync_state == "rejected",
                sync_state,
                detail,
            })
        })
        .collect()
    }
}
