//! PostgreSQL store (tokio-postgres + deadpool), for when one SQLite file is not enough.
//!
//! Same operations and semantics as the SQLite store. Concurrency: concurrent sales batches are
//! written in groups by one call that takes transaction-scoped advisory locks on every person,
//! sale id and site it touches (sorted, so writers never deadlock), checks that nothing changed
//! since the histories were read, and writes ([`sales`]); eligibility histories are read in
//! groups too ([`histories`]). A commit is durable with PostgreSQL's default
//! `synchronous_commit = on`.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::future::BoxFuture;
use mask_api::AuditSale;
use time::{Date, OffsetDateTime};
use tokio_postgres::{NoTls, Transaction};

use super::{
    AskRange, AskRecord, DayTotals, HeldSale, Listing, ReportRows, SalesOutcome, SalesWrite,
    StockOutcome, StockWrite, Store, StoreError, TOKEN_ID_LEN, TokenInfo, TokenRecord, TokenRole,
    TokenSelector, codes, from_ms,
};
use crate::content_hash::HASH_VERSION;
use crate::open_data::StockRow;
use crate::person_key::PersonKey;
use crate::sites::Site;

mod histories;
mod notes;
mod reports;
mod sales;

/// Ordered migrations; `schema_migrations` remembers how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("postgres/migrations/001_schema.sql"),
    include_str!("postgres/migrations/002_binary_person_keys.sql"),
    include_str!("postgres/migrations/003_record_sales_function.sql"),
    include_str!("postgres/migrations/004_flags_hash_versions_token_roles.sql"),
    include_str!("postgres/migrations/005_token_revocation_and_asks.sql"),
    include_str!("postgres/migrations/006_report_indexes.sql"),
    include_str!("postgres/migrations/007_public_notes.sql"),
];

/// Advisory-lock key space of this server's migrations.
const MIGRATION_LOCK: i64 = 0x6d61_736b_0001;

pub struct PostgresStore {
    pool: Pool,
    sales: sales::GroupWriter,
    histories: histories::GroupReader,
}

impl PostgresStore {
    /// Connects (`postgres://user:pass@host:port/db`) and runs pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)?;
        // Every statement here is a key lookup or a write whose best plan does not depend on
        // the values. Left to choose, PostgreSQL re-plans the array statements of a sales batch
        // on every execution (a generic plan assumes ten array elements, so it always looks
        // dearer than a custom one for the one element of a counter sale), which was a tenth
        // of its CPU under load.
        let options = match config.get_options() {
            Some(given) => format!("{given} -c plan_cache_mode=force_generic_plan"),
            None => "-c plan_cache_mode=force_generic_plan".to_owned(),
        };
        config.options(options);
        if config.get_application_name().is_none() {
            config.application_name("mask-server-stub");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(8)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::PoolSetup(e.to_string()))?;
        migrate(&pool).await?;
        Ok(Self {
            sales: sales::GroupWriter::spawn(pool.clone()),
            histories: histories::GroupReader::spawn(pool.clone()),
            pool,
        })
    }
}

/// A pooled connection that is closed instead of going back to the pool while a transaction
/// the caller began by hand (`BEGIN`) may still be open on it. deadpool's fast recycling only
/// checks that the socket is alive; a connection returned inside a transaction, after a panic
/// or a cancelled future between `BEGIN` and `COMMIT`, would make the next user's writes part
/// of a transaction nobody commits: acknowledged, then lost. Closing it makes the server roll
/// the transaction back. Costs nothing on the normal path.
pub(super) struct Checkout {
    client: Option<deadpool_postgres::Client>,
    in_transaction: bool,
}

impl Checkout {
    pub(super) async fn get(pool: &Pool) -> Result<Self, StoreError> {
        Ok(Self {
            client: Some(pool.get().await?),
            in_transaction: false,
        })
    }

