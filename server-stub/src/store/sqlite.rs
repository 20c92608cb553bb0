//! SQLite store: one file, WAL, `synchronous=FULL` (a write is on disk when acknowledged).
//!
//! All writes go through one writer thread that commits in groups: it takes every job waiting
//! in its queue, runs each inside its own SAVEPOINT of one transaction, commits once (one fsync
//! for the group) and only then answers them. Reads use a small pool of read connections on the
//! blocking thread pool; WAL lets them run beside the writer.
//!
//! This file holds the connection plumbing and the [`Store`] implementation, which hands each
//! call to the module of its concern: `sales` (batches, replays, the sales audit), `histories`
//! (purchase histories and the eligibility audit), `stock` (sites, stock-ins, day totals,
//! listing) and `tokens`. The schema is `sqlite/migrations/NNN_*.sql`, one file per version.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use futures::future::BoxFuture;
use mask_api::AuditSale;
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use time::{Date, OffsetDateTime};
use tokio::sync::oneshot;

use super::{
    AskRange, AskRecord, DayTotals, HeldSale, Listing, ReportRows, SalesOutcome, SalesWrite,
    StockOutcome, StockWrite, Store, StoreError, TokenInfo, TokenRecord, TokenSelector,
};
use crate::open_data::StockRow;
use crate::person_key::PersonKey;
use crate::sites::Site;

mod histories;
mod notes;
mod reports;
mod sales;
mod stock;
mod tokens;

/// Name of the database file inside the data dir.
pub const DB_FILE: &str = "mask-server.sqlite3";
/// Most jobs committed together.
const MAX_GROUP: usize = 512;
/// Idle read connections kept.
const MAX_IDLE_READERS: usize = 8;

/// The schema, one file per version; never edit a shipped file, add the next one.
const MIGRATIONS: &[&str] = &[
    include_str!("sqlite/migrations/001_schema.sql"),
    include_str!("sqlite/migrations/002_binary_person_keys.sql"),
    include_str!("sqlite/migrations/003_flags_hash_versions_token_roles.sql"),
    include_str!("sqlite/migrations/004_token_revocation_and_asks.sql"),
    include_str!("sqlite/migrations/005_report_indexes.sql"),
    include_str!("sqlite/migrations/006_public_notes.sql"),
];

fn migrations() -> Migrations<'static> {
    Migrations::new(migration_steps())
}

fn migration_steps() -> Vec<M<'static>> {
    MIGRATIONS.iter().copied().map(M::up).collect()
}

/// Creates the database file 0600 before SQLite opens it: SQLite gives the `-wal` and `-shm`
/// files it creates later the database file's mode. Files left by older versions are tightened.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let data_dir_err = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::DataDir { path, source }
    };
    mask_private_file::create_private_file(path).map_err(data_dir_err(path))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            mask_private_file::create_private_file(&side).map_err(data_dir_err(&side))?;
        }
    }
    Ok(())
}

/// The connection's settings and the schema.
fn prepare(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "PRAGMA busy_timeout = 30000;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;",
    )?;
    migrate(conn)
}

/// SQLite's "busy" and "locked": another connection holds what this one needs.
fn is_busy(error: &StoreError) -> bool {
    let sqlite = match error {
        StoreError::Sqlite(e) => Some(e),
        StoreError::SqliteMigration(rusqlite_migration::Error::RusqliteError { err, .. }) => {
            Some(err)
        }
        _ => None,
    };
    matches!(
        sqlite.and_then(rusqlite::Error::sqlite_error_code),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Migrates to the latest schema, also when another process (`token issue` beside a first
/// start) migrates the same new file at the same moment. rusqlite_migration reads the version
/// before it begins its transaction; with IMMEDIATE transactions the second process waits for
/// the first one's commit, then fails on its first `CREATE` ("table sites already exists") and
/// finds the file migrated when it reads the version again.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    const ATTEMPTS: u32 = 5;
    let migrations = migrations();
    conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
    let mut attempt = 1;
    let result = loop {
        match migrations.to_latest(conn) {
            Ok(()) => break Ok(()),
            Err(_) if matches!(migrations.pending_migrations(conn), Ok(0)) => break Ok(()),
            Err(e) if attempt >= ATTEMPTS => break Err(e),
            Err(e) => {
                tracing::debug!(error = %e, attempt, "schema migration failed; trying again");
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20 * u64::from(attempt)));
            }
        }
    };
    conn.set_transaction_behavior(rusqlite::TransactionBehavior::Deferred);
    Ok(result?)
}

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;

pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    readers: Arc<ReadPool>,
}

struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match conn {
            Some(c) => c,
            None => open_reader(&self.path)?,
        };
        let result = f(&conn);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
        result
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA query_only = 1;")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating and migrating on first start) `DATA_DIR/mask-server.sqlite3`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        crate::config::ensure_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        create_private(&path)?;
        let mut conn = Connection::open(&path)?;
        // The busy timeout first: switching a new file to WAL waits for another process
        // opening it at the same moment instead of failing. Generous, because the other
        // process may be seeding the whole site registry in one transaction on a loaded
        // machine (a first start racing `token issue` failed on "database is locked" at 5 s).
        // Some of these steps can still answer "busy" at once, without waiting (a journal
        // mode switch racing the other process's), so the whole preparation is retried until
        // the same deadline: CI saw one such failure in 20 races on a loaded machine.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match prepare(&mut conn) {
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    tracing::debug!(error = %e, "the new database is busy; preparing it again");
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => break other?,
            }
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, queue))
            .map_err(|source| StoreError::DataDir {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            jobs,
            readers: Arc::new(ReadPool {
                path,
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `f` in the writer's transaction (its own savepoint); resolves after the commit.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, StoreError>> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = in_savepoint(conn, f);
            Box::new(move |commit| {
                let _ = reply.send(match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Commit(e)),
                });
            })
        });
        let sent = self.jobs.send(job);
        Box::pin(async move {
            sent.map_err(|_| StoreError::WorkerGone)?;
            answer.await.map_err(|_| StoreError::WorkerGone)?
        })
    }

    /// Runs `f` on a read connection on the blocking pool.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, StoreError>> {
        let readers = Arc::clone(&self.readers);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || readers.with(f))
                .await
                .map_err(|_| StoreError::WorkerGone)?
        })
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.execute_batch("SAVEPOINT job")?;
    match f(conn) {
        Ok(v) => {
            conn.execute_batch("RELEASE job")?;
            Ok(v)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
            Err(e)
        }
    }
}

fn writer_loop(conn: Connection, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "cannot begin a write transaction");
            // Dropping the jobs answers their callers with `WorkerGone`; nothing was written.
            continue;
        }
        let completions: Vec<Completion> = group.into_iter().map(|job| job(&conn)).collect();
        let commit = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if let Err(e) = &commit {
            tracing::error!(error = %e, "commit failed; the group is rolled back");
            let _ = conn.execute_batch("ROLLBACK");
        }
        for done in completions {
            done(commit.clone());
        }
    }
}

fn parse_uuid(s: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("sale id {s:?}: {e}")))
}

impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn seed_sites(
        &self,
        sites: Vec<Site>,
        at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.write(move |conn| stock::seed_sites(conn, &sites, at))
    }

    fn insert_token(
        &self,
        hash: String,
        record: TokenRecord,
        created_at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.write(move |conn| tokens::insert(conn, &hash, &record, created_at))
    }

    fn find_token(&self, hash: String) -> BoxFuture<'_, Result<Option<TokenRecord>, StoreError>> {
        self.read(move |conn| tokens::find(conn, &hash))
    }

    fn list_tokens(&self) -> BoxFuture<'_, Result<Vec<TokenInfo>, StoreError>> {
        self.read(tokens::list)
    }

    fn revoke_tokens(
        &self,
        which: TokenSelector,
        at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<(u64, u64), StoreError>> {
        self.write(move |conn| tokens::revoke(conn, &which, at))
    }

    fn rotate_site_token(
        &self,
        hash: String,
        record: TokenRecord,
        created_at: OffsetDateTime,
        old_until: OffsetDateTime,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.write(move |conn| tokens::rotate(conn, &hash, &record, created_at, old_until))
    }

    fn token_generation(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.read(tokens::generation)
    }

    fn record_asks(&self, asks: Vec<AskRecord>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.write(move |conn| histories::record_asks(conn, &asks))
    }

    fn asks(&self, range: AskRange) -> BoxFuture<'_, Result<Vec<(i64, AskRecord)>, StoreError>> {
        self.read(move |conn| histories::asks(conn, &range))
    }

    fn meta(&self, key: &'static str) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT value FROM server_meta WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?)
        })
    }

    fn meta_insert_absent(
        &self,
        key: &'static str,
        value: String,
    ) -> BoxFuture<'_, Result<String, StoreError>> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO server_meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                params![key, value],
            )?;
            Ok(
                conn.query_row("SELECT value FROM server_meta WHERE key = ?1", [key], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    fn purchases(&self, person: PersonKey) -> BoxFuture<'_, Result<Vec<HeldSale>, StoreError>> {
        self.read(move |conn| histories::history(conn, &person))
    }

    fn record_sales(&self, write: SalesWrite) -> BoxFuture<'_, Result<SalesOutcome, StoreError>> {
        self.write(move |conn| sales::record_sales(conn, &write))
    }

    fn audit_sales(
        &self,
        from: Date,
        to: Date,
    ) -> BoxFuture<'_, Result<Vec<AuditSale>, StoreError>> {
        self.read(move |conn| sales::audit(conn, from, to))
    }

    fn record_stock(&self, write: StockWrite) -> BoxFuture<'_, Result<StockOutcome, StoreError>> {
        self.write(move |conn| stock::record_stock(conn, &write))
    }

    fn day_totals(&self, site: String, day: Date) -> BoxFuture<'_, Result<DayTotals, StoreError>> {
        self.read(move |conn| stock::day_totals(conn, &site, day))
    }

    fn set_listing(
        &self,
        site: String,
        listed: bool,
        at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<Listing, StoreError>> {
        self.write(move |conn| stock::set_listing(conn, &site, listed, at))
    }

    fn record_note(
        &self,
        write: super::NoteWrite,
    ) -> BoxFuture<'_, Result<super::NoteOutcome, StoreError>> {
        self.write(move |conn| notes::record_note(conn, &write))
    }

    fn stock_rows(&self) -> BoxFuture<'_, Result<Vec<StockRow>, StoreError>> {
        self.read(stock::stock_rows)
    }

    fn report_rows(&self, from: Date, to: Date) -> BoxFuture<'_, Result<ReportRows, StoreError>> {
        self.read(move |conn| reports::report_rows(conn, from, to))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::person_key::{PersonKeys, SCHEME_KEYED, SCHEME_LEGACY};

    #[test]
    fn busy_and_locked_are_retried_at_open_and_nothing_else() {
        let failure = |code: i32| {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        assert!(super::is_busy(&failure(rusqlite::ffi::SQLITE_BUSY)));
        assert!(super::is_busy(&failure(rusqlite::ffi::SQLITE_LOCKED)));
        assert!(!super::is_busy(&failure(rusqlite::ffi::SQLITE_CORRUPT)));
        assert!(!super::is_busy(&StoreError::WorkerGone));
    }

    #[tokio::test]
    async fn a_schema_1_database_keeps_its_purchase_histories_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let id = "A123456789";
        {
            // A database as schema 1 left it, with one sale under the old hex key.
            let mut conn = Connection::open(&path).unwrap();
            let mut steps = migration_steps();
            steps.truncate(1);
            Migrations::new(steps).to_latest(&mut conn).unwrap();
            let old_key = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                format!("mask-person-v1:{id}").as_bytes(),
            ));
            conn.execute(
                "INSERT INTO sales VALUES ('0190a000-0000-7000-8000-000000000001', '0145080011',
                 ?1, 'A12****789', 'adult', 3, 1583985600000, '2020-03-12', 'card', 0, 'h',
                 'accepted', NULL, 1583985600000)",
                [old_key],
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(
            store.meta(crate::person_key::META_SCHEME).await.unwrap(),
            Some(SCHEME_LEGACY.to_owned())
        );
        let keys = PersonKeys::open(&store, dir.path()).await.unwrap();
        assert!(keys.is_legacy());
        let history = store.purchases(keys.key(id)).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].quantity, 3);
        // No secret is made for a database that cannot use it.
        assert!(!dir.path().join(crate::person_key::SECRET_FILE).exists());
    }

    // A stored status the server never writes, or a quantity no sale can have, is a corrupt
    // row (as the agent's journal says), not an accepted sale or a sale of 0 masks (#14).
    #[tokio::test]
    async fn a_bad_stored_status_or_quantity_is_a_corrupt_row() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let person = PersonKey::from_slice(&[7; 16]).unwrap();
        let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
        raw.execute(
            "INSERT INTO sales (id, site, person, id_masked, kind, quantity, sold_at_ms,
                sold_day, source, offline, content_hash, status, overrun_reason,
                recorded_at_ms, flags, hash_version)
             VALUES ('0190a000-0000-7000-8000-000000000001', '0145080011', ?1, 'A12****789',
                'adult', -1, 1583985600000, '2020-03-12', 'card', 0, 'h', 'accepted', NULL,
                1583985600000, 'sold_long_ago', 2)",
            [&person.as_bytes()[..]],
        )
        .unwrap();
        let check = crate::store::corrupt_row_test::check;
        check(&store, person, "sales.quantity").await;
        raw.execute("UPDATE sales SET quantity = 3, status = 'bogus'", [])
            .unwrap();
        check(&store, person, "sales.status").await;
    }

    #[tokio::test]
    async fn a_new_database_uses_keyed_person_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(
            store.meta(crate::person_key::META_SCHEME).await.unwrap(),
            Some(SCHEME_KEYED.to_owned())
        );
        let keys = PersonKeys::open(&store, dir.path()).await.unwrap();
        assert!(!keys.is_legacy());
        // The same secret opens it again.
        let again = PersonKeys::open(&store, dir.path()).await.unwrap();
        assert_eq!(keys.key("A123456789"), again.key("A123456789"));
    }
}
