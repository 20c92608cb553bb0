//! Public notes on SQLite (schema 5): `notes` keeps every note by id (replay or conflict),
//! `site_notes` the one each site shows.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::{NoteOutcome, NoteWrite, StoreError, from_ms, to_ms};

/// Records one note (inside the writer's transaction).
pub(super) fn record_note(conn: &Connection, w: &NoteWrite) -> Result<NoteOutcome, StoreError> {
    let id = w.id.to_string();
    let existing = conn
        .prepare_cached("SELECT site, note, set_at_ms, changed_ms FROM notes WHERE id = ?1")?
        .query_row([&id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .optional()?;
    if let Some((site, note, set_at_ms, changed_ms)) = existing {
        if site != w.site || note != w.note || set_at_ms != to_ms(w.set_at) {
            return Ok(NoteOutcome::Conflict);
        }
        let current: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM site_notes WHERE site = ?1 AND note_id = ?2)",
            )?
            .query_row(params![w.site, id], |r| r.get(0))?;
        return Ok(NoteOutcome::Recorded {
            replayed: true,
            changed_at: from_ms(changed_ms)?,
            current,
        });
    }
    let changed_ms = to_ms(w.changed_at);
    conn.prepare_cached(
        "INSERT INTO notes (id, site, note, set_at_ms, changed_ms, recorded_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id,
        w.site,
        w.note,
        to_ms(w.set_at),
        changed_ms,
        to_ms(w.recorded_at)
    ])?;
    // The later note wins, whatever the order of arrival (ties: the larger UUIDv7).
    let written = conn
        .prepare_cached(
            "INSERT INTO site_notes (site, note_id, note, changed_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (site) DO UPDATE SET note_id = excluded.note_id, note = excluded.note,
                 changed_ms = excluded.changed_ms
             WHERE (excluded.changed_ms, excluded.note_id) > (site_notes.changed_ms, site_notes.note_id)",
        )?
        .execute(params![w.site, id, w.note, changed_ms])?;
    Ok(NoteOutcome::Recorded {
        replayed: false,
        changed_at: w.changed_at,
        current: written == 1,
    })
}