    /// Call before `BEGIN`: until [`Self::ended_transaction`], dropping this closes the
    /// connection.
    pub(super) fn beginning_transaction(&mut self) {
        self.in_transaction = true;
    }

    /// Call once `COMMIT` or `ROLLBACK` succeeded.
    pub(super) fn ended_transaction(&mut self) {
        self.in_transaction = false;
    }
}

impl std::ops::Deref for Checkout {
    type Target = deadpool_postgres::Client;

    fn deref(&self) -> &Self::Target {
        // Only `drop` takes the client out.
        self.client.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if self.in_transaction
            && let Some(client) = self.client.take()
        {
            tracing::warn!("closing a database connection left inside a transaction");
            drop(deadpool_postgres::Client::take(client));
        }
    }
}

/// Fault points for tests: a sale id registered here makes its group take the locked path at
/// once and panic inside that transaction.
#[cfg(test)]
pub(super) mod fault {
    use std::sync::Mutex;

    use crate::store::SalesWrite;

    pub(in crate::store) static PANIC_IN_LOCKED_TRANSACTION: Mutex<Vec<uuid::Uuid>> =
        Mutex::new(Vec::new());

    pub(super) fn armed(writes: &[&SalesWrite]) -> bool {
        let ids = PANIC_IN_LOCKED_TRANSACTION
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        writes
            .iter()
            .flat_map(|w| &w.sales)
            .any(|s| ids.contains(&s.id))
    }

    pub(super) fn point(writes: &[&SalesWrite]) {
        assert!(
            !armed(writes),
            "injected fault inside the locked transaction"
        );
    }
}

#[cfg(not(test))]
pub(super) mod fault {
    use crate::store::SalesWrite;

    pub(super) fn armed(_: &[&SalesWrite]) -> bool {
        false
    }

    pub(super) fn point(_: &[&SalesWrite]) {}
}

/// Runs pending migrations (one server at a time: a transaction-scoped advisory lock).
async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL)")
        .await?;
    let done: i64 = tx
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .await?
        .get(0);
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(done).unwrap_or(0))
    {
        tx.batch_execute(sql).await?;
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A token row of `SELECT site, expires_at, role, revoked_at ...`.
fn token_record(r: &tokio_postgres::Row) -> TokenRecord {
    TokenRecord {
        site: r.get(0),
        expires_at: r.get(1),
        role: TokenRole::parse(r.get(2)),
        revoked_at: r.get(3),
    }
}

/// One row of `tokens` (issuing and rotating both write it this way).
async fn insert_token_row(
    client: &impl deadpool_postgres::GenericClient,
    hash: &str,
    record: &TokenRecord,
    created_at: OffsetDateTime,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO tokens (hash, site, created_at, expires_at, role)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &hash,
                &record.site,
                &created_at,
                &record.expires_at,
                &record.role.as_str(),
            ],
        )
        .await?;
    Ok(())
}

async fn bump_token_generation(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE token_state SET generation = generation + 1 WHERE id = 1",
        &[],
    )
    .await?;
    Ok(())
}

/// Advisory-lock key of a value (the first 8 bytes of its SHA-256).
fn lock_key(bytes: &[u8]) -> i64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(bytes);
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

