//! SQLite store: one file, WAL, `synchronous=FULL` (a write is on disk when acknowledged).
//!
//! All writes go through one writer thread that commits in groups: it takes every job waiting
//! in its queue, runs each inside its own SAVEPOINT of one transaction, commits once (one fsync
//! for the group) and only then answers them. Reads use a small pool of read connections on the
//! blocking thread pool; WAL lets them run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use futures::future::BoxFuture;
use mask_api::{AuditSale, SaleResult};
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use time::{Date, OffsetDateTime};
use tokio::sync::oneshot;

use super::{
    AskRange, AskRecord, DayTotals, HeldSale, Listing, PreparedSale, SalesOutcome, SalesWrite,
    SoldTotals, StockOutcome, StockWrite, Store, StoreError, TOKEN_ID_LEN, TokenInfo, TokenRecord,
    TokenRole, TokenSelector, codes, conflict_result, day_text, from_ms, judge_in_order, parse_day,
    to_ms,
};
use crate::content_hash::HASH_VERSION;
use crate::open_data::StockRow;
use crate::person_key::PersonKey;
use crate::sites::Site;

mod notes;

/// Name of the database file inside the data dir.
pub const DB_FILE: &str = "mask-server.sqlite3";
/// Most jobs committed together.
const MAX_GROUP: usize = 512;
/// Idle read connections kept.
const MAX_IDLE_READERS: usize = 8;

fn migrations() -> Migrations<'static> {
    Migrations::new(migration_steps())
}

