//! Public notes of the pharmacy: listing changes (listed in the open data or not). Only the
//! latest state matters to the open data, so a new change supersedes the unsent ones. A new
//! kind of public note (one that the server publishes, like the listing) belongs here too.

use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::convert::{from_ms, ms, parse_uuid};
use super::outbox::Sent;
use super::{Journal, NewSale, Result, cached_execute, cached_row};

/// A listing change as journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListingChange {
    /// Journal sequence.
    pub seq: i64,
    pub listed: bool,
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

/// A public-note change as journaled (the pharmacy's line on the public stock page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteChange {
    /// Journal sequence.
    pub seq: i64,
    /// UUIDv7, the server's idempotency key.
    pub id: Uuid,
    /// The note; `None` clears it.
    pub note: Option<String>,
    pub set_at: OffsetDateTime,
    /// `queued`, `synced`, `superseded` or `rejected`.
    pub state: String,
}

/// The public notes that still need attention, as `listing_needs_attention!` says for listings.
macro_rules! note_needs_attention {
    () => {
        "WHERE sync_state = 'rejected' AND seq > COALESCE( \
         (SELECT MAX(seq) FROM public_notes WHERE sync_state = 'synced'), 0)"
    };
}

pub(super) use note_needs_attention;

impl Journal {
    /// Records a listing change; older unsent changes are superseded (only the latest state
    /// matters to the open data).
    pub fn record_listing(&mut self, listed: bool, at: OffsetDateTime) -> Result<ListingChange> {
        let tx = self.conn.transaction()?;
        cached_execute(
            &tx,
            "UPDATE listing_changes SET sync_state = 'superseded' WHERE sync_state = 'queued'",
            [],
        )?;
        cached_execute(
            &tx,
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
        cached_row(&self.conn,
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
        Ok(cached_row(
            &self.conn,
            "SELECT sync_state FROM listing_changes WHERE seq = ?1",
            [seq],
            |row| row.get(0),
        )?)
    }

    /// Records a public note (`None` clears it); an older unsent note is superseded, as only
    /// the latest matters to the public page. Checked by [`mask_api::public_note`] first.
    pub fn record_note(
        &mut self,
        id: Uuid,
        note: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<NoteChange> {
        let tx = self.conn.transaction()?;
        cached_execute(
            &tx,
            "UPDATE public_notes SET sync_state = 'superseded' WHERE sync_state = 'queued'",
            [],
        )?;
        cached_execute(
            &tx,
            "INSERT INTO public_notes (id, note, set_at_ms) VALUES (?1, ?2, ?3)",
            params![id.to_string(), note, ms(at)],
        )?;
        let seq = tx.last_insert_rowid();
        tx.commit()?;
        Ok(NoteChange {
            seq,
            id,
            note: note.map(str::to_owned),
            set_at: NewSale::truncate_time(at),
            state: "queued".into(),
        })
    }

    /// The latest public note (None: never set).
    pub fn latest_note(&self) -> Result<Option<NoteChange>> {
        cached_row(
            &self.conn,
            "SELECT seq, id, note, set_at_ms, sync_state FROM public_notes \
                 ORDER BY seq DESC LIMIT 1",
            [],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?
        .map(|(seq, id, note, at, state)| {
            Ok(NoteChange {
                seq,
                id: parse_uuid(&id)?,
                note,
                set_at: from_ms(at)?,
                state,
            })
        })
        .transpose()
    }

    /// The queued public note, if any (only the latest can be queued).
    pub fn queued_note(&self) -> Result<Option<NoteChange>> {
        Ok(self.latest_note()?.filter(|n| n.state == "queued"))
    }

    /// Marks a public note acknowledged, or refused by the server with `reason` (needs
    /// attention until a later note is acknowledged).
    pub fn mark_note(
        &mut self,
        seq: i64,
        refused: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.mark_sent(Sent::Note(seq), refused, now)
    }
}
