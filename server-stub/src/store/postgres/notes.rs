//! Public notes on PostgreSQL (schema 6): `notes` keeps every note by id (replay or conflict),
//! `site_notes` the one each site shows. `ON CONFLICT` makes both writes safe against another
//! server on the same database without locks of their own.

use deadpool_postgres::Pool;
use time::OffsetDateTime;

use super::super::{NoteOutcome, NoteWrite, StoreError};

/// Records one note in its own transaction.
pub(super) async fn record_note(pool: &Pool, w: &NoteWrite) -> Result<NoteOutcome, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let inserted = tx
        .execute(
            "INSERT INTO notes (id, site, note, set_at, changed_at, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            &[
                &w.id,
                &w.site,
                &w.note,
                &w.set_at,
                &w.changed_at,
                &w.recorded_at,
            ],
        )
        .await?;
    if inserted == 0 {
        let row = tx
            .query_one(
                "SELECT n.site, n.note, n.set_at, n.changed_at,
                        EXISTS (SELECT 1 FROM site_notes c WHERE c.site = n.site AND c.note_id = n.id)
                 FROM notes n WHERE n.id = $1",
                &[&w.id],
            )
            .await?;
        let same = row.get::<_, String>(0) == w.site
            && row.get::<_, Option<String>>(1) == w.note
            && row.get::<_, OffsetDateTime>(2) == w.set_at;
        return Ok(if same {
            NoteOutcome::Recorded {
                replayed: true,
                changed_at: row.get(3),
                current: row.get(4),
            }
        } else {
            NoteOutcome::Conflict
        });
    }
    // The later note wins, whatever the order of arrival (ties: the larger UUIDv7).
    let written = tx
        .execute(
            "INSERT INTO site_notes (site, note_id, note, changed_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (site) DO UPDATE SET note_id = excluded.note_id, note = excluded.note,
                 changed_at = excluded.changed_at
             WHERE (excluded.changed_at, excluded.note_id)
                 > (site_notes.changed_at, site_notes.note_id)",
            &[&w.site, &w.id, &w.note, &w.changed_at],
        )
        .await?;
    tx.commit().await?;
    Ok(NoteOutcome::Recorded {
        replayed: false,
        changed_at: w.changed_at,
        current: written == 1,
    })
}
