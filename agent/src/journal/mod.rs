//! The journal: every sale, stock-in and listing change, written (and fsync'd) before anyone is
//! told it happened. It is also the outbox: rows stay `queued` until the server acknowledges
//! them, so a restart resumes exactly where the last run stopped.
//!
//! SQLite in WAL mode with `synchronous=FULL` (a commit returns after the WAL is fsync'd),
//! foreign keys on, schema migrations by `rusqlite_migration`. Files are created 0600 in a 0700
//! directory before SQLite opens them (SQLite gives its -wal/-shm files the database file's mode).

use std::path::{Path, PathBuf};

use mask_api::{BuyerKind, PolicySet, Purchase, RefusalReason, SaleSource};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use rusqlite_migration::{M, Migrations};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::fsutil;

mod quota;
mod read_only;

pub use quota::{
    META_CLOCK_OFFSET, META_CREATED, META_LAST_CONTACT, META_SITE_NAME, Movements, Opening,
};
pub use read_only::Schema;

/// The schema, one migration per entry; never edit a shipped entry, append a new one.
const MIGRATIONS: &[M<'static>] = &[
    M::up(
        r#"
CREATE TABLE sales (
    id               TEXT PRIMARY KEY NOT NULL,        -- UUIDv7, the idempotency key
    id_no            TEXT,                             -- NULL once purged (retention)
    id_masked        TEXT NOT NULL,
    birth_date       TEXT,                             -- YYYY-MM-DD, NULL when unknown or purged
    kind             TEXT NOT NULL CHECK (kind IN ('adult', 'child')),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    sold_at_ms       INTEGER NOT NULL,                 -- UTC, unix milliseconds
    sold_day         TEXT NOT NULL,                    -- Asia/Taipei date, YYYY-MM-DD
    source           TEXT NOT NULL CHECK (source IN ('card', 'manual')),
    offline          INTEGER NOT NULL CHECK (offline IN (0, 1)),
    sync_state       TEXT NOT NULL DEFAULT 'queued'
                     CHECK (sync_state IN ('queued', 'accepted', 'overrun', 'rejected')),
    overrun_reason   TEXT,
    reject_reason    TEXT,
    server_recorded_at_ms INTEGER,
    synced_at_ms     INTEGER,
    purged_at_ms     INTEGER
) STRICT;
CREATE INDEX sales_outbox ON sales (id) WHERE sync_state = 'queued';
CREATE INDEX sales_by_person ON sales (id_no, sold_at_ms) WHERE id_no IS NOT NULL;
CREATE INDEX sales_by_day ON sales (sold_day);

CREATE TABLE stock_ins (
    id               TEXT PRIMARY KEY NOT NULL,        -- UUIDv7, idempotency key at the server
    received_adult   INTEGER NOT NULL CHECK (received_adult >= 0),
    received_child   INTEGER NOT NULL CHECK (received_child >= 0),
    damaged_adult    INTEGER NOT NULL CHECK (damaged_adult >= 0),
    damaged_child    INTEGER NOT NULL CHECK (damaged_child >= 0),
    recorded_at_ms   INTEGER NOT NULL,
    day              TEXT NOT NULL,
    sync_state       TEXT NOT NULL DEFAULT 'queued'
                     CHECK (sync_state IN ('queued', 'synced', 'rejected')),
    synced_at_ms     INTEGER
) STRICT;
CREATE INDEX stock_ins_by_day ON stock_ins (day);

CREATE TABLE listing_changes (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    listed           INTEGER NOT NULL CHECK (listed IN (0, 1)),
    changed_at_ms    INTEGER NOT NULL,
    sync_state       TEXT NOT NULL DEFAULT 'queued'
                     CHECK (sync_state IN ('queued', 'synced', 'superseded', 'rejected')),
    synced_at_ms     INTEGER
) STRICT;

CREATE TABLE policy_cache (
    singleton        INTEGER PRIMARY KEY CHECK (singleton = 1),
    policy_json      TEXT NOT NULL,
    fetched_at_ms    INTEGER NOT NULL
) STRICT;

CREATE TABLE meta (
    key              TEXT PRIMARY KEY NOT NULL,
    value            TEXT NOT NULL
) STRICT;

-- Sync outcomes that need a human (overrun, rejected), kept even after personal data is purged.
CREATE TABLE sale_flags (
    sale_id          TEXT PRIMARY KEY NOT NULL REFERENCES sales (id),
    flag             TEXT NOT NULL CHECK (flag IN ('overrun', 'rejected')),
    detail           TEXT,
    flagged_at_ms    INTEGER NOT NULL
) STRICT;
"#,
    ),
    // The PC's own clock reading at the sale, kept beside `sold_at_ms` (which is corrected by
    // the offset to the server's clock) for the audit of a wrong PC clock.
    M::up("ALTER TABLE sales ADD COLUMN pc_sold_at_ms INTEGER;"),
    // Why the server would not take a stock-in or listing change (sales keep theirs in
    // `sales.reject_reason`): the `rejected` state means "needs attention", and a person
    // needs the reason to act on it.
    // The partial index keeps the attention count (read with every status) off a scan of all
    // sales.
    M::up(
        "ALTER TABLE stock_ins ADD COLUMN reject_reason TEXT; \
         ALTER TABLE listing_changes ADD COLUMN reject_reason TEXT; \
         CREATE INDEX sales_attention ON sales (reject_reason) WHERE sync_state = 'rejected';",
    ),
    // The pharmacy's public note (one key at the counter), synced like a listing change but
    // with its own UUIDv7 (the server's idempotency key). `note` NULL clears it.
    M::up(
        "CREATE TABLE public_notes ( \
             seq INTEGER PRIMARY KEY AUTOINCREMENT, \
             id TEXT NOT NULL UNIQUE, \
             note TEXT, \
             set_at_ms INTEGER NOT NULL, \
             sync_state TEXT NOT NULL DEFAULT 'queued' \
                 CHECK (sync_state IN ('queued', 'synced', 'superseded', 'rejected')), \
             reject_reason TEXT, \
             synced_at_ms INTEGER \
         ) STRICT;",
    ),
];

