//! A batch of sales on PostgreSQL: one read, the rules here, one write.
//!
//! 1. Read, without locks, the earlier records of the batch's sale ids and the purchase
//!    histories of its persons (two statements, pipelined: one wait).
//! 2. Run the rules here, in batch order, each new sale joining its buyer's history for the next.
//! 3. Write with one call of `mask_record_sales` (schema 3), its own transaction: it takes the
//!    advisory locks on every person and sale id (sorted, so two batches never deadlock),
//!    checks that each person still has exactly the purchases read in step 1 and that no new id
//!    was recorded meanwhile, then inserts the sales and updates the day totals and the stock.
//!    If something changed, it writes nothing and the batch starts over from step 1 (two
//!    pharmacies selling to one person at the same moment; rare, and then the second one is
//!    judged on the first one's sale). After a few such rounds the batch takes the locks first,
//!    in a transaction of its own, and then reads, judges and writes under them: it cannot be
//!    overtaken again, so every batch finishes.
//!
//! Three statements and two waits per batch, however many sales it holds, instead of a
//! transaction with a lock, reads, writes and a commit in turn: on a two-core machine shared
//! with the server, the per-statement work of PostgreSQL is what limits quota transactions.

use std::collections::HashMap;

use mask_api::{Purchase, SaleResult};
use time::{Date, OffsetDateTime};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::lock_key;
use crate::person_key::PersonKey;
use crate::store::{SalesOutcome, SalesWrite, SoldTotals, StoreError, codes, judge};

// The two lookups are index probes per key, whatever the table statistics say. With
// `key = ANY($1)` a connection's cached generic plan, made while the table was still empty (a
// launch day starts that way), is a sequential scan, and it stays one until the next ANALYZE
// while the table grows: every batch then read the whole table. `OFFSET 0` keeps the planner
// from turning the LATERAL probe into a hash join over a scan.
const EXISTING: &str = "SELECT s.id, s.content_hash, s.status, s.overrun_reason, s.recorded_at
    FROM unnest($1::UUID[]) AS k (id)
    CROSS JOIN LATERAL (
        SELECT id, content_hash, status, overrun_reason, recorded_at FROM sales
        WHERE sales.id = k.id OFFSET 0
    ) AS s";
const HISTORY: &str = "SELECT s.person, s.sold_at, s.quantity
    FROM unnest($1::BYTEA[]) AS p (person)
    CROSS JOIN LATERAL (
        SELECT person, sold_at, quantity FROM sales WHERE sales.person = p.person OFFSET 0
    ) AS s";
const WRITE: &str = "SELECT mask_record_sales($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
    $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)";
const LOCK: &str = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::BIGINT[]) AS k ORDER BY k";
/// Unlocked rounds before a batch takes its locks first.
const OPTIMISTIC_ATTEMPTS: u32 = 3;

type Params<'a> = [&'a (dyn ToSql + Sync); 1];

/// The batch's prepared statements (prepared once per connection, then cached by it).
pub(super) struct Statements {
    lock: Statement,
    existing: Statement,
    history: Statement,
    write: Statement,
}

impl Statements {
    pub(super) async fn prepare(client: &deadpool_postgres::Client) -> Result<Self, StoreError> {
        let (lock, existing, history, write) = futures::try_join!(
            client.prepare_cached(LOCK),
            client.prepare_cached(EXISTING),
            client.prepare_cached(HISTORY),
            client.prepare_cached(WRITE),
        )?;
        Ok(Self {
            lock,
            existing,
            history,
            write,
        })
    }
}

/// Column arrays of the new sales, in batch order.
#[derive(Default)]
struct NewRows<'a> {
    id: Vec<Uuid>,
    person: Vec<&'a [u8]>,
    id_masked: Vec<&'a str>,
    kind: Vec<&'static str>,
    quantity: Vec<i64>,
    sold_at: Vec<OffsetDateTime>,
    sold_day: Vec<Date>,
    source: Vec<&'static str>,
    offline: Vec<bool>,
    content_hash: Vec<&'a str>,
    status: Vec<&'static str>,
    overrun_reason: Vec<Option<&'static str>>,
}

