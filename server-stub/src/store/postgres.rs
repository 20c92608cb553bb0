//! PostgreSQL store (tokio-postgres + deadpool), for when one SQLite file is not enough.
//!
//! Same operations and semantics as the SQLite store. Concurrency: each sales batch runs in one
//! transaction that first takes transaction-scoped advisory locks on every person and sale id
//! it touches (sorted, so two batches never deadlock), then reads the history and writes. A
//! commit is durable with PostgreSQL's default `synchronous_commit = on`.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::future::BoxFuture;
use mask_api::{Purchase, SaleResult};
use time::{Date, OffsetDateTime};
use tokio_postgres::{NoTls, Transaction};

use super::{
    DayTotals, Listing, PreparedSale, SalesOutcome, SalesWrite, StockOutcome, StockWrite, Store,
    StoreError, TokenRecord, codes, judge,
};
use crate::open_data::StockRow;
use crate::sites::Site;

/// Ordered migrations; `schema_migrations` remembers how many ran.
const MIGRATIONS: &[&str] = &["CREATE TABLE sites (
        code TEXT PRIMARY KEY,
        adult BIGINT NOT NULL,
        child BIGINT NOT NULL,
        listed BOOLEAN NOT NULL,
        listing_changed_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ
    );
    CREATE TABLE sales (
        id UUID PRIMARY KEY,
        site TEXT NOT NULL,
        person TEXT NOT NULL,
        id_masked TEXT NOT NULL,
        kind TEXT NOT NULL,
        quantity BIGINT NOT NULL,
        sold_at TIMESTAMPTZ NOT NULL,
        sold_day DATE NOT NULL,
        source TEXT NOT NULL,
        offline BOOLEAN NOT NULL,
        content_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        overrun_reason TEXT,
        recorded_at TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX sales_by_person ON sales (person, sold_at);
    CREATE TABLE stock_ins (
        id UUID PRIMARY KEY,
        site TEXT NOT NULL,
        day DATE NOT NULL,
        received_adult BIGINT NOT NULL,
        received_child BIGINT NOT NULL,
        damaged_adult BIGINT NOT NULL,
        damaged_child BIGINT NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL,
        content_hash TEXT NOT NULL
    );
    CREATE TABLE daily (
        site TEXT NOT NULL,
        day DATE NOT NULL,
        received_adult BIGINT NOT NULL DEFAULT 0,
        received_child BIGINT NOT NULL DEFAULT 0,
        sold_adult BIGINT NOT NULL DEFAULT 0,
        sold_child BIGINT NOT NULL DEFAULT 0,
        damaged_adult BIGINT NOT NULL DEFAULT 0,
        damaged_child BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (site, day)
    );"];

/// Advisory-lock key space of this server's migrations.
const MIGRATION_LOCK: i64 = 0x6d61_736b_0001;

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connects (`postgres://user:pass@host:port/db`) and runs pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let config = tokio_postgres::Config::from_str(url)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(32)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::PoolSetup(e.to_string()))?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
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
}