fn migration_steps() -> Vec<M<'static>> {
    vec![
        // Schema 1.
        M::up(
            "CREATE TABLE sites (
            code TEXT PRIMARY KEY NOT NULL,
            adult INTEGER NOT NULL,
            child INTEGER NOT NULL,
            listed INTEGER NOT NULL,
            listing_changed_ms INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE tokens (
            hash TEXT PRIMARY KEY NOT NULL,
            site TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            expires_ms INTEGER
        ) STRICT;
        CREATE TABLE sales (
            id TEXT PRIMARY KEY NOT NULL,
            site TEXT NOT NULL,
            person TEXT NOT NULL,
            id_masked TEXT NOT NULL,
            kind TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            sold_at_ms INTEGER NOT NULL,
            sold_day TEXT NOT NULL,
            source TEXT NOT NULL,
            offline INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            status TEXT NOT NULL,
            overrun_reason TEXT,
            recorded_at_ms INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX sales_by_person ON sales (person, sold_at_ms);
        CREATE INDEX sales_overrun ON sales (status) WHERE status = 'overrun';
        CREATE TABLE stock_ins (
            id TEXT PRIMARY KEY NOT NULL,
            site TEXT NOT NULL,
            day TEXT NOT NULL,
            received_adult INTEGER NOT NULL,
            received_child INTEGER NOT NULL,
            damaged_adult INTEGER NOT NULL,
            damaged_child INTEGER NOT NULL,
            recorded_at_ms INTEGER NOT NULL,
            content_hash TEXT NOT NULL
        ) STRICT;
        CREATE TABLE daily (
            site TEXT NOT NULL,
            day TEXT NOT NULL,
            received_adult INTEGER NOT NULL DEFAULT 0,
            received_child INTEGER NOT NULL DEFAULT 0,
            sold_adult INTEGER NOT NULL DEFAULT 0,
            sold_child INTEGER NOT NULL DEFAULT 0,
            damaged_adult INTEGER NOT NULL DEFAULT 0,
            damaged_child INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (site, day)
        ) STRICT;",
        ),
        // Schema 2: 16-byte binary person keys (see `person_key`) and a settings table naming
        // the key scheme. Rows from schema 1 keep the first half of their hex SHA-256 key, and
        // such a database stays on that unkeyed scheme so its histories still match. The person
        // index covers the history query (sold_at, quantity) so eligibility reads no table rows.
        M::up(
            "CREATE TABLE server_meta (
                key TEXT PRIMARY KEY NOT NULL,
                value TEXT NOT NULL
            ) STRICT;
            INSERT INTO server_meta (key, value)
                SELECT 'person_key_scheme',
                       CASE WHEN EXISTS (SELECT 1 FROM sales) THEN 'sha256-v1' ELSE 'hmac-sha256-v2' END;
            CREATE TABLE sales_v2 (
                id TEXT PRIMARY KEY NOT NULL,
                site TEXT NOT NULL,
                person BLOB NOT NULL CHECK (length(person) = 16),
                id_masked TEXT NOT NULL,
                kind TEXT NOT NULL,
                quantity INTEGER NOT NULL,
                sold_at_ms INTEGER NOT NULL,
                sold_day TEXT NOT NULL,
                source TEXT NOT NULL,
                offline INTEGER NOT NULL,
                content_hash TEXT NOT NULL,
                status TEXT NOT NULL,
                overrun_reason TEXT,
                recorded_at_ms INTEGER NOT NULL
            ) STRICT;
            INSERT INTO sales_v2 (id, site, person, id_masked, kind, quantity, sold_at_ms,
                    sold_day, source, offline, content_hash, status, overrun_reason, recorded_at_ms)
                SELECT id, site, unhex(substr(person, 1, 32)), id_masked, kind, quantity,
                    sold_at_ms, sold_day, source, offline, content_hash, status, overrun_reason,
                    recorded_at_ms
                FROM sales ORDER BY rowid;
            DROP TABLE sales;
            ALTER TABLE sales_v2 RENAME TO sales;
            CREATE INDEX sales_by_person ON sales (person, sold_at_ms, quantity);
            CREATE INDEX sales_overrun ON sales (status) WHERE status = 'overrun';",
        ),
        // Schema 3: audit flags per sale; keyed content hashes (version 2; older rows keep
        // version 1, see `content_hash`); token roles (pharmacy or audit). The person index
        // carries the sale id, which orders a person's sales and deduplicates unsynced ones.
        M::up(
            "ALTER TABLE sales ADD COLUMN flags TEXT NOT NULL DEFAULT '';
            ALTER TABLE sales ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;
            ALTER TABLE stock_ins ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;
            ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'pharmacy';
            DROP INDEX sales_by_person;
            CREATE INDEX sales_by_person ON sales (person, sold_at_ms, quantity, id);
            CREATE INDEX sales_audit ON sales (sold_day) WHERE status = 'overrun' OR flags <> '';",
        ),
        // Schema 4: token revocation, the token generation servers poll to forget cached
        // tokens (see `http::auth`), and the audit of eligibility questions (masked ID and
        // keyed person key only). `seq` is the rowid: the time index carries it, so a page in
        // (asked_ms, seq) order is one index range.
        M::up(
            "ALTER TABLE tokens ADD COLUMN revoked_ms INTEGER;
            CREATE TABLE token_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                generation INTEGER NOT NULL
            ) STRICT;
            INSERT INTO token_state (id, generation) VALUES (1, 0);
            CREATE TABLE eligibility_asks (
                seq INTEGER PRIMARY KEY,
                asked_ms INTEGER NOT NULL,
                site TEXT NOT NULL,
                token_id TEXT NOT NULL,
                person BLOB NOT NULL CHECK (length(person) = 16),
                id_masked TEXT NOT NULL
            ) STRICT;
            CREATE INDEX eligibility_asks_by_time ON eligibility_asks (asked_ms);",
        ),
        // Schema 5: pharmacies' public notes (see `notes`): every note by its client id (replay
        // or conflict), and the note each site shows, for the open data's `/v1/sites`.
        M::up(
            "CREATE TABLE notes (
                id TEXT PRIMARY KEY NOT NULL,
                site TEXT NOT NULL,
                note TEXT,
                set_at_ms INTEGER NOT NULL,
                changed_ms INTEGER NOT NULL,
                recorded_ms INTEGER NOT NULL
            ) STRICT;
            CREATE TABLE site_notes (
                site TEXT PRIMARY KEY NOT NULL,
                note_id TEXT NOT NULL,
                note TEXT,
                changed_ms INTEGER NOT NULL
            ) STRICT;",
        ),
    ]
}

