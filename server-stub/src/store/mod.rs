//! Storage behind one trait: SQLite (default, one file in the data dir) and PostgreSQL.
//!
//! The quota check of a sale runs *inside* the store's write transaction (against the person's
//! full purchase history, with the same [`mask_api::check_sale`] the agent uses), so two
//! pharmacies selling to one person at the same moment cannot both pass unnoticed.

mod postgres;
mod sqlite;

use std::sync::Arc;

use futures::future::BoxFuture;
use mask_api::{
    AuditSale, Buyer, BuyerKind, PolicySet, Purchase, RefusalReason, SaleFlag, SaleResult,
    SaleSource, SaleStatus,
};
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

pub use postgres::PostgresStore;
pub use sqlite::{DB_FILE, SqliteStore};

use crate::content_hash::ContentHashes;
use crate::open_data::StockRow;
use crate::person_key::PersonKey;
use crate::sites::Site;

/// Storage failures. Each keeps its raw cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// SQLite migrations failed.
    #[error("SQLite migration: {0}")]
    SqliteMigration(#[from] rusqlite_migration::Error),
    /// PostgreSQL failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection from the pool.
    #[error("PostgreSQL pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The PostgreSQL pool could not be built.
    #[error("PostgreSQL pool setup: {0}")]
    PoolSetup(String),
    /// Data dir could not be created or opened.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The path.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The storage worker is gone (server shutting down).
    #[error("storage worker stopped")]
    WorkerGone,
    /// The group commit failed (the write was rolled back; retry).
    #[error("commit failed: {0}")]
    Commit(String),
    /// A batch's histories changed although it held the locks of its persons (a bug); nothing
    /// was written.
    #[error("purchase histories changed under the batch's locks; nothing was written")]
    Busy,
    /// A stored value does not decode (corrupt or foreign data).
    #[error("stored value does not decode: {0}")]
    Corrupt(String),
    /// A stored row holds a value this server never writes (a status it does not know, a
    /// quantity no sale has): the row is corrupt, and is not read as some default.
    #[error("stored row is corrupt: {column} holds {value:?}")]
    CorruptRow {
        /// `table.column`.
        column: &'static str,
        /// The value found.
        value: String,
    },
}

/// Who a token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRole {
    /// A pharmacy: the pharmacy routes, for its own site.
    Pharmacy,
    /// A central auditor: the audit and report routes only, read-only.
    Audit,
}

impl TokenRole {
    /// Stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pharmacy => "pharmacy",
            Self::Audit => "audit",
        }
    }

    /// From the stored code. An unknown code gets no audit rights; as a pharmacy token it is
    /// still held to its own site.
    pub fn parse(s: &str) -> Self {
        if s == "audit" {
            Self::Audit
        } else {
            Self::Pharmacy
        }
    }
}

/// A bearer token as stored (only its SHA-256 hash is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// Site the token acts for (empty for an audit token).
    pub site: String,
    /// Pharmacy or audit.
    pub role: TokenRole,
    /// Expiry, if any.
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// Hex SHA-256 of a token (what is stored and looked up).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hex digits of a token's short id.
pub const TOKEN_ID_LEN: usize = 12;

/// The short id of a stored token: the first 12 hex digits of its hash. It names the token in
/// `token list`, `token revoke` and the eligibility audit; it cannot be turned back into the
/// token (a hash of 256 random bits). 48 bits: two of a few thousand tokens share one with a
/// chance of about 1 in 10^7, and a revoke by id then revokes both (it says how many).
pub fn token_id(hash: &str) -> String {
    hash.chars().take(TOKEN_ID_LEN).collect()
}

/// A stored token as `token list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// Short id: the first [`TOKEN_ID_LEN`] hex digits of the token's hash.
    pub id: String,
    /// Site, role, expiry, revocation.
    pub record: TokenRecord,
    /// When it was issued.
    pub created_at: OffsetDateTime,
}

/// Which tokens a revocation is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSelector {
    /// The token(s) with this short id.
    Id(String),
    /// Every token of this site.
    Site(String),
}

/// One answered eligibility question, as the audit keeps it (never the full ID number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AskRecord {
    /// When it was answered (server clock, milliseconds).
    pub asked_at: OffsetDateTime,
    /// Site of the token.
    pub site: String,
    /// Short id of the token.
    pub token_id: String,
    /// The person's keyed buyer key.
    pub person: PersonKey,
    /// The ID number, masked.
    pub id_masked: String,
}