fn lock_key(s: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(s.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

async fn history(tx: &Transaction<'_>, person: &str) -> Result<Vec<Purchase>, StoreError> {
    let rows = tx
        .query(
            "SELECT sold_at, quantity FROM sales WHERE person = $1",
            &[&person],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Purchase {
            sold_at: r.get::<_, OffsetDateTime>(0),
            quantity: u32::try_from(r.get::<_, i64>(1)).unwrap_or(0),
        })
        .collect())
}

async fn day_add(
    tx: &Transaction<'_>,
    site: &str,
    day: Date,
    column: &str,
    n: i64,
) -> Result<(), StoreError> {
    // `column` is one of our fixed names, never input.
    let sql = format!(
        "INSERT INTO daily (site, day, {column}) VALUES ($1, $2, $3)
         ON CONFLICT (site, day) DO UPDATE SET {column} = daily.{column} + excluded.{column}"
    );
    tx.execute(&sql, &[&site, &day, &n]).await?;
    Ok(())
}

async fn record_sale(
    tx: &Transaction<'_>,
    w: &SalesWrite,
    sale: &PreparedSale,
) -> Result<SaleResult, StoreError> {
    let hist = history(tx, &sale.person).await?;
    let (status, reason) = judge(&w.policies, sale, &hist);
    let day = mask_api::taipei_date(sale.sold_at);
    let quantity = i64::from(sale.quantity);
    tx.execute(
        "INSERT INTO sales (id, site, person, id_masked, kind, quantity, sold_at, sold_day, source,
            offline, content_hash, status, overrun_reason, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            &sale.id,
            &w.site,
            &sale.person,
            &sale.id_masked,
            &codes::kind(sale.kind),
            &quantity,
            &sale.sold_at,
            &day,
            &codes::source(sale.source),
            &sale.offline,
            &sale.content_hash,
            &codes::status(status),
            &reason.map(|r| r.as_str()),
            &w.now,
        ],
    )
    .await?;
    let (column, stock) = match sale.kind {
        mask_api::BuyerKind::Adult => ("sold_adult", "adult"),
        mask_api::BuyerKind::Child => ("sold_child", "child"),
    };
    day_add(tx, &w.site, day, column, quantity).await?;
    tx.execute(
        &format!("UPDATE sites SET {stock} = {stock} - $2 WHERE code = $1"),
        &[&w.site, &quantity],
    )
    .await?;
    Ok(SaleResult {
        id: sale.id,
        status,
        overrun_reason: reason,
        recorded_at: w.now,
        replayed: false,
    })
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
            client
                .execute(
                    "INSERT INTO tokens (hash, site, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                    &[&hash, &record.site, &created_at, &record.expires_at],
                )
                .await?;
            Ok(())
        })
    }

    fn find_token(&self, hash: String) -> BoxFuture<'_, Result<Option<TokenRecord>, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let stmt = client
                .prepare_cached("SELECT site, expires_at FROM tokens WHERE hash = $1")
                .await?;
            let row = client.query_opt(&stmt, &[&hash]).await?;
            Ok(row.map(|r| TokenRecord {
                site: r.get(0),
                expires_at: r.get(1),
            }))
        })
    }

    fn purchases(&self, person: String) -> BoxFuture<'_, Result<Vec<Purchase>, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let stmt = client
                .prepare_cached("SELECT sold_at, quantity FROM sales WHERE person = $1")
                .await?;
            let rows = client.query(&stmt, &[&person]).await?;
            Ok(rows
                .iter()
                .map(|r| Purchase {
                    sold_at: r.get::<_, OffsetDateTime>(0),
                    quantity: u32::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                })
                .collect())
        })
    }

    fn record_sales(&self, w: SalesWrite) -> BoxFuture<'_, Result<SalesOutcome, StoreError>> {
        Box::pin(async move {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let mut keys: Vec<i64> = w
                .sales
                .iter()
                .flat_map(|s| [lock_key(&s.person), lock_key(&s.id.to_string())])
                .collect();
            keys.sort_unstable();
            keys.dedup();
            tx.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest($1::BIGINT[]) AS k ORDER BY k",
                &[&keys],
            )
            .await?;
            let mut results = Vec::with_capacity(w.sales.len());
            let mut conflicts = Vec::new();
            for (i, sale) in w.sales.iter().enumerate() {
                let existing = tx
                    .query_opt(
                        "SELECT content_hash, status, overrun_reason, recorded_at FROM sales WHERE id = $1",
                        &[&sale.id],
                    )
                    .await?;
                match existing {
                    Some(row) if row.get::<_, String>(0) == sale.content_hash => {
                        results.push(SaleResult {
                            id: sale.id,
                            status: codes::parse_status(row.get(1)),
                            overrun_reason: codes::parse_reason(row.get(2)),
                            recorded_at: row.get(3),
                            replayed: true,
                        })
                    }
                    Some(_) => conflicts.push(i),
                    None => results.push(record_sale(&tx, &w, sale).await?),
                }
            }
            if !conflicts.is_empty() {
                tx.rollback().await?;
                return Ok(SalesOutcome::Conflict(conflicts));
            }
            tx.commit().await?;
            Ok(SalesOutcome::Recorded(results))
        })
    }

    fn record_stock(&self, w: StockWrite) -> BoxFuture<'_, Result<StockOutcome, StoreError>> {
        Box::pin(async move {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1)",
                &[&lock_key(&w.id.to_string())],
            )
            .await?;
            if let Some(row) = tx
                .query_opt(
                    "SELECT content_hash, day FROM stock_ins WHERE id = $1",
                    &[&w.id],
                )
                .await?
            {
                return Ok(if row.get::<_, String>(0) == w.content_hash {
                    StockOutcome::Recorded {
                        replayed: true,
                        day: row.get(1),
                    }
                } else {
                    StockOutcome::Conflict
                });
            }
            let n = |v: u32| i64::from(v);
            tx.execute(
                "INSERT INTO stock_ins (id, site, day, received_adult, received_child, damaged_adult,
                    damaged_child, recorded_at, content_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &w.id,
                    &w.site,
                    &w.day,
                    &n(w.received_adult),
                    &n(w.received_child),
                    &n(w.damaged_adult),
                    &n(w.damaged_child),
                    &w.recorded_at,
                    &w.content_hash,
                ],
            )
            .await?;
            for (column, v) in [
                ("received_adult", w.received_adult),
                ("received_child", w.received_child),
                ("damaged_adult", w.damaged_adult),
                ("damaged_child", w.damaged_child),
            ] {
                if v > 0 {
                    day_add(&tx, &w.site, w.day, column, n(v)).await?;
                }
            }
            tx.execute(
                "UPDATE sites SET adult = adult + $2, child = child + $3 WHERE code = $1",
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
            let mut t = client
                .query_opt(
                    "SELECT received_adult, received_child, sold_adult, sold_child, damaged_adult, damaged_child
                     FROM daily WHERE site = $1 AND day = $2",
                    &[&site, &day],
                )
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
            let now = client
                .query_opt("SELECT adult, child FROM sites WHERE code = $1", &[&site])
                .await?
                .map_or((0, 0), |r| (r.get::<_, i64>(0), r.get::<_, i64>(1)));
            let later = client
                .query_one(
                    "SELECT COALESCE(SUM(received_adult - damaged_adult - sold_adult), 0)::BIGINT,
                            COALESCE(SUM(received_child - damaged_child - sold_child), 0)::BIGINT
                     FROM daily WHERE site = $1 AND day > $2",
                    &[&site, &day],
                )
                .await?;
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

    fn stock_rows(&self) -> BoxFuture<'_, Result<Vec<StockRow>, StoreError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let rows = client
                .query("SELECT code, adult, child, listed FROM sites", &[])
                .await?;
            Ok(rows
                .iter()
                .map(|r| StockRow {
                    code: r.get(0),
                    adult: r.get(1),
                    child: r.get(2),
                    listed: r.get(3),
                })
                .collect())
        })
    }
}