/// Creates the database file 0600 before SQLite opens it: SQLite gives the `-wal` and `-shm`
/// files it creates later the database file's mode. Files left by older versions are tightened.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let data_dir_err = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::DataDir { path, source }
    };
    crate::private_file::ensure(path).map_err(data_dir_err(path))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            crate::private_file::ensure(&side).map_err(data_dir_err(&side))?;
        }
    }
    Ok(())
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

/// The SQLite store.
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
        conn.execute_batch(
            "PRAGMA busy_timeout = 30000;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;",
        )?;
        migrate(&mut conn)?;
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

fn token_record(
    site: String,
    expires_ms: Option<i64>,
    role: &str,
    revoked_ms: Option<i64>,
) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        site,
        role: TokenRole::parse(role),
        expires_at: expires_ms.map(from_ms).transpose()?,
        revoked_at: revoked_ms.map(from_ms).transpose()?,
    })
}

/// One row of `tokens` (issuing and rotating both write it this way).
fn insert_token_row(
    conn: &rusqlite::Connection,
    hash: &str,
    record: &TokenRecord,
    created_at: OffsetDateTime,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO tokens (hash, site, created_ms, expires_ms, role)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            hash,
            record.site,
            to_ms(created_at),
            record.expires_at.map(to_ms),
            record.role.as_str(),
        ],
    )?;
    Ok(())
}

fn bump_token_generation(conn: &Connection) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE token_state SET generation = generation + 1 WHERE id = 1",
        [],
    )?;
    Ok(())
}

fn parse_uuid(s: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("sale id {s:?}: {e}")))
}

fn history(conn: &Connection, person: &PersonKey) -> Result<Vec<HeldSale>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT sold_at_ms, quantity, id FROM sales WHERE person = ?1")?;
    let rows = stmt.query_map([person.as_bytes()], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (ms, quantity, id) = row?;
        out.push(HeldSale {
            id: parse_uuid(&id)?,
            sold_at: from_ms(ms)?,
            quantity: u32::try_from(quantity).unwrap_or(0),
        });
    }
    Ok(out)
}

fn day_column_add(
    conn: &Connection,
    site: &str,
    day: Date,
    column: &str,
    n: i64,
) -> Result<(), StoreError> {
    // `column` is one of our fixed names, never input.
    let sql = format!(
        "INSERT INTO daily (site, day, {column}) VALUES (?1, ?2, ?3)
         ON CONFLICT (site, day) DO UPDATE SET {column} = {column} + excluded.{column}"
    );
    conn.prepare_cached(&sql)?
        .execute(params![site, day_text(day), n])?;
    Ok(())
}

fn record_sale(
    conn: &Connection,
    write: &SalesWrite,
    sale: &PreparedSale,
) -> Result<SaleResult, StoreError> {
    let held = history(conn, &sale.person)?;
    let ((status, reason), later) = judge_in_order(&write.policies, sale, &held);
    let day = mask_api::taipei_date(sale.sold_at);
    conn.prepare_cached(
        "INSERT INTO sales (id, site, person, id_masked, kind, quantity, sold_at_ms, sold_day,
            source, offline, content_hash, status, overrun_reason, recorded_at_ms, flags,
            hash_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        sale.id.to_string(),
        write.site,
        sale.person.as_bytes(),
        sale.id_masked,
        codes::kind(sale.kind),
        i64::from(sale.quantity),
        to_ms(sale.sold_at),
        day_text(day),
        codes::source(sale.source),
        sale.offline,
        sale.hashes.keyed,
        codes::status(status),
        reason.map(|r| r.as_str()),
        to_ms(write.now),
        codes::flags(&sale.flags),
        HASH_VERSION,
    ])?;
    // A sale dated before others of this person: their windows are judged again.
    for (id, (status, reason)) in later {
        conn.prepare_cached("UPDATE sales SET status = ?2, overrun_reason = ?3 WHERE id = ?1")?
            .execute(params![
                id.to_string(),
                codes::status(status),
                reason.map(|r| r.as_str())
            ])?;
    }
    Ok(SaleResult {
        id: sale.id,
        status,
        overrun_reason: reason,
        recorded_at: write.now,
        replayed: false,
        flags: sale.flags.clone(),
        problem: None,
    })
}

