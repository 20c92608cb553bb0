//! The journal: every sale, stock-in and listing change, written (and fsync'd) before anyone is
//! told it happened. It is also the outbox: rows stay `queued` until the server acknowledges
//! them, so a restart resumes exactly where the last run stopped.
//!
//! SQLite in WAL mode with `synchronous=FULL` (a commit returns after the WAL is fsync'd),
//! foreign keys on, schema migrations by `rusqlite_migration`. Files are created 0600 in a 0700
//! directory before SQLite opens them (SQLite gives its -wal/-shm files the database file's mode).
//! Statements are prepared once per connection and kept (`cached_row`, `cached_execute`, or
//! `prepare_cached` for several rows): a counter runs the same few dozen again and again.
//!
//! One [`Journal`] type, its methods kept by concern:
//!
//! | module | what |
//! | --- | --- |
//! | `schema` + `migrations/NNN_*.sql` | the schema, one file per version |
//! | `convert` | every column ↔ value conversion (instants, days, ids, enums) |
//! | `sales` | writing sales, applying the server's verdicts, retention; a buyer's history |
//! | `stock` | stock-ins and their sync |
//! | `listing` | listing changes (public notes of the pharmacy) and their sync |
//! | `outbox` | what waits for the server, what needs attention |
//! | `cache` | the policy set and small values kept from the server (`meta`) |
//! | `quota` | the decision side's reads: unsynced sales, offline allocation, movements |
//! | `export` | `journal export` |
//! | `read_only` | looking at a journal without changing it (`doctor`, `journal export`) |
//! | `testing` | escape hatches for tests and benchmarks (`cfg(test)` or feature `testing`) |

use std::path::{Path, PathBuf};

use rusqlite::{Connection, Params, Row};
use rusqlite_migration::Migrations;

use mask_private_file as private_file;

mod cache;
mod convert;
mod export;
mod listing;
mod outbox;
mod quota;
mod read_only;
mod sales;
mod schema;
mod stock;
#[cfg(any(test, feature = "testing"))]
mod testing;

pub use cache::{META_CLOCK_OFFSET, META_CREATED, META_LAST_CONTACT, META_SITE_NAME};
pub use outbox::AttentionGroup;
pub use quota::{Movements, Opening};
pub use read_only::Schema;
pub use sales::{NewSale, SaleVerdict, SyncState};
pub use stock::QueuedStockIn;

use schema::MIGRATIONS;

/// The pragmas every connection gets (also used by the raw-insert baseline of the benchmark).
pub const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                           PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

/// Statements kept prepared per connection. A sale, the status bar after each exchange and the
/// inventory run the same few dozen statements again and again; preparing each anew (as
/// rusqlite's `Connection::query_row` and `execute` do) was 16 % of the CPU samples of the
/// launch-day benchmark's 6,500 agents and public (BENCHMARKS.md).
const STATEMENT_CACHE: usize = 64;

/// `conn.query_row` through the statement cache.
fn cached_row<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// `conn.execute` through the statement cache.
fn cached_execute<P: Params>(conn: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// A journal failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The disk (or the database's size limit) is full: nothing was written.
    #[error("the disk holding the journal is full")]
    DiskFull(#[source] rusqlite::Error),
    /// The data directory or journal file could not be created or secured.
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("journal database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The schema could not be migrated.
    #[error("journal schema migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// There is no journal at this path (only the service creates one).
    #[error("no journal at {path}")]
    Missing { path: PathBuf },
    /// The journal's schema is not this build's (see [`Schema`]).
    #[error("{}", schema_detail(.0))]
    Schema(Schema),
    /// The journal cannot be read without changing it: a write-ahead log without its index, a
    /// rollback journal, or a file that kept changing under an `immutable` read.
    #[error("the journal is being recovered or changed; the service has to open it first")]
    Unsettled,
    /// A stored value could not be read back (corruption or a newer schema).
    #[error("journal holds an unreadable value in {what}: {detail}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        detail: String,
    },
}

fn schema_detail(schema: &Schema) -> String {
    match schema {
        Schema::Current => "journal schema is current".into(),
        Schema::Older { found, current } => {
            format!("journal schema version {found} is older than this agent's ({current})")
        }
        Schema::Newer { found, current } => {
            format!("journal schema version {found} is newer than this agent's ({current})")
        }
    }
}

impl JournalError {
    /// What went wrong, in terms the user can act on.
    pub fn cause(&self) -> crate::messages::JournalCause {
        use crate::messages::JournalCause;
        use rusqlite::ErrorCode as C;
        match self {
            JournalError::DiskFull(_) => JournalCause::DiskFull,
            JournalError::Io { source, .. } => JournalCause::of_io(source),
            JournalError::Sqlite(e) => match e.sqlite_error_code() {
                Some(C::ReadOnly) => JournalCause::ReadOnly,
                Some(C::PermissionDenied) => JournalCause::Permission,
                Some(C::DatabaseBusy | C::DatabaseLocked) => JournalCause::Locked,
                Some(C::DatabaseCorrupt | C::NotADatabase) => JournalCause::Corrupt,
                Some(C::CannotOpen) => JournalCause::Missing,
                _ => JournalCause::Other,
            },
            JournalError::Missing { .. } => JournalCause::Missing,
            JournalError::Schema(Schema::Older { .. }) => JournalCause::OlderSchema,
            JournalError::Schema(_) => JournalCause::NewerSchema,
            JournalError::Unsettled => JournalCause::Unsettled,
            JournalError::Migration(_) | JournalError::Corrupt { .. } => JournalCause::Corrupt,
        }
    }
}

impl From<rusqlite::Error> for JournalError {
    fn from(error: rusqlite::Error) -> Self {
        if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            return JournalError::DiskFull(error);
        }
        // A column our `FromSql` could not decode: the value is corrupt, as the hand
        // conversions say (see `convert`).
        match error {
            rusqlite::Error::FromSqlConversionFailure(column, kind, source) => {
                match source.downcast::<convert::CorruptValue>() {
                    Ok(value) => {
                        let convert::CorruptValue { what, detail } = *value;
                        JournalError::Corrupt { what, detail }
                    }
                    Err(source) => JournalError::Sqlite(rusqlite::Error::FromSqlConversionFailure(
                        column, kind, source,
                    )),
                }
            }
            other => JournalError::Sqlite(other),
        }
    }
}