/// Where a page of the eligibility audit starts and ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AskRange {
    /// Asks strictly after this (asked_at milliseconds, sequence number) come.
    pub after: (i64, i64),
    /// Asks at or after this instant (milliseconds) do not.
    pub before_ms: i64,
    /// Only this site's asks, when given.
    pub site: Option<String>,
    /// Most asks returned.
    pub limit: u32,
}

/// A validated sale ready to be written.
#[derive(Clone, Debug)]
pub struct PreparedSale {
    /// Client UUIDv7.
    pub id: Uuid,
    /// Key the buyer's purchases are filed under.
    pub person: PersonKey,
    /// Masked ID for audit (`A12****789`).
    pub id_masked: String,
    /// Facts for the rules.
    pub buyer: Buyer,
    /// Adult/child masks.
    pub kind: BuyerKind,
    /// Masks.
    pub quantity: u32,
    /// When sold.
    pub sold_at: OffsetDateTime,
    /// Card/manual.
    pub source: SaleSource,
    /// Sold offline.
    pub offline: bool,
    /// Content hashes of the sale (replay vs conflict, see `content_hash`).
    pub hashes: ContentHashes,
    /// Audit flags found when it arrived.
    pub flags: Vec<SaleFlag>,
}

/// One recorded sale of a person as the rules and the eligibility union need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldSale {
    /// Sale id (the tie-break of the order, and what deduplicates unsynced sales).
    pub id: Uuid,
    /// When sold.
    pub sold_at: OffsetDateTime,
    /// Masks.
    pub quantity: u32,
}

impl HeldSale {
    /// The order sales are judged in.
    pub fn order_key(&self) -> (OffsetDateTime, Uuid) {
        (self.sold_at, self.id)
    }

    /// As the rules take it.
    pub fn purchase(&self) -> Purchase {
        Purchase {
            sold_at: self.sold_at,
            quantity: self.quantity,
        }
    }
}

/// A batch of sales of one site.
#[derive(Clone, Debug)]
pub struct SalesWrite {
    /// The site.
    pub site: String,
    /// Server time of receipt.
    pub now: OffsetDateTime,
    /// Sales in request order.
    pub sales: Vec<PreparedSale>,
    /// Rules to check them against.
    pub policies: Arc<PolicySet>,
}

/// Outcome of a batch: one result per sale, in request order: recorded, replayed, or
/// `conflict` (the id was recorded before with other content; nothing of it written).
#[derive(Clone, Debug)]
pub struct SalesOutcome(pub Vec<SaleResult>);

/// The result of a sale whose id was recorded before with other content.
pub(crate) fn conflict_result(sale: &PreparedSale, now: OffsetDateTime) -> SaleResult {
    SaleResult {
        id: sale.id,
        status: SaleStatus::Conflict,
        overrun_reason: None,
        recorded_at: now,
        replayed: false,
        flags: Vec::new(),
        problem: Some(mask_api::ProblemItem {
            index: None,
            id: Some(sale.id.to_string()),
            code: mask_api::ErrorCode::IdempotencyConflict,
            detail: "this id was recorded before with different content; nothing was recorded. \
                     Each sale needs its own new id."
                .into(),
        }),
    }
}

/// A stock-in ready to be written.
#[derive(Clone, Debug)]
pub struct StockWrite {
    /// Client id.
    pub id: Uuid,
    /// The site.
    pub site: String,
    /// Inventory day (Asia/Taipei date of `recorded_at`).
    pub day: Date,
    /// Received adult masks.
    pub received_adult: u32,
    /// Received child masks.
    pub received_child: u32,
    /// Damaged adult masks.
    pub damaged_adult: u32,
    /// Damaged child masks.
    pub damaged_child: u32,
    /// Client's time.
    pub recorded_at: OffsetDateTime,
    /// Content hashes (replay vs conflict).
    pub hashes: ContentHashes,
}

/// Outcome of a stock-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockOutcome {
    /// Written now (`false`) or seen before with the same content (`true`).
    Recorded {
        /// Replay.
        replayed: bool,
        /// The day it counts on (the original's, for a replay).
        day: Date,
    },
    /// Seen before with other content: nothing written.
    Conflict,
}