/// An earlier record of an id: what its content is compared by.
struct Stored {
    hash: String,
    version: i16,
    site: String,
}

/// An earlier record of a sale id: what it is compared by, and its result.
fn existing_sale(conn: &Connection, id: &str) -> Result<Option<(Stored, SaleResult)>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT content_hash, hash_version, site, status, overrun_reason, recorded_at_ms, flags
             FROM sales WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                Stored {
                    hash: r.get(0)?,
                    version: r.get(1)?,
                    site: r.get(2)?,
                },
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
            ))
        })
        .optional()?;
    let Some((stored, status, reason, recorded_ms, flags)) = row else {
        return Ok(None);
    };
    Ok(Some((
        stored,
        SaleResult {
            id: parse_uuid(id)?,
            status: codes::parse_status(&status),
            overrun_reason: codes::parse_reason(reason),
            recorded_at: from_ms(recorded_ms)?,
            replayed: true,
            flags: codes::parse_flags(&flags),
            problem: None,
        },
    )))
}

fn record_sales(conn: &Connection, write: &SalesWrite) -> Result<SalesOutcome, StoreError> {
    let mut results = Vec::with_capacity(write.sales.len());
    let mut sold = SoldTotals::default();
    for sale in &write.sales {
        match existing_sale(conn, &sale.id.to_string())? {
            Some((stored, result))
                if sale
                    .hashes
                    .matches(&stored.hash, stored.version, &stored.site) =>
            {
                results.push(result);
            }
            Some(_) => results.push(conflict_result(sale, write.now)),
            None => {
                results.push(record_sale(conn, write, sale)?);
                sold.add(sale);
            }
        }
    }
    // The day totals and the stock change once per batch, not once per sale.
    for (day, (adult, child)) in &sold.by_day {
        conn.prepare_cached(
            "INSERT INTO daily (site, day, sold_adult, sold_child) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (site, day) DO UPDATE SET
                sold_adult = sold_adult + excluded.sold_adult,
                sold_child = sold_child + excluded.sold_child",
        )?
        .execute(params![write.site, day_text(*day), adult, child])?;
    }
    if !sold.by_day.is_empty() {
        let (adult, child) = sold.total();
        conn.prepare_cached(
            "UPDATE sites SET adult = adult - ?2, child = child - ?3 WHERE code = ?1",
        )?
        .execute(params![write.site, adult, child])?;
    }
    Ok(SalesOutcome(results))
}