/// Records the batch: reads, judges and writes until the write finds nothing changed.
pub(super) async fn record(
    client: &Client,
    st: &Statements,
    w: &SalesWrite,
) -> Result<SalesOutcome, StoreError> {
    for _ in 0..OPTIMISTIC_ATTEMPTS {
        if let Some(outcome) = attempt_once(client, st, w).await? {
            return Ok(outcome);
        }
        // Another batch wrote to one of these persons in between: let it finish, then again.
        let micros = rand::random_range(100..=1_000u64);
        tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
    }
    let outcome = under_locks(client, st, w).await;
    if outcome.is_err() && !client.is_closed() {
        // A failed statement leaves the transaction open (aborted) on this connection; end it
        // before the connection goes back to the pool.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    outcome
}

/// The contended case: the batch's locks (every person and sale id) are taken before the read,
/// so nothing can change between the read and the write. The write's own locks are then
/// already held by this transaction.
async fn under_locks(
    client: &Client,
    st: &Statements,
    w: &SalesWrite,
) -> Result<SalesOutcome, StoreError> {
    let mut keys: Vec<i64> = w
        .sales
        .iter()
        .flat_map(|s| [lock_key(s.person.as_bytes()), lock_key(s.id.as_bytes())])
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let lock_params: Params<'_> = [&keys];
    let ((), _) = futures::try_join!(
        client.batch_execute("BEGIN"),
        client.execute(&st.lock, &lock_params),
    )?;
    match attempt_once(client, st, w).await? {
        Some(outcome) => {
            client.batch_execute("COMMIT").await?;
            Ok(outcome)
        }
        None => Err(StoreError::Busy),
    }
}

/// One read, judgement and write; `None` when the histories changed before the write.
async fn attempt_once(
    client: &Client,
    st: &Statements,
    w: &SalesWrite,
) -> Result<Option<SalesOutcome>, StoreError> {
    let ids: Vec<Uuid> = w.sales.iter().map(|s| s.id).collect();
    let mut persons: Vec<&[u8]> = w.sales.iter().map(|s| &s.person.as_bytes()[..]).collect();
    persons.sort_unstable();
    persons.dedup();
    let (existing_params, history_params): (Params<'_>, Params<'_>) = ([&ids], [&persons]);
    let (existing_rows, history_rows) = futures::try_join!(
        client.query(&st.existing, &existing_params),
        client.query(&st.history, &history_params),
    )?;

    // Earlier records of these ids: content hash and the result to replay.
    let mut known: HashMap<Uuid, (String, SaleResult)> = HashMap::new();
    for r in &existing_rows {
        let id: Uuid = r.get(0);
        let result = SaleResult {
            id,
            status: codes::parse_status(r.get(2)),
            overrun_reason: codes::parse_reason(r.get(3)),
            recorded_at: r.get(4),
            replayed: true,
        };
        known.insert(id, (r.get(1), result));
    }
    let mut histories: HashMap<PersonKey, Vec<Purchase>> = HashMap::new();
    for r in &history_rows {
        let person = PersonKey::from_slice(r.get(0))
            .ok_or_else(|| StoreError::Corrupt("a person key is not 16 bytes".into()))?;
        histories.entry(person).or_default().push(Purchase {
            sold_at: r.get(1),
            quantity: u32::try_from(r.get::<_, i64>(2)).unwrap_or(0),
        });
    }
    // What the write checks: how many purchases each person had when judged.
    let seen: Vec<i64> = persons
        .iter()
        .map(|p| {
            PersonKey::from_slice(p)
                .and_then(|k| histories.get(&k))
                .map_or(0, |h| i64::try_from(h.len()).unwrap_or(i64::MAX))
        })
        .collect();

    let mut results = Vec::with_capacity(w.sales.len());
    let mut conflicts = Vec::new();
    let mut rows = NewRows::default();
    let mut sold = SoldTotals::default();
    for (i, sale) in w.sales.iter().enumerate() {
        if let Some((hash, result)) = known.get(&sale.id) {
            if *hash == sale.content_hash {
                results.push(result.clone());
            } else {
                conflicts.push(i);
            }
            continue;
        }
        let history = histories.entry(sale.person).or_default();
        let (status, reason) = judge(&w.policies, sale, history);
        history.push(Purchase {
            sold_at: sale.sold_at,
            quantity: sale.quantity,
        });
        let result = SaleResult {
            id: sale.id,
            status,
            overrun_reason: reason,
            recorded_at: w.now,
            replayed: false,
        };
        // A second copy of this id later in the batch replays this one.
        known.insert(
            sale.id,
            (
                sale.content_hash.clone(),
                SaleResult {
                    replayed: true,
                    ..result.clone()
                },
            ),
        );
        results.push(result);
        sold.add(sale);
        rows.id.push(sale.id);
        rows.person.push(sale.person.as_bytes());
        rows.id_masked.push(&sale.id_masked);
        rows.kind.push(codes::kind(sale.kind));
        rows.quantity.push(i64::from(sale.quantity));
        rows.sold_at.push(sale.sold_at);
        rows.sold_day.push(mask_api::taipei_date(sale.sold_at));
        rows.source.push(codes::source(sale.source));
        rows.offline.push(sale.offline);
        rows.content_hash.push(&sale.content_hash);
        rows.status.push(codes::status(status));
        rows.overrun_reason.push(reason.map(|r| r.as_str()));
    }
    if !conflicts.is_empty() {
        return Ok(Some(SalesOutcome::Conflict(conflicts)));
    }
    if rows.id.is_empty() {
        return Ok(Some(SalesOutcome::Recorded(results)));
    }

    let mut lock_keys: Vec<i64> = persons
        .iter()
        .map(|p| lock_key(p))
        .chain(rows.id.iter().map(|id| lock_key(id.as_bytes())))
        .collect();
    lock_keys.sort_unstable();
    lock_keys.dedup();
    let days: Vec<Date> = sold.by_day.keys().copied().collect();
    let day_adult: Vec<i64> = sold.by_day.values().map(|d| d.0).collect();
    let day_child: Vec<i64> = sold.by_day.values().map(|d| d.1).collect();
    let params: [&(dyn ToSql + Sync); 22] = [
        &w.site,
        &w.now,
        &lock_keys,
        &persons,
        &seen,
        &rows.id,
        &rows.person,
        &rows.id_masked,
        &rows.kind,
        &rows.quantity,
        &rows.sold_at,
        &rows.sold_day,
        &rows.source,
        &rows.offline,
        &rows.content_hash,
        &rows.status,
        &rows.overrun_reason,
        &days,
        &day_adult,
        &day_child,
        &sold.adult,
        &sold.child,
    ];
    let written: bool = client.query_one(&st.write, &params).await?.get(0);
    Ok(written.then_some(SalesOutcome::Recorded(results)))
}