/// The pragmas every connection gets (also used by the raw-insert baseline of the benchmark).
pub const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                           PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

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
        /// The path.
        path: PathBuf,
        /// The cause.
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
    Missing {
        /// The path.
        path: PathBuf,
    },
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
        /// What is wrong.
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
            JournalError::DiskFull(error)
        } else {
            JournalError::Sqlite(error)
        }
    }
}

type Result<T, E = JournalError> = std::result::Result<T, E>;

/// A sale about to be recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSale {
    /// UUIDv7 made at the moment of the sale.
    pub id: Uuid,
    /// Full national ID number (validated).
    pub id_no: String,
    /// Birth date when known.
    pub birth_date: Option<Date>,
    /// Adult or child masks.
    pub kind: BuyerKind,
    /// Masks handed over.
    pub quantity: u32,
    /// When (UTC; stored to the millisecond).
    pub sold_at: OffsetDateTime,
    /// Card or manual.
    pub source: SaleSource,
    /// Decided locally (server unreachable).
    pub offline: bool,
    /// The PC's own clock reading at the sale, when `sold_at` was corrected to the server's
    /// clock (None: no correction known).
    pub pc_sold_at: Option<OffsetDateTime>,
}

impl NewSale {
    /// The instant truncated to what the journal stores, so the receipt, the journal and the
    /// server all carry the very same value.
    pub fn truncate_time(at: OffsetDateTime) -> OffsetDateTime {
        let ms = at.unix_timestamp_nanos() / 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).unwrap_or(at)
    }
}

/// Server-side state of a journaled sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// Not yet acknowledged.
    Queued,
    /// Accepted.
    Accepted,
    /// Recorded but over quota.
    Overrun,
    /// The server would not take it: needs attention. Stored as `rejected`; it stays in the
    /// journal, counts in every local rule and the inventory, and is not sent again.
    Rejected,
}

impl SyncState {
    fn as_str(self) -> &'static str {
        match self {
            SyncState::Queued => "queued",
            SyncState::Accepted => "accepted",
            SyncState::Overrun => "overrun",
            SyncState::Rejected => "rejected",
        }
    }

    fn parse(text: &str) -> Result<SyncState> {
        Ok(match text {
            "queued" => SyncState::Queued,
            "accepted" => SyncState::Accepted,
            "overrun" => SyncState::Overrun,
            "rejected" => SyncState::Rejected,
            other => {
                return Err(JournalError::Corrupt {
                    what: "sales.sync_state",
                    detail: other.into(),
                });
            }
        })
    }
}

