//! Sales batches on PostgreSQL, committed in groups: one read, the rules here, one write.
//!
//! Concurrent requests queue for one writer task, which takes every batch waiting (as the SQLite
//! store's writer does) and handles the group together:
//!
//! 1. Read, without locks, the earlier records of the group's sale ids and the purchase
//!    histories of its persons (two statements, pipelined: one wait).
//! 2. Run the rules here, batch by batch in arrival order, each new sale joining its buyer's
//!    history for the next (so two pharmacies selling to one person in one group are judged
//!    one after the other). A batch that reuses an id with other content is left out whole.
//! 3. Write with one call of `mask_record_sales` (schema 3), its own transaction: it takes the
//!    advisory locks on every person, new sale id and site (sorted, so writers never deadlock),
//!    checks that each person still has exactly the purchases read in step 1 and that no new id
//!    was recorded meanwhile, then inserts the sales and updates the day totals and the stock.
//!    If something changed (a sale written by another server on the same database), it writes
//!    nothing and the group starts over from step 1. After a few such rounds the group takes
//!    the locks first, in a transaction of its own, and reads, judges and writes under them: it
//!    cannot be overtaken again, so every group finishes.
//!
//! Three statements and one commit per group, however many requests it holds: on a two-core
//! machine shared with the server, PostgreSQL's per-statement work is what limits quota
//! transactions, and a group shares it out (one sale per request at the counter).

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;

use deadpool_postgres::Pool;
use futures::FutureExt;
use mask_api::{RefusalReason, SaleResult, SaleStatus};
use time::{Date, OffsetDateTime};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::lock_key;
use crate::content_hash::HASH_VERSION;
use crate::person_key::PersonKey;
use crate::store::{
    HeldSale, SalesOutcome, SalesWrite, SoldTotals, StoreError, codes, conflict_result,
    judge_in_order,
};

// The two lookups are index probes per key, whatever the table statistics say. With
// `key = ANY($1)` a connection's cached generic plan, made while the table was still empty (a
// launch day starts that way), is a sequential scan, and it stays one until the next ANALYZE
// while the table grows: every batch then read the whole table. `OFFSET 0` keeps the planner
// from turning the LATERAL probe into a hash join over a scan.
const EXISTING: &str = "SELECT s.id, s.content_hash, s.hash_version, s.site, s.status,
        s.overrun_reason, s.recorded_at, s.flags
    FROM unnest($1::UUID[]) AS k (id)
    CROSS JOIN LATERAL (
        SELECT id, content_hash, hash_version, site, status, overrun_reason, recorded_at, flags
        FROM sales WHERE sales.id = k.id OFFSET 0
    ) AS s";
pub(super) const HISTORY: &str = "SELECT s.person, s.sold_at, s.quantity, s.id
    FROM unnest($1::BYTEA[]) AS p (person)
    CROSS JOIN LATERAL (
        SELECT person, sold_at, quantity, id FROM sales WHERE sales.person = p.person OFFSET 0
    ) AS s";
const WRITE: &str = "SELECT mask_record_sales($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
    $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)";
const LOCK: &str = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::BIGINT[]) AS k ORDER BY k";
/// Unlocked rounds before a group takes its locks first.
const OPTIMISTIC_ATTEMPTS: u32 = 3;
/// Most requests handled as one group.
const MAX_GROUP: usize = 128;

type Params<'a> = [&'a (dyn ToSql + Sync); 1];

/// A request waiting for the writer.
struct Job {
    write: SalesWrite,
    reply: oneshot::Sender<Result<SalesOutcome, StoreError>>,
}

/// The queue to the writer task; the task ends when this is dropped.
pub(super) struct GroupWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl GroupWriter {
    /// Starts the writer task on the current runtime.
    pub(super) fn spawn(pool: Pool) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(writer_loop(pool, queue));
        Self { jobs }
    }

    /// Records a batch as part of the next group; resolves once that group is committed.
    pub(super) async fn record(&self, write: SalesWrite) -> Result<SalesOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { write, reply })
            .map_err(|_| StoreError::WorkerGone)?;
        answer.await.map_err(|_| StoreError::WorkerGone)?
    }
}