/// Totals of one site on one day plus the stock on hand at its end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayTotals {
    /// Received adult.
    pub received_adult: i64,
    /// Received child.
    pub received_child: i64,
    /// Sold adult.
    pub sold_adult: i64,
    /// Sold child.
    pub sold_child: i64,
    /// Damaged adult.
    pub damaged_adult: i64,
    /// Damaged child.
    pub damaged_child: i64,
    /// On hand at the end of the day, adult.
    pub remaining_adult: i64,
    /// On hand at the end of the day, child.
    pub remaining_child: i64,
}

/// Masks of one site sold in one 3-hour slot of one day (a row of the report's `GROUP BY`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoldSlot {
    /// Site code.
    pub site: String,
    /// Day (Asia/Taipei).
    pub day: Date,
    /// Slot of the day, 0..8 (Asia/Taipei hours `3 × slot` to `3 × slot + 3`).
    pub slot: u8,
    /// Adult masks.
    pub adult: i64,
    /// Child masks.
    pub child: i64,
}

/// The net change of one site's stock on one day: received − damaged − sold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetDay {
    /// Site code.
    pub site: String,
    /// Day (Asia/Taipei).
    pub day: Date,
    /// Adult masks.
    pub adult: i64,
    /// Child masks.
    pub child: i64,
}

/// What the sales report is made of, read in one consistent snapshot of the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportRows {
    /// Sales of the range grouped by site, day and slot.
    pub sold: Vec<SoldSlot>,
    /// Every site's net stock change per day, from the first day of the range on (later days
    /// included: the stock at the end of a day is the stock now less every later change).
    pub net: Vec<NetDay>,
    /// Every site's stock now.
    pub stock: Vec<StockRow>,
}

/// Slot (0..8) of an instant given as unix milliseconds: Asia/Taipei hour / 3. Both stores
/// compute the same in SQL; this is what their tests compare against.
#[cfg(test)]
pub fn slot_of_ms(ms: i64) -> u8 {
    const TAIPEI_MS: i64 = 8 * 3_600_000;
    const SLOT_MS: i64 = 3 * 3_600_000;
    // rem_euclid keeps instants before 1970 in 0..8 too.
    u8::try_from((ms + TAIPEI_MS).div_euclid(SLOT_MS).rem_euclid(8)).unwrap_or(0)
}

/// Listing state of a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Listed.
    pub listed: bool,
    /// Last change (or the seeding time).
    pub changed_at: OffsetDateTime,
}

/// A public note ready to be written (`POST /v1/note`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteWrite {
    /// Client id (idempotency key).
    pub id: Uuid,
    /// The site.
    pub site: String,
    /// The note, trimmed; `None` clears it.
    pub note: Option<String>,
    /// The counter's time as sent (compared on a replay).
    pub set_at: OffsetDateTime,
    /// When it counts as set: `set_at`, but never later than the server's clock at arrival.
    pub changed_at: OffsetDateTime,
    /// The server's clock at arrival.
    pub recorded_at: OffsetDateTime,
}

/// Outcome of a public note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoteOutcome {
    /// Written now (`replayed: false`) or seen before with the same content.
    Recorded {
        /// Replay.
        replayed: bool,
        /// When it counts as set (the original's, for a replay).
        changed_at: OffsetDateTime,
        /// It is the site's note now (no note set later had arrived).
        current: bool,
    },
    /// Seen before with other content: nothing written.
    Conflict,
}