/// A server verdict on one sale, applied by [`Journal::apply_sale_results`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleVerdict {
    /// The sale.
    pub id: Uuid,
    /// Accepted, overrun or rejected.
    pub state: SyncState,
    /// Rule broken (overrun) or why rejected.
    pub detail: Option<String>,
    /// When the server recorded it.
    pub server_recorded_at: Option<OffsetDateTime>,
}

/// A stock-in waiting for the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedStockIn {
    /// Idempotency key.
    pub id: Uuid,
    /// Counts.
    pub form: mask_protocol::StockInForm,
    /// When entered.
    pub recorded_at: OffsetDateTime,
}

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

/// A public-note change as journaled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteChange {
    /// Journal sequence.
    pub seq: i64,
    /// UUIDv7, the server's idempotency key.
    pub id: Uuid,
    /// The note; `None` clears it.
    pub note: Option<String>,
    /// When it was set.
    pub set_at: OffsetDateTime,
    /// `queued`, `synced`, `superseded` or `rejected`.
    pub state: String,
}

/// One line of `journal export`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExportRow {
    /// Sale id.
    pub sale_id: String,
    /// Local time (Asia/Taipei), RFC 3339.
    pub sold_at: String,
    /// Masked ID.
    pub id_masked: String,
    /// adult / child.
    pub kind: String,
    /// Masks.
    pub quantity: u32,
    /// card / manual.
    pub source: String,
    /// Offline decision.
    pub offline: bool,
    /// queued / accepted / overrun / rejected.
    pub sync_state: String,
    /// Overrun rule or rejection reason.
    pub detail: String,
    /// The server would not take this sale: a person has to look at it (`detail` says why).
    pub needs_attention: bool,
}

/// Records of one kind that need attention, for one reason.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AttentionGroup {
    /// `sale`, `stock_in` or `listing`.
    pub kind: &'static str,
    /// The server's problem code (or HTTP status) it gave.
    pub reason: String,
    /// How many.
    pub count: u64,
}

/// The listing changes that still need attention: refused, and not overtaken by a later change
/// the server took (the count and the counter's list must agree on this).
macro_rules! listing_needs_attention {
    () => {
        "WHERE sync_state = 'rejected' AND seq > COALESCE( \
         (SELECT MAX(seq) FROM listing_changes WHERE sync_state = 'synced'), 0)"
    };
}

/// The public notes that still need attention, as `listing_needs_attention!` says for listings.
macro_rules! note_needs_attention {
    () => {
        "WHERE sync_state = 'rejected' AND seq > COALESCE( \
         (SELECT MAX(seq) FROM public_notes WHERE sync_state = 'synced'), 0)"
    };
}

/// The journal.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

fn ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(ms: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(|e| {
        JournalError::Corrupt {
            what: "timestamp",
            detail: e.to_string(),
        }
    })
}

fn iso(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn parse_iso(text: &str) -> Result<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, format).map_err(|e| JournalError::Corrupt {
        what: "date",
        detail: e.to_string(),
    })
}

fn kind_str(kind: BuyerKind) -> &'static str {
    match kind {
        BuyerKind::Adult => "adult",
        BuyerKind::Child => "child",
    }
}

fn parse_kind(text: &str) -> Result<BuyerKind> {
    match text {
        "adult" => Ok(BuyerKind::Adult),
        "child" => Ok(BuyerKind::Child),
        other => Err(JournalError::Corrupt {
            what: "sales.kind",
            detail: other.into(),
        }),
    }
}

fn source_str(source: SaleSource) -> &'static str {
    match source {
        SaleSource::Card => "card",
        SaleSource::Manual => "manual",
    }
}

fn parse_source(text: &str) -> Result<SaleSource> {
    match text {
        "card" => Ok(SaleSource::Card),
        "manual" => Ok(SaleSource::Manual),
        other => Err(JournalError::Corrupt {
            what: "sales.source",
            detail: other.into(),
        }),
    }
}

fn parse_uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| JournalError::Corrupt {
        what: "id",
        detail: e.to_string(),
    })
}

impl Journal {
    /// Opens (creating and migrating when needed) the journal at `path`; its directory is
    /// created 0700 and the file 0600.
    pub fn open(path: &Path) -> Result<Journal> {
        Self::open_to(path, Migrations::from_slice(MIGRATIONS))
    }