async fn writer_loop(pool: Pool, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut jobs, MAX_GROUP).await > 0 {
        let group = std::mem::take(&mut jobs);
        let writes: Vec<&SalesWrite> = group.iter().map(|j| &j.write).collect();
        // A panic (a bug) must not take the writer down with it: every later sale would fail.
        let outcome = AssertUnwindSafe(record_group(&pool, &writes))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(StoreError::Commit("the sales writer panicked".into())));
        drop(writes);
        match outcome {
            Ok(outcomes) => {
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                // Nothing of the group was written; each caller gets a retryable error.
                tracing::error!(error = %e, requests = group.len(), "sales group not written");
                let message = e.to_string();
                for job in group {
                    let _ = job.reply.send(Err(StoreError::Commit(message.clone())));
                }
            }
        }
    }
}

/// The group's prepared statements (prepared once per connection, then cached by it).
struct Statements {
    lock: Statement,
    existing: Statement,
    history: Statement,
    write: Statement,
}

impl Statements {
    async fn prepare(client: &deadpool_postgres::Client) -> Result<Self, StoreError> {
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

async fn record_group(
    pool: &Pool,
    writes: &[&SalesWrite],
) -> Result<Vec<SalesOutcome>, StoreError> {
    let mut client = super::Checkout::get(pool).await?;
    let st = Statements::prepare(&client).await?;
    let optimistic = if super::fault::armed(writes) {
        0
    } else {
        OPTIMISTIC_ATTEMPTS
    };
    for _ in 0..optimistic {
        if let Some(outcomes) = attempt_once(&client, &st, writes).await? {
            return Ok(outcomes);
        }
        // Another writer on this database got to one of these persons in between.
        let micros = rand::random_range(100..=1_000u64);
        tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
    }
    client.beginning_transaction();
    let outcome = under_locks(&client, &st, writes).await;
    if outcome.is_ok() {
        client.ended_transaction();
    } else if !client.is_closed() {
        // A failed statement leaves the transaction open (aborted) on this connection; end it
        // before the connection goes back to the pool.
        if client.batch_execute("ROLLBACK").await.is_ok() {
            client.ended_transaction();
        }
    }
    outcome
}

/// The contended case: the group's locks (every person, sale id and site) are taken before
/// the read, so nothing can change between the read and the write. The write's own locks are
/// then already held by this transaction.
async fn under_locks(
    client: &Client,
    st: &Statements,
    writes: &[&SalesWrite],
) -> Result<Vec<SalesOutcome>, StoreError> {
    let keys = lock_keys(writes.iter().flat_map(|w| {
        w.sales
            .iter()
            .flat_map(|s| [&s.person.as_bytes()[..], &s.id.as_bytes()[..]])
            .chain([w.site.as_bytes()])
    }));
    let lock_params: Params<'_> = [&keys];
    let ((), _) = futures::try_join!(
        client.batch_execute("BEGIN"),
        client.execute(&st.lock, &lock_params),
    )?;
    super::fault::point(writes);
    match attempt_once(client, st, writes).await? {
        Some(outcomes) => {
            client.batch_execute("COMMIT").await?;
            Ok(outcomes)
        }
        None => Err(StoreError::Busy),
    }
}

/// The advisory-lock keys of `values`, sorted (every writer takes them in one order, so none
/// deadlocks) and without repeats.
fn lock_keys<'v>(values: impl IntoIterator<Item = &'v [u8]>) -> Vec<i64> {
    let mut keys: Vec<i64> = values.into_iter().map(lock_key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Column arrays of the new sales, in order.
#[derive(Default)]
struct NewRows<'a> {
    id: Vec<Uuid>,
    site: Vec<&'a str>,
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
    recorded_at: Vec<OffsetDateTime>,
    flags: Vec<String>,
    /// Index of each new sale in the columns.
    index: HashMap<Uuid, usize>,
    /// Masks sold per site (and day).
    sold: BTreeMap<&'a str, SoldTotals>,
    /// Held sales judged again because a sale dated before them arrived.
    rejudged: BTreeMap<Uuid, (SaleStatus, Option<RefusalReason>)>,
}

/// An earlier record of an id (stored, or new earlier in the group): what a resend is compared
/// by, and the result to replay.
struct Known {
    hash: String,
    version: i16,
    site: String,
    result: SaleResult,
}

/// One read, judgement and write of the group; `None` when the histories changed before the
/// write (nothing was written).
async fn attempt_once(
    client: &Client,
    st: &Statements,
    writes: &[&SalesWrite],
) -> Result<Option<Vec<SalesOutcome>>, StoreError> {
    let all = || writes.iter().flat_map(|w| w.sales.iter());
    let ids: Vec<Uuid> = all().map(|s| s.id).collect();
    let mut persons: Vec<&[u8]> = all().map(|s| &s.person.as_bytes()[..]).collect();
    persons.sort_unstable();
    persons.dedup();
    let (existing_params, history_params): (Params<'_>, Params<'_>) = ([&ids], [&persons]);
    let (existing_rows, history_rows) = futures::try_join!(
        client.query(&st.existing, &existing_params),
        client.query(&st.history, &history_params),
    )?;

    let mut known: HashMap<Uuid, Known> = HashMap::new();
    for r in &existing_rows {
        let id: Uuid = r.get(0);
        let result = codes::replayed_result(id, r.get(4), r.get(5), r.get(6), r.get(7))?;
        known.insert(
            id,
            Known {
                hash: r.get(1),
                version: r.get(2),
                site: r.get(3),
                result,
            },
        );
    }
    let mut histories = histories_of(&history_rows)?;
    // What the write checks: how many purchases each person had when judged.
    let seen: Vec<i64> = persons
        .iter()
        .map(|p| {
            PersonKey::from_slice(p)
                .and_then(|k| histories.get(&k))
                .map_or(0, |h| i64::try_from(h.len()).unwrap_or(i64::MAX))
        })
        .collect();

    let mut rows = NewRows::default();
    let outcomes: Vec<SalesOutcome> = writes
        .iter()
        .map(|w| judge_batch(w, &mut known, &mut histories, &mut rows))
        .collect();
    if rows.id.is_empty() {
        return Ok(Some(outcomes));
    }

    let lock_keys = lock_keys(
        persons
            .iter()
            .copied()
            .chain(rows.id.iter().map(|id| &id.as_bytes()[..]))
            .chain(rows.sold.keys().map(|site| site.as_bytes())),
    );
    // Day totals and stock changes, in (site, day) order.
    let (mut day_site, mut day, mut day_adult, mut day_child) = (vec![], vec![], vec![], vec![]);
    let (mut stock_site, mut stock_adult, mut stock_child) = (vec![], vec![], vec![]);
    for (&site, sold) in &rows.sold {
        for (&d, &(adult, child)) in &sold.by_day {
            day_site.push(site);
            day.push(d);
            day_adult.push(adult);
            day_child.push(child);
        }
        let (adult, child) = sold.total();
        stock_site.push(site);
        stock_adult.push(adult);
        stock_child.push(child);
    }
    let (mut rejudged_id, mut rejudged_status, mut rejudged_reason) = (vec![], vec![], vec![]);
    for (id, (status, reason)) in &rows.rejudged {
        rejudged_id.push(*id);
        rejudged_status.push(codes::status(*status));
        rejudged_reason.push(reason.map(|r| r.as_str()));
    }
    let params: [&(dyn ToSql + Sync); 28] = [
        &lock_keys,
        &persons,
        &seen,
        &rows.id,
        &rows.site,
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
        &rows.recorded_at,
        &rows.flags,
        &day_site,
        &day,
        &day_adult,
        &day_child,
        &stock_site,
        &stock_adult,
        &stock_child,
        &rejudged_id,
        &rejudged_status,
        &rejudged_reason,
    ];
    let written: bool = client.query_one(&st.write, &params).await?.get(0);
    Ok(written.then_some(outcomes))
}

/// The rows of [`HISTORY`] as each person's purchases.
pub(super) fn histories_of(
    rows: &[tokio_postgres::Row],
) -> Result<HashMap<PersonKey, Vec<HeldSale>>, StoreError> {
    let mut histories: HashMap<PersonKey, Vec<HeldSale>> = HashMap::new();
    for r in rows {
        let person = PersonKey::from_slice(r.get(0))
            .ok_or_else(|| StoreError::Corrupt("a person key is not 16 bytes".into()))?;
        histories
            .entry(person)
            .or_default()
            .push(codes::held_sale(r.get(3), r.get(1), r.get(2))?);
    }
    Ok(histories)
}

/// Judges one batch of the group: replays, conflicts (an id recorded before with other
/// content; nothing of that sale is kept) and new sales, which join `rows` and their buyers'
/// histories. A new sale dated before held ones of its buyer re-judges them.
fn judge_batch<'a>(
    w: &'a SalesWrite,
    known: &mut HashMap<Uuid, Known>,
    histories: &mut HashMap<PersonKey, Vec<HeldSale>>,
    rows: &mut NewRows<'a>,
) -> SalesOutcome {
    let mut results = Vec::with_capacity(w.sales.len());
    for sale in &w.sales {
        if let Some(k) = known.get(&sale.id) {
            results.push(if sale.hashes.matches(&k.hash, k.version, &k.site) {
                k.result.clone()
            } else {
                conflict_result(sale, w.now)
            });
            continue;
        }
        let history = histories.entry(sale.person).or_default();
        let ((status, reason), later) = judge_in_order(&w.policies, sale, history);
        history.push(HeldSale {
            id: sale.id,
            sold_at: sale.sold_at,
            quantity: sale.quantity,
        });
        for (id, judged) in later {
            match rows.index.get(&id) {
                // New in this group: its row is not written yet.
                Some(&i) => {
                    rows.status[i] = codes::status(judged.0);
                    rows.overrun_reason[i] = judged.1.map(|r| r.as_str());
                }
                None => {
                    rows.rejudged.insert(id, judged);
                }
            }
            if let Some(k) = known.get_mut(&id) {
                k.result.status = judged.0;
                k.result.overrun_reason = judged.1;
            }
        }
        let result = SaleResult {
            id: sale.id,
            status,
            overrun_reason: reason,
            recorded_at: w.now,
            replayed: false,
            flags: sale.flags.clone(),
            problem: None,
        };
        // A second copy of this id later in the group replays this one.
        known.insert(
            sale.id,
            Known {
                hash: sale.hashes.keyed.clone(),
                version: HASH_VERSION,
                site: w.site.clone(),
                result: SaleResult {
                    replayed: true,
                    ..result.clone()
                },
            },
        );
        results.push(result);
        rows.sold.entry(&w.site).or_default().add(sale);
        rows.index.insert(sale.id, rows.id.len());
        rows.id.push(sale.id);
        rows.site.push(&w.site);
        rows.person.push(sale.person.as_bytes());
        rows.id_masked.push(&sale.id_masked);
        rows.kind.push(codes::kind(sale.kind));
        rows.quantity.push(i64::from(sale.quantity));
        rows.sold_at.push(sale.sold_at);
        rows.sold_day.push(mask_api::taipei_date(sale.sold_at));
        rows.source.push(codes::source(sale.source));
        rows.offline.push(sale.offline);
        rows.content_hash.push(&sale.hashes.keyed);
        rows.status.push(codes::status(status));
        rows.overrun_reason.push(reason.map(|r| r.as_str()));
        rows.recorded_at.push(w.now);
        rows.flags.push(codes::flags(&sale.flags));
    }
    SalesOutcome(results)
}
