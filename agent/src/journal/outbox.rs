//! The outbox as a whole: what still waits for the server, and the records that need a
//! person's attention because the server would not take them (by reason, and as the counter's
//! list).

use rusqlite::params;
use time::OffsetDateTime;
use uuid::Uuid;

use super::convert::{from_ms, ms};
use super::listing::{listing_needs_attention, note_needs_attention};
use super::{Journal, Result, cached_execute, cached_row};

/// A stock-in or listing change that was sent to the server.
#[derive(Clone, Copy, Debug)]
pub(super) enum Sent {
    /// The stock-in of this id.
    StockIn(Uuid),
    /// The listing change of this sequence number.
    Listing(i64),
    /// The public note of this sequence number.
    Note(i64),
}

/// Records of one kind that need attention, for one reason.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AttentionGroup {
    /// `sale`, `stock_in` or `listing`.
    pub kind: &'static str,
    /// The server's problem code (or HTTP status) it gave.
    pub reason: String,
    pub count: u64,
}

impl Journal {
    /// Stock-ins and listing changes not yet acknowledged.
    pub fn queued_other_count(&self) -> Result<u64> {
        Ok(cached_row(
            &self.conn,
            "SELECT (SELECT COUNT(*) FROM stock_ins WHERE sync_state = 'queued') + \
                    (SELECT COUNT(*) FROM listing_changes WHERE sync_state = 'queued') + \
                    (SELECT COUNT(*) FROM public_notes WHERE sync_state = 'queued')",
            [],
            |row| row.get(0),
        )?)
    }

    /// Records that need attention: sales and stock-ins the server would not take, and a
    /// refused listing change not overtaken by a later one the server took.
    pub fn attention_count(&self) -> Result<u64> {
        Ok(self.attention_groups()?.iter().map(|g| g.count).sum())
    }

    /// [`Journal::attention_count`] by kind and reason (no personal data).
    pub fn attention_groups(&self) -> Result<Vec<AttentionGroup>> {
        let mut stmt = self.conn.prepare_cached(
            concat!(
                "SELECT 'sale', COALESCE(reject_reason, 'unknown'), COUNT(*) FROM sales \
                 WHERE sync_state = 'rejected' GROUP BY 2 \
                 UNION ALL \
                 SELECT 'stock_in', COALESCE(reject_reason, 'unknown'), COUNT(*) FROM stock_ins \
                 WHERE sync_state = 'rejected' GROUP BY 2 \
                 UNION ALL \
                 SELECT 'listing', COALESCE(reject_reason, 'unknown'), COUNT(*) FROM listing_changes ",
                listing_needs_attention!(),
                " GROUP BY 2 UNION ALL \
                 SELECT 'note', COALESCE(reject_reason, 'unknown'), COUNT(*) FROM public_notes ",
                note_needs_attention!(),
                " GROUP BY 2 ORDER BY 1, 2"
            ),
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, u64>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (kind, reason, count) = row?;
            let kind = match kind.as_str() {
                "sale" => "sale",
                "stock_in" => "stock_in",
                "note" => "note",
                _ => "listing",
            };
            Ok(AttentionGroup {
                kind,
                reason,
                count,
            })
        })
        .collect()
    }

    /// The records that need attention, newest first, at most `limit`: what the counter's
    /// attention list shows (masked ID only).
    pub fn attention_records(&self, limit: u32) -> Result<Vec<mask_protocol::AttentionRecord>> {
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT 'sale', sold_at_ms, id_masked, quantity, COALESCE(reject_reason, 'unknown') \
             FROM sales WHERE sync_state = 'rejected' \
             UNION ALL \
             SELECT 'stock_in', recorded_at_ms, NULL, received_adult + received_child, \
                    COALESCE(reject_reason, 'unknown') \
             FROM stock_ins WHERE sync_state = 'rejected' \
             UNION ALL \
             SELECT 'listing', changed_at_ms, NULL, NULL, COALESCE(reject_reason, 'unknown') \
             FROM listing_changes ",
            listing_needs_attention!(),
            " UNION ALL \
             SELECT 'note', set_at_ms, NULL, NULL, COALESCE(reject_reason, 'unknown') \
             FROM public_notes ",
            note_needs_attention!(),
            " ORDER BY 2 DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Option<i64>>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (kind, at, id_masked, quantity, reason) = row?;
            Ok(mask_protocol::AttentionRecord {
                kind,
                at: from_ms(at)?,
                id_masked,
                quantity: quantity.and_then(|q| u32::try_from(q).ok()),
                reason,
            })
        })
        .collect()
    }

    /// Marks a queued stock-in or listing change acknowledged (`synced`), or refused by the
    /// server with `refused` (`rejected`: needs attention).
    pub(super) fn mark_sent(
        &mut self,
        sent: Sent,
        refused: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let state = if refused.is_some() {
            "rejected"
        } else {
            "synced"
        };
        match sent {
            Sent::StockIn(id) => cached_execute(
                &self.conn,
                "UPDATE stock_ins SET sync_state = ?2, reject_reason = ?4, synced_at_ms = ?3 \
                 WHERE id = ?1 AND sync_state = 'queued'",
                params![id.to_string(), state, ms(now), refused],
            ),
            Sent::Listing(seq) => cached_execute(
                &self.conn,
                "UPDATE listing_changes SET sync_state = ?2, reject_reason = ?4, synced_at_ms = ?3 \
                 WHERE seq = ?1 AND sync_state = 'queued'",
                params![seq, state, ms(now), refused],
            ),
            Sent::Note(seq) => cached_execute(
                &self.conn,
                "UPDATE public_notes SET sync_state = ?2, reject_reason = ?4, synced_at_ms = ?3 \
                 WHERE seq = ?1 AND sync_state = 'queued'",
                params![seq, state, ms(now), refused],
            ),
        }?;
        Ok(())
    }
}