    /// [`Journal::open`] with only the first `version` migrations: an older agent's journal,
    /// for tests of what newer code does with one.
    pub fn open_at_version(path: &Path, version: usize) -> Result<Journal> {
        Self::open_to(
            path,
            Migrations::from_slice(&MIGRATIONS[..version.min(MIGRATIONS.len())]),
        )
    }

    fn open_to(path: &Path, migrations: Migrations<'_>) -> Result<Journal> {
        if let Some(dir) = path.parent() {
            fsutil::create_private_dir(dir).map_err(|source| JournalError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        fsutil::create_private_file(path).map_err(|source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut conn = Connection::open(path)?;
        conn.execute_batch(PRAGMAS)?;
        migrations.to_latest(&mut conn)?;
        // The -wal and -shm files now exist; make sure they are private even if an older
        // version or another tool created them with a wider mode.
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = PathBuf::from(side);
            if side.exists() {
                fsutil::restrict_file(&side).map_err(|source| JournalError::Io {
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

    /// Direct access for tests and the benchmark (e.g. `PRAGMA max_page_count`).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Records a sale and commits it durably (the WAL is fsync'd before this returns).
    pub fn record_sale(&mut self, sale: &NewSale) -> Result<()> {
        self.record_sales(std::slice::from_ref(sale))
    }

    /// Records several sales in one durable commit (imports, tests, benchmarks).
    pub fn record_sales(&mut self, sales: &[NewSale]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO sales (id, id_no, id_masked, birth_date, kind, quantity, sold_at_ms, \
                 sold_day, source, offline, pc_sold_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for sale in sales {
                insert.execute(params![
                    sale.id.to_string(),
                    sale.id_no,
                    nhi_card::mask_id(&sale.id_no),
                    sale.birth_date.map(iso),
                    kind_str(sale.kind),
                    sale.quantity,
                    ms(sale.sold_at),
                    iso(mask_api::taipei_date(sale.sold_at)),
                    source_str(sale.source),
                    sale.offline,
                    sale.pc_sold_at.map(ms),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Sales per sync state, for tests and `doctor`: (queued, accepted, overrun, rejected).
    pub fn sale_states(&self) -> Result<(u64, u64, u64, u64)> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(sync_state = 'queued'), 0), COALESCE(SUM(sync_state = 'accepted'), 0), \
                    COALESCE(SUM(sync_state = 'overrun'), 0), COALESCE(SUM(sync_state = 'rejected'), 0) FROM sales",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )?)
    }

    /// Earlier purchases of one person at this pharmacy (for the offline decision), newest last.
    /// Sales that need attention count too: the masks were handed over.
    pub fn purchases_of(&self, id_no: &str) -> Result<Vec<Purchase>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sold_at_ms, quantity FROM sales WHERE id_no = ?1 ORDER BY sold_at_ms",
        )?;
        let rows = stmt.query_map([id_no], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, u32>(1)?))
        })?;
        rows.map(|row| {
            let (at, quantity) = row?;
            Ok(Purchase {
                sold_at: from_ms(at)?,
                quantity,
            })
        })
        .collect()
    }

    /// The next `limit` queued sales, oldest first, as the server wants them.
    pub fn queued_sales(&self, limit: usize) -> Result<Vec<mask_api::Sale>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, id_no, birth_date, kind, quantity, sold_at_ms, source, offline \
             FROM sales WHERE sync_state = 'queued' ORDER BY id LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, u32>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, bool>(7)?,
            ))
        })?;
        rows.map(|row| {
            let (id, id_no, birth, kind, quantity, at, source, offline) = row?;
            Ok(mask_api::Sale {
                id: parse_uuid(&id)?,
                id_no: id_no.ok_or(JournalError::Corrupt {
                    what: "sales.id_no",
                    detail: "a queued sale lost its ID number".into(),
                })?,
                birth_date: birth.as_deref().map(parse_iso).transpose()?,
                kind: parse_kind(&kind)?,
                quantity,
                sold_at: from_ms(at)?,
                source: parse_source(&source)?,
                offline,
            })
        })
        .collect()
    }