fn record_stock(conn: &Connection, w: &StockWrite) -> Result<StockOutcome, StoreError> {
    let existing = conn
        .prepare_cached(
            "SELECT content_hash, hash_version, site, day FROM stock_ins WHERE id = ?1",
        )?
        .query_row([w.id.to_string()], |r| {
            Ok((
                Stored {
                    hash: r.get(0)?,
                    version: r.get(1)?,
                    site: r.get(2)?,
                },
                r.get::<_, String>(3)?,
            ))
        })
        .optional()?;
    if let Some((stored, day)) = existing {
        return Ok(
            if w.hashes.matches(&stored.hash, stored.version, &stored.site) {
                StockOutcome::Recorded {
                    replayed: true,
                    day: parse_day(&day)?,
                }
            } else {
                StockOutcome::Conflict
            },
        );
    }
    conn.prepare_cached(
        "INSERT INTO stock_ins (id, site, day, received_adult, received_child, damaged_adult,
            damaged_child, recorded_at_ms, content_hash, hash_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        w.id.to_string(),
        w.site,
        day_text(w.day),
        w.received_adult,
        w.received_child,
        w.damaged_adult,
        w.damaged_child,
        to_ms(w.recorded_at),
        w.hashes.keyed,
        HASH_VERSION,
    ])?;
    for (column, n) in [
        ("received_adult", w.received_adult),
        ("received_child", w.received_child),
        ("damaged_adult", w.damaged_adult),
        ("damaged_child", w.damaged_child),
    ] {
        if n > 0 {
            day_column_add(conn, &w.site, w.day, column, i64::from(n))?;
        }
    }
    conn.prepare_cached("UPDATE sites SET adult = adult + ?2, child = child + ?3 WHERE code = ?1")?
        .execute(params![
            w.site,
            i64::from(w.received_adult) - i64::from(w.damaged_adult),
            i64::from(w.received_child) - i64::from(w.damaged_child),
        ])?;
    Ok(StockOutcome::Recorded {
        replayed: false,
        day: w.day,
    })
}

