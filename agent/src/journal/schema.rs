//! The journal's schema: one `.sql` file per version under `migrations/`, applied in order by
//! `rusqlite_migration` (which keeps the version in `PRAGMA user_version`). Never edit a
//! shipped file: append the next one (and a test that opens a journal of the old schema).

use rusqlite_migration::M;

/// The migrations, oldest first; the schema version is their count.
pub(super) const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("migrations/001_initial.sql")),
    M::up(include_str!("migrations/002_pc_sold_at.sql")),
    M::up(include_str!("migrations/003_reject_reasons.sql")),
];