    /// Applies the server's verdicts in one transaction. Only queued sales change (a verdict
    /// arriving twice changes nothing the second time).
    pub fn apply_sale_results(
        &mut self,
        verdicts: &[SaleVerdict],
        now: OffsetDateTime,
    ) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut changed = 0;
        {
            let mut update = tx.prepare_cached(
                "UPDATE sales SET sync_state = ?2, overrun_reason = ?3, reject_reason = ?4, \
                 server_recorded_at_ms = ?5, synced_at_ms = ?6 WHERE id = ?1 AND sync_state = 'queued'",
            )?;
            let mut flag = tx.prepare_cached(
                "INSERT OR IGNORE INTO sale_flags (sale_id, flag, detail, flagged_at_ms) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for verdict in verdicts {
                let id = verdict.id.to_string();
                let (overrun, reject) = match verdict.state {
                    SyncState::Overrun => (verdict.detail.clone(), None),
                    SyncState::Rejected => (None, verdict.detail.clone()),
                    _ => (None, None),
                };
                let n = update.execute(params![
                    id,
                    verdict.state.as_str(),
                    overrun,
                    reject,
                    verdict.server_recorded_at.map(ms),
                    ms(now),
                ])?;
                changed += n;
                if n > 0 && matches!(verdict.state, SyncState::Overrun | SyncState::Rejected) {
                    flag.execute(params![id, verdict.state.as_str(), verdict.detail, ms(now)])?;
                }
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Sales not yet acknowledged.
    pub fn queued_sale_count(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM sales WHERE sync_state = 'queued'",
            [],
            |row| row.get(0),
        )?)
    }