fn day_totals(conn: &Connection, site: &str, day: Date) -> Result<DayTotals, StoreError> {
    let d = day_text(day);
    let mut t = conn
        .prepare_cached(
            "SELECT received_adult, received_child, sold_adult, sold_child, damaged_adult, damaged_child
             FROM daily WHERE site = ?1 AND day = ?2",
        )?
        .query_row(params![site, d], |r| {
            Ok(DayTotals {
                received_adult: r.get(0)?,
                received_child: r.get(1)?,
                sold_adult: r.get(2)?,
                sold_child: r.get(3)?,
                damaged_adult: r.get(4)?,
                damaged_child: r.get(5)?,
                remaining_adult: 0,
                remaining_child: 0,
            })
        })
        .optional()?
        .unwrap_or_default();
    let (now_adult, now_child): (i64, i64) = conn
        .prepare_cached("SELECT adult, child FROM sites WHERE code = ?1")?
        .query_row([site], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0));
    // Stock at the end of `day` = stock now minus every later day's net change.
    let (later_adult, later_child): (i64, i64) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(received_adult - damaged_adult - sold_adult), 0),
                    COALESCE(SUM(received_child - damaged_child - sold_child), 0)
             FROM daily WHERE site = ?1 AND day > ?2",
        )?
        .query_row(params![site, d], |r| Ok((r.get(0)?, r.get(1)?)))?;
    t.remaining_adult = now_adult - later_adult;
    t.remaining_child = now_child - later_child;
    Ok(t)
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
        self.write(move |conn| {
            let count: i64 = conn.query_row("SELECT COUNT(*) FROM sites", [], |r| r.get(0))?;
            if count > 0 {
                return Ok(false);
            }
            let mut stmt = conn.prepare(
                "INSERT INTO sites (code, adult, child, listed, listing_changed_ms) VALUES (?1, ?2, ?3, 1, ?4)",
            )?;
            for s in &sites {
                stmt.execute(params![s.code, s.opening_adult, s.opening_child, to_ms(at)])?;
            }
            Ok(true)
        })
    }

    fn insert_token(
        &self,
        hash: String,
        record: TokenRecord,
        created_at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.write(move |conn| {
            insert_token_row(conn, &hash, &record, created_at)?;
            Ok(())
        })
    }

    fn find_token(&self, hash: String) -> BoxFuture<'_, Result<Option<TokenRecord>, StoreError>> {
        self.read(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT site, expires_ms, role, revoked_ms FROM tokens WHERE hash = ?1",
                )?
                .query_row([hash], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                })
                .optional()?;
            row.map(|(site, expires, role, revoked)| token_record(site, expires, &role, revoked))
                .transpose()
        })
    }

    fn list_tokens(&self) -> BoxFuture<'_, Result<Vec<TokenInfo>, StoreError>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT hash, site, expires_ms, role, revoked_ms, created_ms FROM tokens
                 ORDER BY created_ms, hash",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (hash, site, expires, role, revoked, created) = row?;
                out.push(TokenInfo {
                    id: super::token_id(&hash),
                    record: token_record(site, expires, &role, revoked)?,
                    created_at: from_ms(created)?,
                });
            }
            Ok(out)
        })
    }

    fn revoke_tokens(
        &self,
        which: TokenSelector,
        at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<(u64, u64), StoreError>> {
        self.write(move |conn| {
            let (filter, value) = match &which {
                TokenSelector::Id(id) => (
                    format!("substr(hash, 1, {TOKEN_ID_LEN}) = ?1"),
                    id.to_ascii_lowercase(),
                ),
                TokenSelector::Site(site) => ("site = ?1".to_owned(), site.clone()),
            };
            let selected: i64 = conn.query_row(
                &format!("SELECT COUNT(*) FROM tokens WHERE {filter}"),
                [&value],
                |r| r.get(0),
            )?;
            let revoked = conn.execute(
                &format!("UPDATE tokens SET revoked_ms = ?2 WHERE {filter} AND revoked_ms IS NULL"),
                params![value, to_ms(at)],
            )?;
            if revoked > 0 {
                bump_token_generation(conn)?;
            }
            Ok((
                u64::try_from(selected).unwrap_or(0),
                u64::try_from(revoked).unwrap_or(0),
            ))
        })
    }

    fn rotate_site_token(
        &self,
        hash: String,
        record: TokenRecord,
        created_at: OffsetDateTime,
        old_until: OffsetDateTime,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.write(move |conn| {
            let until = to_ms(old_until);
            let shortened = conn.execute(
                "UPDATE tokens SET expires_ms = MIN(COALESCE(expires_ms, ?2), ?2)
                 WHERE site = ?1 AND role = 'pharmacy' AND revoked_ms IS NULL
                   AND (expires_ms IS NULL OR expires_ms > ?3)",
                params![record.site, until, to_ms(created_at)],
            )?;
            insert_token_row(conn, &hash, &record, created_at)?;
            bump_token_generation(conn)?;
            Ok(u64::try_from(shortened).unwrap_or(0))
        })
    }

    fn token_generation(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT generation FROM token_state WHERE id = 1")?
                .query_row([], |r| r.get(0))?)
        })
    }

    fn record_asks(&self, asks: Vec<AskRecord>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO eligibility_asks (asked_ms, site, token_id, person, id_masked)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for a in &asks {
                stmt.execute(params![
                    to_ms(a.asked_at),
                    a.site,
                    a.token_id,
                    &a.person.as_bytes()[..],
                    a.id_masked,
                ])?;
            }
            Ok(())
        })
    }

    fn asks(&self, range: AskRange) -> BoxFuture<'_, Result<Vec<(i64, AskRecord)>, StoreError>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, asked_ms, site, token_id, person, id_masked FROM eligibility_asks
                 WHERE (asked_ms, seq) > (?1, ?2) AND asked_ms < ?3
                   AND (?4 IS NULL OR site = ?4)
                 ORDER BY asked_ms, seq LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    range.after.0,
                    range.after.1,
                    range.before_ms,
                    range.site,
                    range.limit
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Vec<u8>>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, ms, site, token_id, person, id_masked) = row?;
                let person = PersonKey::from_slice(&person)
                    .ok_or_else(|| StoreError::Corrupt("person key of an ask".into()))?;
                out.push((
                    seq,
                    AskRecord {
                        asked_at: from_ms(ms)?,
                        site,
                        token_id,
                        person,
                        id_masked,
                    },
                ));
            }
            Ok(out)
        })
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
        self.read(move |conn| history(conn, &person))
    }

    fn record_sales(&self, write: SalesWrite) -> BoxFuture<'_, Result<SalesOutcome, StoreError>> {
        self.write(move |conn| record_sales(conn, &write))
    }

    fn audit_sales(
        &self,
        from: Date,
        to: Date,
    ) -> BoxFuture<'_, Result<Vec<AuditSale>, StoreError>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, site, id_masked, kind, quantity, sold_at_ms, recorded_at_ms, status,
                        overrun_reason, flags, offline
                 FROM sales
                 WHERE sold_day BETWEEN ?1 AND ?2 AND (status = 'overrun' OR flags <> '')
                 ORDER BY sold_at_ms, id",
            )?;
            let rows = stmt.query_map(params![day_text(from), day_text(to)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, bool>(10)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (
                    id,
                    site,
                    id_masked,
                    kind,
                    quantity,
                    sold,
                    recorded,
                    status,
                    reason,
                    flags,
                    offline,
                ) = row?;
                out.push(AuditSale {
                    id: parse_uuid(&id)?,
                    site,
                    id_masked,
                    kind: codes::parse_kind(&kind),
                    quantity: u32::try_from(quantity).unwrap_or(0),
                    sold_at: from_ms(sold)?,
                    recorded_at: from_ms(recorded)?,
                    status: codes::parse_status(&status),
                    overrun_reason: codes::parse_reason(reason),
                    flags: codes::parse_flags(&flags),
                    offline,
                });
            }
            Ok(out)
        })
    }

    fn record_stock(&self, write: StockWrite) -> BoxFuture<'_, Result<StockOutcome, StoreError>> {
        self.write(move |conn| record_stock(conn, &write))
    }

    fn day_totals(&self, site: String, day: Date) -> BoxFuture<'_, Result<DayTotals, StoreError>> {
        self.read(move |conn| day_totals(conn, &site, day))
    }

    fn set_listing(
        &self,
        site: String,
        listed: bool,
        at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<Listing, StoreError>> {
        self.write(move |conn| {
            let current: Option<(bool, i64)> = conn
                .prepare_cached("SELECT listed, listing_changed_ms FROM sites WHERE code = ?1")?
                .query_row([&site], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match current {
                Some((was, changed)) if was == listed => Ok(Listing {
                    listed,
                    changed_at: from_ms(changed)?,
                }),
                _ => {
                    conn.prepare_cached(
                        "UPDATE sites SET listed = ?2, listing_changed_ms = ?3 WHERE code = ?1",
                    )?
                    .execute(params![site, listed, to_ms(at)])?;
                    Ok(Listing {
                        listed,
                        changed_at: at,
                    })
                }
            }
        })
    }

    fn record_note(
        &self,
        write: super::NoteWrite,
    ) -> BoxFuture<'_, Result<super::NoteOutcome, StoreError>> {
        self.write(move |conn| notes::record_note(conn, &write))
    }

    fn stock_rows(&self) -> BoxFuture<'_, Result<Vec<StockRow>, StoreError>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT s.code, s.adult, s.child, s.listed, n.note, n.changed_ms
                 FROM sites s LEFT JOIN site_notes n ON n.site = s.code",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    StockRow {
                        code: r.get(0)?,
                        adult: r.get(1)?,
                        child: r.get(2)?,
                        listed: r.get(3)?,
                        public_note: r.get(4)?,
                        note_changed_at: None,
                    },
                    r.get::<_, Option<i64>>(5)?,
                ))
            })?;
            rows.map(|row| {
                let (mut row, changed) = row?;
                row.note_changed_at = changed.map(from_ms).transpose()?;
                Ok(row)
            })
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::person_key::{PersonKeys, SCHEME_KEYED, SCHEME_LEGACY};

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