type Result<T, E = JournalError> = std::result::Result<T, E>;

/// The journal.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

impl Journal {
    /// Opens (creating and migrating when needed) the journal at `path`; its directory is
    /// created 0700 and the file 0600.
    pub fn open(path: &Path) -> Result<Journal> {
        Self::open_to(path, Migrations::from_slice(MIGRATIONS))
    }

    fn open_to(path: &Path, migrations: Migrations<'_>) -> Result<Journal> {
        if let Some(dir) = path.parent() {
            private_file::create_private_dir(dir).map_err(|source| JournalError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        private_file::create_private_file(path).map_err(|source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut conn = Connection::open(path)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.execute_batch(PRAGMAS)?;
        migrations.to_latest(&mut conn)?;
        // The -wal and -shm files now exist; make sure they are private even if an older
        // version or another tool created them with a wider mode.
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = PathBuf::from(side);
            if side.exists() {
                private_file::restrict_file(&side).map_err(|source| JournalError::Io {
                    path: side.clone(),
                    source,
                })?;
            }
        }
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PRAGMA integrity_check`: `Ok(())` or the problems SQLite lists.
    pub fn integrity_check(&self) -> Result<Result<(), Vec<String>>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines: Vec<String> = stmt
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        if lines.len() == 1 && lines[0] == "ok" {
            Ok(Ok(()))
        } else {
            Ok(Err(lines))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mask_api::{BuyerKind, SaleSource};
    use time::OffsetDateTime;
    use time::macros::datetime;
    use uuid::Uuid;

    fn sale(id_no: &str, at: OffsetDateTime) -> NewSale {
        NewSale {
            id: Uuid::now_v7(),
            id_no: id_no.into(),
            birth_date: None,
            kind: BuyerKind::Adult,
            quantity: 3,
            sold_at: at,
            source: SaleSource::Card,
            offline: true,
            pc_sold_at: None,
        }
    }

    #[test]
    fn the_policys_fetch_time_is_read_without_the_policy() {
        let mut journal = Journal::open_in_memory().unwrap();
        assert_eq!(journal.policy_fetched_at().unwrap(), None);
        let at = datetime!(2020-03-12 01:00 UTC);
        journal
            .store_policy(&mask_api::PolicySet::builtin(), at)
            .unwrap();
        assert_eq!(journal.policy_fetched_at().unwrap(), Some(at));
        let later = datetime!(2020-03-12 02:00 UTC);
        journal
            .store_policy(&mask_api::PolicySet::builtin(), later)
            .unwrap();
        assert_eq!(journal.policy_fetched_at().unwrap(), Some(later));
        assert_eq!(
            journal.cached_policy().unwrap().map(|(_, at)| at),
            Some(later)
        );
    }

    #[test]
    fn a_sale_is_queued_then_acknowledged_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("data/journal.sqlite3")).unwrap();
        let s = sale("A123456789", datetime!(2020-03-12 01:00 UTC));
        journal.record_sale(&s).unwrap();
        assert_eq!(journal.queued_sale_count().unwrap(), 1);
        let queued = journal.queued_sales(10).unwrap();
        assert_eq!(queued[0].id, s.id);
        assert_eq!(queued[0].sold_at, s.sold_at);
        let verdict = SaleVerdict {
            id: s.id,
            state: SyncState::Overrun,
            detail: Some("window".into()),
            server_recorded_at: None,
        };
        let now = datetime!(2020-03-12 01:01 UTC);
        assert_eq!(
            journal
                .apply_sale_results(std::slice::from_ref(&verdict), now)
                .unwrap(),
            1
        );
        assert_eq!(journal.apply_sale_results(&[verdict], now).unwrap(), 0);
        assert_eq!(journal.queued_sale_count().unwrap(), 0);
        assert_eq!(journal.overrun_count().unwrap(), 1);
        assert_eq!(journal.purchases_of("A123456789").unwrap().len(), 1);
    }

    #[test]
    fn retention_purges_only_acknowledged_old_sales() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("journal.sqlite3")).unwrap();
        let old_synced = sale("A123456789", datetime!(2020-02-01 01:00 UTC));
        let old_queued = sale("A800000014", datetime!(2020-02-01 01:00 UTC));
        journal.record_sale(&old_synced).unwrap();
        journal.record_sale(&old_queued).unwrap();
        let verdict = SaleVerdict {
            id: old_synced.id,
            state: SyncState::Accepted,
            detail: None,
            server_recorded_at: None,
        };
        let now = datetime!(2020-03-12 01:00 UTC);
        journal.apply_sale_results(&[verdict], now).unwrap();
        assert_eq!(
            journal
                .purge_personal_data(datetime!(2020-02-10 00:00 UTC), now)
                .unwrap(),
            1
        );
        assert!(journal.purchases_of("A123456789").unwrap().is_empty());
        assert_eq!(journal.purchases_of("A800000014").unwrap().len(), 1);
        let rows = journal
            .export_day(time::macros::date!(2020 - 02 - 01))
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.id_masked.contains('*')));
    }

    #[test]
    fn records_needing_attention_keep_counting_and_keep_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("journal.sqlite3")).unwrap();
        let day = time::macros::date!(2020 - 03 - 12);
        let at = datetime!(2020-03-12 01:00 UTC);
        let stock = QueuedStockIn {
            id: Uuid::now_v7(),
            form: mask_protocol::StockInForm {
                received_adult: 100,
                received_child: 0,
                damaged_adult: 0,
                damaged_child: 0,
            },
            recorded_at: at,
        };
        journal.record_stock_in(&stock).unwrap();
        journal
            .mark_stock_in(stock.id, Some("invalid_body"), at)
            .unwrap();
        let s = sale("A123456789", at);
        journal.record_sale(&s).unwrap();
        let verdict = SaleVerdict {
            id: s.id,
            state: SyncState::Rejected,
            detail: Some("idempotency_conflict".into()),
            server_recorded_at: None,
        };
        journal.apply_sale_results(&[verdict], at).unwrap();
        let change = journal.record_listing(false, at).unwrap();
        journal
            .mark_listing(change.seq, Some("forbidden"), at)
            .unwrap();

        let counts = journal.movements(BuyerKind::Adult, None, day).unwrap();
        assert_eq!((counts.received, counts.sold), (100, 3));
        assert_eq!(journal.purchases_of("A123456789").unwrap().len(), 1);
        assert_eq!(journal.unsynced_of("A123456789").unwrap().len(), 1);
        assert_eq!(journal.attention_count().unwrap(), 3);
        let groups = journal.attention_groups().unwrap();
        assert_eq!(
            groups
                .iter()
                .map(|g| (g.kind, g.reason.as_str(), g.count))
                .collect::<Vec<_>>(),
            [
                ("listing", "forbidden", 1),
                ("sale", "idempotency_conflict", 1),
                ("stock_in", "invalid_body", 1)
            ]
        );
        // A later listing change the server took settles the refused one.
        let change = journal.record_listing(true, at).unwrap();
        journal.mark_listing(change.seq, None, at).unwrap();
        assert_eq!(journal.attention_count().unwrap(), 2);
        let row = &journal.export_day(day).unwrap()[0];
        assert!(row.needs_attention);
        assert_eq!(
            (row.sync_state.as_str(), row.detail.as_str()),
            ("rejected", "idempotency_conflict")
        );
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut journal = Journal::open(&data.join("journal.sqlite3")).unwrap();
        journal
            .record_sale(&sale("A123456789", datetime!(2020-03-12 01:00 UTC)))
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        for name in [
            "journal.sqlite3",
            "journal.sqlite3-wal",
            "journal.sqlite3-shm",
        ] {
            assert_eq!(mode(&data.join(name)), 0o600, "{name}");
        }
    }
}