    /// Stock-ins and listing changes not yet acknowledged.
    pub fn queued_other_count(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM stock_ins WHERE sync_state = 'queued') + \
                    (SELECT COUNT(*) FROM listing_changes WHERE sync_state = 'queued') + \
                    (SELECT COUNT(*) FROM public_notes WHERE sync_state = 'queued')",
            [],
            |row| row.get(0),
        )?)
    }

    /// Sales flagged overrun by the server (all time).
    pub fn overrun_count(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM sale_flags WHERE flag = 'overrun'",
            [],
            |row| row.get(0),
        )?)
    }

    /// All sales in the journal (for tests and doctor).
    pub fn sale_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM sales", [], |row| row.get(0))?)
    }

    /// The sync state of one sale.
    pub fn sale_state(&self, id: Uuid) -> Result<Option<SyncState>> {
        self.conn
            .query_row(
                "SELECT sync_state FROM sales WHERE id = ?1",
                [id.to_string()],
                |row| row.get::<_, String>(0),
            )
            .optional()?
            .map(|s| SyncState::parse(&s))
            .transpose()
    }

    /// Records a stock-in.
    pub fn record_stock_in(&mut self, stock: &QueuedStockIn) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO stock_ins (id, received_adult, received_child, damaged_adult, damaged_child, \
             recorded_at_ms, day) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                stock.id.to_string(),
                stock.form.received_adult,
                stock.form.received_child,
                stock.form.damaged_adult,
                stock.form.damaged_child,
                ms(stock.recorded_at),
                iso(mask_api::taipei_date(stock.recorded_at)),
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Stock-ins waiting for the server, oldest first.
    pub fn queued_stock_ins(&self, limit: usize) -> Result<Vec<QueuedStockIn>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, received_adult, received_child, damaged_adult, damaged_child, recorded_at_ms \
             FROM stock_ins WHERE sync_state = 'queued' ORDER BY id LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                mask_protocol::StockInForm {
                    received_adult: row.get(1)?,
                    received_child: row.get(2)?,
                    damaged_adult: row.get(3)?,
                    damaged_child: row.get(4)?,
                },
                row.get::<_, i64>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (id, form, at) = row?;
            Ok(QueuedStockIn {
                id: parse_uuid(&id)?,
                form,
                recorded_at: from_ms(at)?,
            })
        })
        .collect()
    }

    /// Marks a stock-in acknowledged (`synced`), or refused by the server with `reason`
    /// (`rejected`: needs attention, still counted in the inventory).
    pub fn mark_stock_in(
        &mut self,
        id: Uuid,
        refused: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE stock_ins SET sync_state = ?2, reject_reason = ?4, synced_at_ms = ?3 \
             WHERE id = ?1 AND sync_state = 'queued'",
            params![
                id.to_string(),
                if refused.is_some() {
                    "rejected"
                } else {
                    "synced"
                },
                ms(now),
                refused
            ],
        )?;
        Ok(())
    }

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
        self.mark_latest_state("listing_changes", seq, refused, now)
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

    // ----- the public note: one block, as the listing changes above -----

    /// Records a public note (`None` clears it); an older unsent note is superseded, as only
    /// the latest matters to the public page. Checked by [`mask_api::public_note`] first.
    pub fn record_note(
        &mut self,
        id: Uuid,
        note: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<NoteChange> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE public_notes SET sync_state = 'superseded' WHERE sync_state = 'queued'",
            [],
        )?;
        tx.execute(
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
        self.conn
            .query_row(
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
        self.mark_latest_state("public_notes", seq, refused, now)
    }

    /// Settles a queued row of a latest-state table (`listing_changes`, `public_notes`):
    /// `synced`, or `rejected` with the server's reason. A row superseded meanwhile stays so.
    fn mark_latest_state(
        &mut self,
        table: &'static str,
        seq: i64,
        refused: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let state = if refused.is_some() {
            "rejected"
        } else {
            "synced"
        };
        self.conn.execute(
            &format!(
                "UPDATE {table} SET sync_state = ?2, reject_reason = ?4, synced_at_ms = ?3 \
                 WHERE seq = ?1 AND sync_state = 'queued'"
            ),
            params![seq, state, ms(now), refused],
        )?;
        Ok(())
    }

    /// Stores the policy set fetched from the server.
    pub fn store_policy(&mut self, policy: &PolicySet, fetched_at: OffsetDateTime) -> Result<()> {
        let json = serde_json::to_string(policy).map_err(|e| JournalError::Corrupt {
            what: "policy",
            detail: e.to_string(),
        })?;
        self.conn.execute(
            "INSERT INTO policy_cache (singleton, policy_json, fetched_at_ms) VALUES (1, ?1, ?2) \
             ON CONFLICT (singleton) DO UPDATE SET policy_json = excluded.policy_json, \
             fetched_at_ms = excluded.fetched_at_ms",
            params![json, ms(fetched_at)],
        )?;
        Ok(())
    }

    /// The cached policy set and when it was fetched.
    pub fn cached_policy(&self) -> Result<Option<(PolicySet, OffsetDateTime)>> {
        self.conn
            .query_row(
                "SELECT policy_json, fetched_at_ms FROM policy_cache WHERE singleton = 1",
                [],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)),
            )
            .optional()?
            .map(|(json, at)| {
                let policy = PolicySet::from_json(&json).map_err(|e| JournalError::Corrupt {
                    what: "policy_cache",
                    detail: e.to_string(),
                })?;
                Ok((policy, from_ms(at)?))
            })
            .transpose()
    }

    /// Stores a small value.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Reads a small value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Purges the personal data (ID number, birth date) of sales the server has acknowledged and
    /// that are older than `before`. Masked IDs, quantities and states stay for the books.
    pub fn purge_personal_data(
        &mut self,
        before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE sales SET id_no = NULL, birth_date = NULL, purged_at_ms = ?2 \
             WHERE id_no IS NOT NULL AND sync_state != 'queued' AND sold_at_ms < ?1",
            params![ms(before), ms(now)],
        )?;
        tx.commit()?;
        Ok(n)
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

    /// The sales of one day (Asia/Taipei) for `journal export`, IDs masked.
    pub fn export_day(&self, day: Date) -> Result<Vec<ExportRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, sold_at_ms, id_masked, kind, quantity, source, offline, sync_state, \
             COALESCE(overrun_reason, reject_reason, '') FROM sales WHERE sold_day = ?1 ORDER BY sold_at_ms, id",
        )?;
        let rows = stmt.query_map([iso(day)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, u32>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, bool>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, String>(8)?,
            ))
        })?;
        rows.map(|row| {
            let (sale_id, at, id_masked, kind, quantity, source, offline, sync_state, detail) =
                row?;
            let local = from_ms(at)?.to_offset(mask_api::TAIPEI);
            Ok(ExportRow {
                sale_id,
                sold_at: local
                    .format(&time::format_description::well_known::Rfc3339)
                    .map_err(|e| JournalError::Corrupt {
                        what: "sold_at",
                        detail: e.to_string(),
                    })?,
                id_masked,
                kind,
                quantity,
                source,
                offline,
                needs_attention: sync_state == "rejected",
                sync_state,
                detail,
            })
        })
        .collect()
    }

    /// Runs `f` in one transaction (used by tests and maintenance).
    pub fn with_transaction<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let tx = self.conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Maps a server refusal reason to its stable code for the journal.
pub fn reason_code(reason: Option<RefusalReason>) -> Option<String> {
    reason.map(|r| r.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

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