impl Store for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn seed_sites(
        &self,
        sites: Vec<Site>,
        at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            let count: i64 = tx
                .query_one("SELECT COUNT(*) FROM sites", &[])
                .await?
                .get(0);
            if count > 0 {
                return Ok(false);
            }
            let stmt = tx
                .prepare("INSERT INTO sites (code, adult, child, listed, listing_changed_at) VALUES ($1, $2, $3, TRUE, $4)")
                .await?;
            for s in &sites {
                tx.execute(&stmt, &[&s.code, &s.opening_adult, &s.opening_child, &at])
                    .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    fn insert_token(
        &self,
        hash: String,
        record: TokenRecord,
        created_at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            insert_token_row(&client, &hash, &record, created_at).await
        })
    }

    fn find_token(&self, hash: String) -> BoxFuture<'_, Result<Option<TokenRecord>, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT site, expires_at, role, revoked_at FROM tokens WHERE hash = $1",
                )
                .await?;
            let row = client.query_opt(&stmt, &[&hash]).await?;
            Ok(row.map(|r| token_record(&r)))
        })
    }

    fn list_tokens(&self) -> BoxFuture<'_, Result<Vec<TokenInfo>, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT site, expires_at, role, revoked_at, created_at, hash FROM tokens
                     ORDER BY created_at, hash",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| TokenInfo {
                    id: super::token_id(r.get(5)),
                    record: token_record(r),
                    created_at: r.get(4),
                })
                .collect())
        })
    }

    fn revoke_tokens(
        &self,
        which: TokenSelector,
        at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<(u64, u64), StoreError>> {
        Box::pin(async move {
            let (filter, value) = match &which {
                TokenSelector::Id(id) => (
                    format!("substr(hash, 1, {TOKEN_ID_LEN}) = $1"),
                    id.to_ascii_lowercase(),
                ),
                TokenSelector::Site(site) => ("site = $1".to_owned(), site.clone()),
            };
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let selected: i64 = tx
                .query_one(
                    &format!("SELECT COUNT(*) FROM tokens WHERE {filter}"),
                    &[&value],
                )
                .await?
                .get(0);
            let revoked = tx
                .execute(
                    &format!(
                        "UPDATE tokens SET revoked_at = $2 WHERE {filter} AND revoked_at IS NULL"
                    ),
                    &[&value, &at],
                )
                .await?;
            if revoked > 0 {
                bump_token_generation(&tx).await?;
            }
            tx.commit().await?;
            Ok((u64::try_from(selected).unwrap_or(0), revoked))
        })
    }

    fn rotate_site_token(
        &self,
        hash: String,
        record: TokenRecord,
        created_at: OffsetDateTime,
        old_until: OffsetDateTime,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let shortened = tx
                .execute(
                    "UPDATE tokens SET expires_at = LEAST(COALESCE(expires_at, $2), $2)
                     WHERE site = $1 AND role = 'pharmacy' AND revoked_at IS NULL
                       AND (expires_at IS NULL OR expires_at > $3)",
                    &[&record.site, &old_until, &created_at],
                )
                .await?;
            insert_token_row(&tx, &hash, &record, created_at).await?;
            bump_token_generation(&tx).await?;
            tx.commit().await?;
            Ok(shortened)
        })
    }

    fn token_generation(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let stmt = client
                .prepare_cached("SELECT generation FROM token_state WHERE id = 1")
                .await?;
            Ok(client.query_one(&stmt, &[]).await?.get(0))
        })
    }

    fn record_asks(&self, asks: Vec<AskRecord>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            // One statement for the whole batch, whatever its size.
            let mut at = Vec::with_capacity(asks.len());
            let mut site = Vec::with_capacity(asks.len());
            let mut token = Vec::with_capacity(asks.len());
            let mut person = Vec::with_capacity(asks.len());
            let mut masked = Vec::with_capacity(asks.len());
            for a in &asks {
                at.push(a.asked_at);
                site.push(a.site.as_str());
                token.push(a.token_id.as_str());
                person.push(&a.person.as_bytes()[..]);
                masked.push(a.id_masked.as_str());
            }
            let client = self.pool.get().await?;
            let stmt = client
                .prepare_cached(
                    "INSERT INTO eligibility_asks (asked_at, site, token_id, person, id_masked)
                     SELECT a, s, t, p, m FROM unnest($1::TIMESTAMPTZ[], $2::TEXT[], $3::TEXT[],
                        $4::BYTEA[], $5::TEXT[]) WITH ORDINALITY AS u (a, s, t, p, m, n)
                     ORDER BY n",
                )
                .await?;
            client
                .execute(&stmt, &[&at, &site, &token, &person, &masked])
                .await?;
            Ok(())
        })
    }

    fn asks(&self, range: AskRange) -> BoxFuture<'_, Result<Vec<(i64, AskRecord)>, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let after = from_ms(range.after.0)?;
            let before = from_ms(range.before_ms)?;
            let rows = client
                .query(
                    "SELECT seq, asked_at, site, token_id, person, id_masked FROM eligibility_asks
                     WHERE (asked_at, seq) > ($1, $2) AND asked_at < $3
                       AND ($4::TEXT IS NULL OR site = $4)
                     ORDER BY asked_at, seq LIMIT $5",
                    &[
                        &after,
                        &range.after.1,
                        &before,
                        &range.site,
                        &i64::from(range.limit),
                    ],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let person = PersonKey::from_slice(r.get(4))
                        .ok_or_else(|| StoreError::Corrupt("person key of an ask".into()))?;
                    Ok((
                        r.get(0),
                        AskRecord {
                            asked_at: r.get(1),
                            site: r.get(2),
                            token_id: r.get(3),
                            person,
                            id_masked: r.get(5),
                        },
                    ))
                })
                .collect()
        })
    }

    fn meta(&self, key: &'static str) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let row = client
                .query_opt("SELECT value FROM server_meta WHERE key = $1", &[&key])
                .await?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn meta_insert_absent(
        &self,
        key: &'static str,
        value: String,
    ) -> BoxFuture<'_, Result<String, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO server_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                    &[&key, &value],
                )
                .await?;
            let row = client
                .query_one("SELECT value FROM server_meta WHERE key = $1", &[&key])
                .await?;
            Ok(row.get(0))
        })
    }

    fn purchases(&self, person: PersonKey) -> BoxFuture<'_, Result<Vec<HeldSale>, StoreError>> {
        Box::pin(self.histories.history(person))
    }

    fn record_sales(&self, w: SalesWrite) -> BoxFuture<'_, Result<SalesOutcome, StoreError>> {
        Box::pin(async move { self.sales.record(w).await })
    }

    fn record_stock(&self, w: StockWrite) -> BoxFuture<'_, Result<StockOutcome, StoreError>> {
        Box::pin(async move {
            // Every statement prepared once per connection, and the day's four counts in one
            // upsert: at 08:00 every site enters its delivery within minutes, and each round
            // trip held one of the pool's connections (mask-launch-day on PostgreSQL: stock-ins
            // p50 62 ms, p99 866 ms inside the server with a prepare per statement and an
            // upsert per count).
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let lock = tx
                .prepare_cached("SELECT pg_advisory_xact_lock($1)")
                .await?;
            tx.execute(&lock, &[&lock_key(w.id.as_bytes())]).await?;
            let existing = tx
                .prepare_cached(
                    "SELECT content_hash, hash_version, site, day FROM stock_ins WHERE id = $1",
                )
                .await?;
            if let Some(row) = tx.query_opt(&existing, &[&w.id]).await? {
                return Ok(if w.hashes.matches(row.get(0), row.get(1), row.get(2)) {
                    StockOutcome::Recorded {
                        replayed: true,
                        day: row.get(3),
                    }
                } else {
                    StockOutcome::Conflict
                });
            }
            let n = |v: u32| i64::from(v);
            let insert = tx
                .prepare_cached(
                    "INSERT INTO stock_ins (id, site, day, received_adult, received_child,
                        damaged_adult, damaged_child, recorded_at, content_hash, hash_version)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .await?;
            tx.execute(
                &insert,
                &[
                    &w.id,
                    &w.site,
                    &w.day,
                    &n(w.received_adult),
                    &n(w.received_child),
                    &n(w.damaged_adult),
                    &n(w.damaged_child),
                    &w.recorded_at,
                    &w.hashes.keyed,
                    &HASH_VERSION,
                ],
            )
            .await?;
            let day = tx
                .prepare_cached(
                    "INSERT INTO daily (site, day, received_adult, received_child, damaged_adult,
                        damaged_child)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (site, day) DO UPDATE SET
                        received_adult = daily.received_adult + excluded.received_adult,
                        received_child = daily.received_child + excluded.received_child,
                        damaged_adult = daily.damaged_adult + excluded.damaged_adult,
                        damaged_child = daily.damaged_child + excluded.damaged_child",
                )
                .await?;
            tx.execute(
                &day,
                &[
                    &w.site,
                    &w.day,
                    &n(w.received_adult),
                    &n(w.received_child),
                    &n(w.damaged_adult),
                    &n(w.damaged_child),
                ],
            )
            .await?;
            let on_hand = tx
                .prepare_cached(
                    "UPDATE sites SET adult = adult + $2, child = child + $3 WHERE code = $1",
                )
                .await?;
            tx.execute(
                &on_hand,
                &[
                    &w.site,
                    &(n(w.received_adult) - n(w.damaged_adult)),
                    &(n(w.received_child) - n(w.damaged_child)),
                ],
            )
            .await?;
            tx.commit().await?;
            Ok(StockOutcome::Recorded {
                replayed: false,
                day: w.day,
            })
        })
    }

    fn day_totals(&self, site: String, day: Date) -> BoxFuture<'_, Result<DayTotals, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let counts = client
                .prepare_cached(
                    "SELECT received_adult, received_child, sold_adult, sold_child, damaged_adult, damaged_child
                     FROM daily WHERE site = $1 AND day = $2",
                )
                .await?;
            let mut t = client
                .query_opt(&counts, &[&site, &day])
                .await?
                .map(|r| DayTotals {
                    received_adult: r.get(0),
                    received_child: r.get(1),
                    sold_adult: r.get(2),
                    sold_child: r.get(3),
                    damaged_adult: r.get(4),
                    damaged_child: r.get(5),
                    remaining_adult: 0,
                    remaining_child: 0,
                })
                .unwrap_or_default();
            let on_hand = client
                .prepare_cached("SELECT adult, child FROM sites WHERE code = $1")
                .await?;
            let now = client
                .query_opt(&on_hand, &[&site])
                .await?
                .map_or((0, 0), |r| (r.get::<_, i64>(0), r.get::<_, i64>(1)));
            let later = client
                .prepare_cached(
                    "SELECT COALESCE(SUM(received_adult - damaged_adult - sold_adult), 0)::BIGINT,
                            COALESCE(SUM(received_child - damaged_child - sold_child), 0)::BIGINT
                     FROM daily WHERE site = $1 AND day > $2",
                )
                .await?;
            let later = client.query_one(&later, &[&site, &day]).await?;
            t.remaining_adult = now.0 - later.get::<_, i64>(0);
            t.remaining_child = now.1 - later.get::<_, i64>(1);
            Ok(t)
        })
    }

    fn set_listing(
        &self,
        site: String,
        listed: bool,
        at: OffsetDateTime,
    ) -> BoxFuture<'_, Result<Listing, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let row = client
                .query_one(
                    "UPDATE sites SET
                        listing_changed_at = CASE WHEN listed = $2 THEN listing_changed_at ELSE $3 END,
                        listed = $2
                     WHERE code = $1 RETURNING listing_changed_at",
                    &[&site, &listed, &at],
                )
                .await?;
            Ok(Listing {
                listed,
                changed_at: row.get(0),
            })
        })
    }

    fn audit_sales(
        &self,
        from: Date,
        to: Date,
    ) -> BoxFuture<'_, Result<Vec<AuditSale>, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT id, site, id_masked, kind, quantity, sold_at, recorded_at, status,
                            overrun_reason, flags, offline
                     FROM sales
                     WHERE sold_day BETWEEN $1 AND $2 AND (status = 'overrun' OR flags <> '')
                     ORDER BY sold_at, id",
                    &[&from, &to],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    codes::AuditRow {
                        id: r.get(0),
                        site: r.get(1),
                        id_masked: r.get(2),
                        kind: r.get(3),
                        quantity: r.get(4),
                        sold_at: r.get(5),
                        recorded_at: r.get(6),
                        status: r.get(7),
                        overrun_reason: r.get(8),
                        flags: r.get(9),
                        offline: r.get(10),
                    }
                    .parse()
                })
                .collect()
        })
    }

    fn record_note(
        &self,
        write: super::NoteWrite,
    ) -> BoxFuture<'_, Result<super::NoteOutcome, StoreError>> {
        Box::pin(async move { notes::record_note(&self.pool, &write).await })
    }

    fn stock_rows(&self) -> BoxFuture<'_, Result<Vec<StockRow>, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let rows = client.query(STOCK_ROWS_SQL, &[]).await?;
            Ok(rows.iter().map(stock_row).collect())
        })
    }

    fn report_rows(&self, from: Date, to: Date) -> BoxFuture<'_, Result<ReportRows, StoreError>> {
        Box::pin(reports::report_rows(&self.pool, from, to))
    }
}

