//! Public notes of the pharmacy: listing changes (listed in the open data or not). Only the
//! latest state matters to the open data, so a new change supersedes the unsent ones. A new
//! kind of public note (one that the server publishes, like the listing) belongs here too.

use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::convert::{from_ms, ms};
use super::outbox::Sent;
use super::{Journal, NewSale, Result};

/// A listing change as journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListingChange {
    /// Journal sequence.
    pub seq: i64,
    /// Listed or not.
    pub listed: bool,
    /// When.
    pub changed_at: OffsetDateTime,
    /// Acknowledged by the server.
    pub synced: bool,
}

/// The listing changes that still need attention: refused, and not overtaken by a later change
/// the server took (the count and the counter's list must agree on this).
macro_rules! listing_needs_attention {
    () => {
        "WHERE sync_state = 'rejected' AND seq > COALESCE( \
         (SELECT MAX(seq) FROM listing_changes WHERE sync_state = 'synced'), 0)"
    };
}

pub(super) use listing_needs_attention;

impl Journal {
    /// Records a listing change; older unsent changes are superseded (only the latest state
    /// matters to the open data).
    pub fn record_listing(&mut self, listed: bool, at: OffsetDateTime) -> Result<ListingChange> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE listing_changes SET sync_state = 'superseded' WHERE sync_state = 'queued'",
            [],
        )?;
        tx.execute(
            "INSERT INTO listing_changes (listed, changed_at_ms) VALUES (?1, ?2)",
            params![listed, ms(at)],
        )?;
        let seq = tx.last_insert_rowid();
        tx.commit()?;
        Ok(ListingChange {
            seq,
            listed,
            changed_at: NewSale::truncate_time(at),
            synced: false,
        })
    }

    /// The latest listing change (None: never changed, listed by default).
    pub fn latest_listing(&self) -> Result<Option<ListingChange>> {
        self.conn
            .query_row(
                "SELECT seq, listed, changed_at_ms, sync_state FROM listing_changes ORDER BY seq DESC LIMIT 1",
                [],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, bool>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?
            .map(|(seq, listed, at, state)| {
                Ok(ListingChange { seq, listed, changed_at: from_ms(at)?, synced: state == "synced" })
            })
            .transpose()
    }

    /// Marks a listing change acknowledged, or refused by the server with `reason` (needs
    /// attention).
    pub fn mark_listing(
        &mut self,
        seq: i64,
        refused: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.mark_sent(Sent::Listing(seq), refused, now)
    }

    /// The queued listing change, if any.
    pub fn queued_listing(&self) -> Result<Option<ListingChange>> {
        Ok(self.latest_listing()?.filter(|change| {
            !change.synced
                && self
                    .listing_state_of(change.seq)
                    .is_ok_and(|s| s == "queued")
        }))
    }

    fn listing_state_of(&self, seq: i64) -> Result<String> {
        Ok(self.conn.query_row(
            "SELECT sync_state FROM listing_changes WHERE seq = ?1",
            [seq],
            |row| row.get(0),
        )?)
    }
}