/// The storage operations the server needs. Every write is durable when its future resolves
/// (SQLite `synchronous=FULL`, PostgreSQL commit).
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn kind(&self) -> &'static str;
    /// Seeds sites with their opening stock (listed) unless already seeded; `true` if seeded now.
    fn seed_sites(
        &self,
        sites: Vec<Site>,
        at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Stores a token hash for a site.
    fn insert_token(
        &self,
        hash: String,
        record: TokenRecord,
        created_at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Looks a token hash up.
    fn find_token(&self, hash: String) -> BoxFuture<'_, Result<Option<TokenRecord>, StoreError>>;
    /// Every stored token, in the order issued.
    fn list_tokens(&self) -> BoxFuture<'_, Result<Vec<TokenInfo>, StoreError>>;
    /// Revokes the selected tokens not revoked yet and bumps the token generation (in one
    /// transaction); returns (tokens selected, tokens revoked now).
    fn revoke_tokens(
        &self,
        which: TokenSelector,
        at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<(u64, u64), StoreError>>;
    /// Stores a new pharmacy token for `record.site` and lets every other unrevoked pharmacy
    /// token of that site expire at `old_until` at the latest, bumping the token generation (in
    /// one transaction); returns how many old tokens now expire by then.
    fn rotate_site_token(
        &self,
        hash: String,
        record: TokenRecord,
        created_at: OffsetDateTime,
        old_until: OffsetDateTime,
    ) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// A number that changes whenever a stored token is revoked or shortened: servers poll it
    /// and forget their cached tokens when it moves.
    fn token_generation(&self) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// Appends answered eligibility questions to the audit (one transaction for all).
    fn record_asks(&self, asks: Vec<AskRecord>) -> BoxFuture<'_, Result<(), StoreError>>;
    /// A page of the eligibility audit, in (asked_at, sequence) order, each with its sequence
    /// number.
    fn asks(&self, range: AskRange) -> BoxFuture<'_, Result<Vec<(i64, AskRecord)>, StoreError>>;
    /// A value of the server's own settings table (`server_meta`).
    fn meta(&self, key: &'static str) -> BoxFuture<'_, Result<Option<String>, StoreError>>;
    /// Stores a `server_meta` value unless the key has one; returns the value now stored
    /// (the given one, or the earlier one).
    fn meta_insert_absent(
        &self,
        key: &'static str,
        value: String,
    ) -> BoxFuture<'_, Result<String, StoreError>>;
    /// Every recorded sale of a person (any site).
    fn purchases(&self, person: PersonKey) -> BoxFuture<'_, Result<Vec<HeldSale>, StoreError>>;
    /// Records a batch of sales atomically, checking each against the rules.
    fn record_sales(&self, write: SalesWrite) -> BoxFuture<'_, Result<SalesOutcome, StoreError>>;
    /// Records a stock-in idempotently.
    fn record_stock(&self, write: StockWrite) -> BoxFuture<'_, Result<StockOutcome, StoreError>>;
    /// Inventory of a site on a day.
    fn day_totals(&self, site: String, day: Date) -> BoxFuture<'_, Result<DayTotals, StoreError>>;
    /// Sets the listing state.
    fn set_listing(
        &self,
        site: String,
        listed: bool,
        at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<Listing, StoreError>>;
    /// Records a public note idempotently by id; it becomes the site's note unless a note set
    /// later (by `changed_at`, then id) is already there.
    fn record_note(&self, write: NoteWrite) -> BoxFuture<'_, Result<NoteOutcome, StoreError>>;
    /// Current stock, listing and public note of every site (for the open data).
    fn stock_rows(&self) -> BoxFuture<'_, Result<Vec<StockRow>, StoreError>>;
    /// The sales report's rows for `from..=to` (Asia/Taipei days), read in one snapshot.
    fn report_rows(&self, from: Date, to: Date) -> BoxFuture<'_, Result<ReportRows, StoreError>>;
    /// Every sale sold on `from..=to` (Asia/Taipei days) that is overrun or has a flag, in
    /// (sold_at, id) order.
    fn audit_sales(
        &self,
        from: Date,
        to: Date,
    ) -> BoxFuture<'_, Result<Vec<AuditSale>, StoreError>>;
}

/// Shared handle to a store.
pub type DynStore = Arc<dyn Store>;

/// Masks one site's new sales sold, per Asia/Taipei day, so the day totals and the stock are
/// written once per batch rather than once per sale.
#[derive(Debug, Default)]
pub(crate) struct SoldTotals {
    /// Adult and child masks per day.
    pub by_day: std::collections::BTreeMap<Date, (i64, i64)>,
}

impl SoldTotals {
    /// Counts one new sale.
    pub fn add(&mut self, sale: &PreparedSale) {
        let quantity = i64::from(sale.quantity);
        let day = self
            .by_day
            .entry(mask_api::taipei_date(sale.sold_at))
            .or_default();
        match sale.kind {
            BuyerKind::Adult => day.0 += quantity,
            BuyerKind::Child => day.1 += quantity,
        }
    }

    /// Adult and child masks over all days (what leaves the site's stock).
    pub fn total(&self) -> (i64, i64) {
        self.by_day
            .values()
            .fold((0, 0), |(a, c), (da, dc)| (a + da, c + dc))
    }
}

/// Status and overrun reason of a sale.
pub(crate) type Judgement = (SaleStatus, Option<RefusalReason>);

fn judge_one(
    policies: &PolicySet,
    buyer: &Buyer,
    history: &[Purchase],
    quantity: u32,
    sold_at: OffsetDateTime,
) -> Judgement {
    match mask_api::check_sale(policies, buyer, history, quantity, sold_at) {
        mask_api::SaleCheck::Within => (SaleStatus::Accepted, None),
        mask_api::SaleCheck::Overrun(reason) => (SaleStatus::Overrun, Some(reason)),
    }
}

/// Judges a new sale against the person's sales ordered before it by (sold_at, id), and, when
/// it is not the person's latest, re-judges every held sale ordered after it (its window may
/// have shifted either way). The later sales are judged with this sale's buyer facts: the same
/// person (same key), and the stored rows keep no birth date.
///
/// The common case, a sale later than all held ones, reads nothing more and re-judges nothing.
pub(crate) fn judge_in_order(
    policies: &PolicySet,
    sale: &PreparedSale,
    held: &[HeldSale],
) -> (Judgement, Vec<(Uuid, Judgement)>) {
    let key = (sale.sold_at, sale.id);
    if held.iter().all(|h| h.order_key() < key) {
        let history: Vec<Purchase> = held.iter().map(HeldSale::purchase).collect();
        let own = judge_one(policies, &sale.buyer, &history, sale.quantity, sale.sold_at);
        return (own, Vec::new());
    }
    let mut ordered = held.to_vec();
    ordered.sort_unstable_by_key(HeldSale::order_key);
    let split = ordered.partition_point(|h| h.order_key() < key);
    let mut history: Vec<Purchase> = ordered[..split].iter().map(HeldSale::purchase).collect();
    let own = judge_one(policies, &sale.buyer, &history, sale.quantity, sale.sold_at);
    history.push(Purchase {
        sold_at: sale.sold_at,
        quantity: sale.quantity,
    });
    let mut later = Vec::with_capacity(ordered.len() - split);
    for h in &ordered[split..] {
        let judged = judge_one(policies, &sale.buyer, &history, h.quantity, h.sold_at);
        later.push((h.id, judged));
        history.push(h.purchase());
    }
    (own, later)
}

/// Wire code ↔ enum helpers for stored columns, and the one parser of a stored sale row that
/// both stores use: a value the server never writes is [`StoreError::CorruptRow`].
pub(crate) mod codes {
    use mask_api::{
        AuditSale, BuyerKind, RefusalReason, SaleFlag, SaleResult, SaleSource, SaleStatus,
    };
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::{HeldSale, StoreError};

    pub fn kind(k: BuyerKind) -> &'static str {
        k.as_str()
    }
    pub fn source(s: SaleSource) -> &'static str {
        s.as_str()
    }
    pub fn status(s: SaleStatus) -> &'static str {
        match s {
            SaleStatus::Accepted => "accepted",
            SaleStatus::Overrun => "overrun",
            // Never stored: these are answers about sales that were not recorded.
            SaleStatus::Rejected => "rejected",
            SaleStatus::Conflict => "conflict",
        }
    }
    /// A stored status: only `accepted` and `overrun` are ever written.
    pub fn parse_status(s: &str) -> Result<SaleStatus, StoreError> {
        match s {
            "accepted" => Ok(SaleStatus::Accepted),
            "overrun" => Ok(SaleStatus::Overrun),
            other => Err(corrupt("sales.status", other)),
        }
    }
    /// A stored buyer kind.
    pub fn parse_kind(s: &str) -> Result<BuyerKind, StoreError> {
        s.parse().map_err(|_| corrupt("sales.kind", s))
    }
    /// A stored quantity: a sale hands over at least one mask.
    pub fn parse_quantity(q: i64) -> Result<u32, StoreError> {
        u32::try_from(q)
            .ok()
            .filter(|q| *q > 0)
            .ok_or_else(|| corrupt("sales.quantity", q))
    }
    /// Flags as stored: their codes joined by commas (empty for none).
    pub fn flags(flags: &[SaleFlag]) -> String {
        flags
            .iter()
            .map(SaleFlag::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
    pub fn parse_flags(s: &str) -> Vec<SaleFlag> {
        s.split(',')
            .filter(|c| !c.is_empty())
            .map(SaleFlag::from_code)
            .collect()
    }
    /// A stored overrun reason; a code of a newer server is kept as [`RefusalReason::Other`],
    /// as it is on the wire.
    pub fn parse_reason(s: Option<String>) -> Option<RefusalReason> {
        s.map(RefusalReason::from)
    }

    fn corrupt(column: &'static str, value: impl ToString) -> StoreError {
        StoreError::CorruptRow {
            column,
            value: value.to_string(),
        }
    }

    /// One held sale of a person's history.
    pub fn held_sale(
        id: Uuid,
        sold_at: OffsetDateTime,
        quantity: i64,
    ) -> Result<HeldSale, StoreError> {
        Ok(HeldSale {
            id,
            sold_at,
            quantity: parse_quantity(quantity)?,
        })
    }

    /// The answer replayed for a sale id recorded before with the same content.
    pub fn replayed_result(
        id: Uuid,
        status: &str,
        overrun_reason: Option<String>,
        recorded_at: OffsetDateTime,
        flags: &str,
    ) -> Result<SaleResult, StoreError> {
        Ok(SaleResult {
            id,
            status: parse_status(status)?,
            overrun_reason: parse_reason(overrun_reason),
            recorded_at,
            replayed: true,
            flags: parse_flags(flags),
            problem: None,
        })
    }

    /// A row of the sales audit, its columns as both stores read them.
    pub struct AuditRow {
        pub id: Uuid,
        pub site: String,
        pub id_masked: String,
        pub kind: String,
        pub quantity: i64,
        pub sold_at: OffsetDateTime,
        pub recorded_at: OffsetDateTime,
        pub status: String,
        pub overrun_reason: Option<String>,
        pub flags: String,
        pub offline: bool,
    }

    impl AuditRow {
        pub fn parse(self) -> Result<AuditSale, StoreError> {
            Ok(AuditSale {
                id: self.id,
                site: self.site,
                id_masked: self.id_masked,
                kind: parse_kind(&self.kind)?,
                quantity: parse_quantity(self.quantity)?,
                sold_at: self.sold_at,
                recorded_at: self.recorded_at,
                status: parse_status(&self.status)?,
                overrun_reason: parse_reason(self.overrun_reason),
                flags: parse_flags(&self.flags),
                offline: self.offline,
            })
        }
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used)]
        use super::*;

        #[test]
        fn only_values_the_server_writes_parse() {
            assert_eq!(parse_status("accepted").unwrap(), SaleStatus::Accepted);
            assert_eq!(parse_status("overrun").unwrap(), SaleStatus::Overrun);
            for bad in ["", "rejected", "conflict", "Accepted", "bogus"] {
                assert!(
                    matches!(
                        parse_status(bad),
                        Err(StoreError::CorruptRow {
                            column: "sales.status",
                            ..
                        })
                    ),
                    "{bad}"
                );
            }
            assert_eq!(parse_quantity(3).unwrap(), 3);
            for bad in [0, -1, i64::from(u32::MAX) + 1] {
                assert!(
                    matches!(
                        parse_quantity(bad),
                        Err(StoreError::CorruptRow {
                            column: "sales.quantity",
                            ..
                        })
                    ),
                    "{bad}"
                );
            }
            assert!(parse_kind("teen").is_err());
        }
    }
}

/// Unix milliseconds of an instant (storage format of instants).
pub(crate) fn to_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Instant from unix milliseconds.
pub(crate) fn from_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// `YYYY-MM-DD` of a date (storage format of days).
pub(crate) fn day_text(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Date from `YYYY-MM-DD`.
pub(crate) fn parse_day(s: &str) -> Result<Date, StoreError> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|e| StoreError::Corrupt(format!("day {s:?}: {e}")))
}

/// What both stores' tests of a corrupt sale row check.
#[cfg(test)]
pub(crate) mod corrupt_row_test {
    use super::{Store, StoreError};
    use crate::person_key::PersonKey;

    /// The store's only sale (of `person`, sold on 2020-03-12, flagged so the audit lists it)
    /// holds a bad value in `column` (`sales.quantity` or `sales.status`): reading it is
    /// [`StoreError::CorruptRow`] naming that column, not a default.
    pub async fn check(store: &dyn Store, person: PersonKey, column: &str) {
        let named = |error: StoreError| {
            assert!(
                matches!(&error, StoreError::CorruptRow { column: c, .. } if *c == column),
                "{error}"
            );
        };
        let history = store.purchases(person).await;
        if column == "sales.quantity" {
            named(history.expect_err("a history with a bad quantity"));
        } else {
            assert!(
                history.is_ok_and(|h| h.len() == 1),
                "the history reads no status"
            );
        }
        let day = time::macros::date!(2020 - 03 - 12);
        named(
            store
                .audit_sales(day, day)
                .await
                .expect_err("an audit row with a bad value"),
        );
    }
}
