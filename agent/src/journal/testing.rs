//! Escape hatches for tests and benchmarks only: built with `cfg(test)` or the crate's
//! `testing` feature (which the crate's own integration tests and benchmarks turn on through
//! their dev-dependency on it), never in the agent the pharmacy runs.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use rusqlite_migration::Migrations;
use uuid::Uuid;

use super::schema::MIGRATIONS;
use super::{Journal, Result, SyncState};

impl Journal {
    /// The journal's schema and code on a private in-memory database: for the launch-day
    /// benchmark, which runs 6,500 pharmacies in one process (their journals live on 6,500
    /// PCs' disks in life; here their files would need ~20,000 file descriptors). Nothing
    /// survives the process.
    pub fn open_in_memory() -> Result<Journal> {
        let mut conn = Connection::open_in_memory()?;
        conn.set_prepared_statement_cache_capacity(super::STATEMENT_CACHE);
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
        Ok(Journal {
            conn,
            path: ":memory:".into(),
        })
    }

    /// [`Journal::open`] with only the first `version` migrations: an older agent's journal,
    /// for tests of what newer code does with one.
    pub fn open_at_version(path: &Path, version: usize) -> Result<Journal> {
        Self::open_to(
            path,
            Migrations::from_slice(&MIGRATIONS[..version.min(MIGRATIONS.len())]),
        )
    }

    /// The SQLite connection itself (e.g. for `PRAGMA max_page_count` or a hand-made row).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Sales per sync state: (queued, accepted, overrun, rejected).
    pub fn sale_states(&self) -> Result<(u64, u64, u64, u64)> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(sync_state = 'queued'), 0), COALESCE(SUM(sync_state = 'accepted'), 0), \
                    COALESCE(SUM(sync_state = 'overrun'), 0), COALESCE(SUM(sync_state = 'rejected'), 0) FROM sales",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )?)
    }

    /// The sync state of one sale.
    pub fn sale_state(&self, id: Uuid) -> Result<Option<SyncState>> {
        Ok(self
            .conn
            .query_row(
                "SELECT sync_state FROM sales WHERE id = ?1",
                [id.to_string()],
                |row| row.get(0),
            )
            .optional()?)
    }
}