/// Every site's stock and listing now.
const STOCK_ROWS_SQL: &str = "SELECT s.code, s.adult, s.child, s.listed, n.note, n.changed_at
     FROM sites s LEFT JOIN site_notes n ON n.site = s.code";

/// A row of [`STOCK_ROWS_SQL`].
fn stock_row(r: &tokio_postgres::Row) -> StockRow {
    StockRow {
        code: r.get(0),
        adult: r.get(1),
        child: r.get(2),
        listed: r.get(3),
        public_note: r.get(4),
        note_changed_at: r.get(5),
    }
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::person_key::{META_SCHEME, PersonKeys, SCHEME_LEGACY};

    /// A fresh database on the test server, or `None` when none is configured.
    pub(super) async fn fresh_database() -> Option<String> {
        let Ok(base) = std::env::var("MASK_TEST_POSTGRES_URL") else {
            assert_ne!(
                std::env::var("REQUIRE_POSTGRES").as_deref(),
                Ok("1"),
                "REQUIRE_POSTGRES=1 but MASK_TEST_POSTGRES_URL is not set"
            );
            return None;
        };
        let (client, conn) = tokio_postgres::connect(&base, NoTls).await.unwrap();
        tokio::spawn(conn);
        let name = format!("mask_u_{}", uuid::Uuid::now_v7().simple());
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let (prefix, _) = base.rsplit_once('/').expect("URL with a database name");
        Some(format!("{prefix}/{name}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_inside_the_locked_transaction_does_not_swallow_later_sales() {
        let Some(url) = fresh_database().await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::ServerConfig::new(dir.path());
        config.database = crate::Database::Postgres(url.clone());
        config.as_of = Some(time::macros::datetime!(2020-03-13 12:00 +08:00));
        config.rate_limit_per_sec = 0;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = crate::spawn(config, listener).await.unwrap();
        let token = server.issue_token("0145080011", None).await.unwrap();
        let http = reqwest::Client::new();
        let post = |id: uuid::Uuid, id_no: &'static str| {
            let request = http
                .post(format!("{}/v1/sales", server.url()))
                .bearer_auth(&token)
                .json(&serde_json::json!({"sales": [{
                    "id": id, "id_no": id_no, "kind": "adult", "quantity": 1,
                    "sold_at": "2020-03-13T11:00:00+08:00", "source": "card", "offline": false,
                }]}));
            async move { request.send().await.unwrap().status() }
        };
        let doomed = uuid::Uuid::now_v7();
        fault::PANIC_IN_LOCKED_TRANSACTION
            .lock()
            .unwrap()
            .push(doomed);
        assert_eq!(post(doomed, "A123456789").await.as_u16(), 503);
        // Requests one after the other all run on the one connection the pool has made, the
        // one the panic left.
        let later: Vec<uuid::Uuid> = (0..3).map(|_| uuid::Uuid::now_v7()).collect();
        for (id, id_no) in later.iter().zip(["A800000014", "AC01234567", "AA00000009"]) {
            assert!(post(*id, id_no).await.is_success());
        }
        let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(conn);
        let committed: i64 = client
            .query_one("SELECT count(*) FROM sales WHERE id = ANY($1)", &[&later])
            .await
            .unwrap()
            .get(0);
        assert_eq!(committed, 3, "acknowledged sales were not committed");
        let lost: i64 = client
            .query_one("SELECT count(*) FROM sales WHERE id = $1", &[&doomed])
            .await
            .unwrap()
            .get(0);
        assert_eq!(lost, 0);
        server.shutdown().await.unwrap();
    }

    // As on SQLite: a status the server never writes or a quantity no sale has is a corrupt
    // row, not an accepted sale or a sale of 0 masks (#14).
    #[tokio::test]
    async fn a_bad_stored_status_or_quantity_is_a_corrupt_row() {
        let Some(url) = fresh_database().await else {
            return;
        };
        let store = PostgresStore::connect(&url).await.unwrap();
        let person = PersonKey::from_slice(&[7; 16]).unwrap();
        let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(conn);
        client
            .execute(
                "INSERT INTO sales (id, site, person, id_masked, kind, quantity, sold_at,
                    sold_day, source, offline, content_hash, status, overrun_reason,
                    recorded_at, flags, hash_version)
                 VALUES ('0190a000-0000-7000-8000-000000000001', '0145080011', $1,
                    'A12****789', 'adult', -1, '2020-03-12T12:00:00+08:00', '2020-03-12',
                    'card', FALSE, 'h', 'accepted', NULL, now(), 'sold_long_ago', 2)",
                &[&&person.as_bytes()[..]],
            )
            .await
            .unwrap();
        let check = crate::store::corrupt_row_test::check;
        check(&store, person, "sales.quantity").await;
        client
            .batch_execute("UPDATE sales SET quantity = 3, status = 'bogus'")
            .await
            .unwrap();
        check(&store, person, "sales.status").await;
    }

    #[tokio::test]
    async fn a_schema_1_database_keeps_its_purchase_histories_after_the_upgrade() {
        let Some(url) = fresh_database().await else {
            return;
        };
        let id = "A123456789";
        {
            // A database as schema 1 left it, with one sale under the old hex key.
            let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
            tokio::spawn(conn);
            client.batch_execute(MIGRATIONS[0]).await.unwrap();
            client
                .batch_execute(
                    "CREATE TABLE schema_migrations (version INTEGER NOT NULL);
                     INSERT INTO schema_migrations VALUES (1);",
                )
                .await
                .unwrap();
            let old_key = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                format!("mask-person-v1:{id}").as_bytes(),
            ));
            client
                .execute(
                    "INSERT INTO sales VALUES ('0190a000-0000-7000-8000-000000000001',
                     '0145080011', $1, 'A12****789', 'adult', 3, '2020-03-12T12:00:00+08:00',
                     '2020-03-12', 'card', FALSE, 'h', 'accepted', NULL, now())",
                    &[&old_key],
                )
                .await
                .unwrap();
        }
        let store = PostgresStore::connect(&url).await.unwrap();
        assert_eq!(
            store.meta(META_SCHEME).await.unwrap(),
            Some(SCHEME_LEGACY.to_owned())
        );
        let dir = tempfile::tempdir().unwrap();
        let keys = PersonKeys::open(&store, dir.path()).await.unwrap();
        assert!(keys.is_legacy());
        let history = store.purchases(keys.key(id)).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].quantity, 3);
    }
}
