//! The outbox drain: queued sales, stock-ins and listing changes go to the server in batches.
//!
//! Exactly once: every record carries its client-made UUIDv7 (listing changes carry the state
//! itself, which is idempotent), the server answers a replay with the original result, and a row
//! leaves the queue only after the server's answer is committed to the journal. A crash between
//! the two just replays the batch. Failures back off exponentially with jitter, capped at
//! [`MAX_BACKOFF`] (so with work queued the server is tried at least every 30 s); a sale while
//! online drains immediately.

use std::sync::Arc;
use std::time::Duration;

use mask_api::{ListingRequest, SaleBatch, SaleStatus, StockIn};
use mask_protocol::{Event, SaleSyncState, SaleUpdate};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::core::{AgentError, Core};
use crate::journal::{SaleVerdict, SyncState};
use crate::server::{ServerError, is_permanent};

/// Sales per batch (the server accepts up to 500).
pub const BATCH_SIZE: usize = 500;

/// First retry delay after a failure.
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);

/// Longest delay between attempts while work is queued.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How often an idle, online agent refreshes the policy and checks the server.
pub const IDLE_INTERVAL: Duration = Duration::from_secs(30);

/// Policy refresh period.
const POLICY_MAX_AGE: time::Duration = time::Duration::hours(1);

/// Why a drain stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server failed or could not be reached.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The journal failed.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// The server's answer does not match the batch.
    #[error("the server's answer does not match the batch: {0}")]
    Mismatch(String),
}

/// Exponential backoff with full jitter in [d/2, d].
#[derive(Debug)]
pub struct Backoff {
    current: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            current: MIN_BACKOFF,
        }
    }
}

impl Backoff {
    /// The next delay (and doubles the base).
    pub fn next_delay(&mut self) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(MAX_BACKOFF);
        let half = base / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter)
    }

    /// After a success.
    pub fn reset(&mut self) {
        self.current = MIN_BACKOFF;
    }
}

/// What one drain achieved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// Sales acknowledged (accepted or overrun).
    pub sales: usize,
    /// Overruns among them.
    pub overruns: usize,
    /// Records the server refused for good.
    pub rejected: usize,
    /// Stock-ins and listing changes acknowledged.
    pub other: usize,
}

/// Pushes everything queued, batch after batch, until the queue is empty or a failure.
pub async fn drain(core: &Core) -> Result<DrainReport, SyncError> {
    let Some(server) = core.server() else {
        return Ok(DrainReport::default());
    };
    let mut report = DrainReport::default();
    refresh_policy_if_stale(core).await;
    drain_stock_ins(core, server, &mut report).await?;
    drain_listing(core, server, &mut report).await?;
    let mut batch_size = BATCH_SIZE;
    loop {
        let sales = core.journal(move |j| j.queued_sales(batch_size)).await?;
        if sales.is_empty() {
            break;
        }
        let batch = SaleBatch {
            site: Some(core.site_code().to_owned()),
            sales,
        };
        match server.post_sales(&batch).await {
            Ok(result) => {
                let verdicts = verdicts_of(&batch, result)?;
                apply(core, verdicts, &mut report).await?;
                core.note_server(true, None);
                batch_size = BATCH_SIZE;
            }
            Err(error) => match classify(&batch, &error) {
                Failure::Transient => return Err(error.into()),
                Failure::Split => {
                    batch_size = (batch.sales.len() / 2).max(1);
                    tracing::warn!(%error, batch_size, "server refused the batch size; splitting");
                }
                Failure::Reject(verdicts) => {
                    tracing::error!(%error, count = verdicts.len(), "server refused sales for good; kept in the journal as rejected");
                    apply(core, verdicts, &mut report).await?;
                }
            },
        }
        core.emit_sync_status().await;
    }
    if report == DrainReport::default() {
        // Nothing to send: ask the server whether it is there and takes our token, so the
        // status bar says online or offline from the start (and on every idle round) instead
        // of "checking" until the first sale.
        server.whoami().await?;
        core.note_server(true, None);
    }
    Ok(report)
}

/// 4xx other than auth, timeouts and rate limits: the same request will fail again.
fn is_permanent_error(error: &ServerError) -> bool {
    match error {
        ServerError::Status { status, .. } => {
            is_permanent(*status) && !matches!(*status, 401 | 403)
        }
        _ => false,
    }
}

/// What to do about a failed batch.
#[derive(Debug)]
enum Failure {
    /// Try the same again later (down, slow, 5xx, auth, clock ahead of the server…).
    Transient,
    /// The batch is too large: send fewer.
    Split,
    /// These sales can never be accepted as they are: keep them as rejected, send the rest.
    Reject(Vec<SaleVerdict>),
}

/// Codes that condemn one sale for good. Anything else may heal (a clock set right, a token
/// renewed, a server fixed), so it is retried rather than written off: a sale written off
/// never reaches the server.
fn is_permanent_sale_code(code: mask_api::ErrorCode) -> bool {
    use mask_api::ErrorCode as C;
    matches!(
        code,
        C::InvalidIdNumber
            | C::InvalidQuantity
            | C::KindMismatch
            | C::IdempotencyConflict
            | C::SaleTimeTooOld
    )
}

fn classify(batch: &SaleBatch, error: &ServerError) -> Failure {
    let ServerError::Status { status, problem } = error else {
        return Failure::Transient;
    };
    if *status == 413 {
        return if batch.sales.len() > 1 {
            Failure::Split
        } else {
            Failure::Transient
        };
    }
    let Some(problem) = problem else {
        return Failure::Transient;
    };
    if !is_permanent_error(error) || problem.errors.is_empty() {
        return Failure::Transient;
    }
    let mut verdicts = Vec::new();
    for item in &problem.errors {
        if !is_permanent_sale_code(item.code) {
            return Failure::Transient;
        }
        let id = item
            .id
            .as_deref()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .or_else(|| item.index.and_then(|i| batch.sales.get(i)).map(|s| s.id));
        match id {
            Some(id) if batch.sales.iter().any(|s| s.id == id) => verdicts.push(SaleVerdict {
                id,
                state: SyncState::Rejected,
                detail: Some(item.code.as_str().to_owned()),
                server_recorded_at: None,
            }),
            _ => return Failure::Transient,
        }
    }
    Failure::Reject(verdicts)
}

fn verdicts_of(
    batch: &SaleBatch,
    result: mask_api::SaleBatchResult,
) -> Result<Vec<SaleVerdict>, SyncError> {
    if result.results.len() != batch.sales.len() {
        return Err(SyncError::Mismatch(format!(
            "{} results for {} sales",
            result.results.len(),
            batch.sales.len()
        )));
    }
    batch
        .sales
        .iter()
        .zip(result.results)
        .map(|(sale, r)| {
            if r.id != sale.id {
                return Err(SyncError::Mismatch(format!(
                    "result for {} where {} was sent",
                    r.id, sale.id
                )));
            }
            Ok(SaleVerdict {
                id: r.id,
                state: match r.status {
                    SaleStatus::Accepted => SyncState::Accepted,
                    SaleStatus::Overrun => SyncState::Overrun,
                    SaleStatus::Rejected | SaleStatus::Conflict => SyncState::Rejected,
                },
                detail: r.overrun_reason.map(|reason| reason.as_str().to_owned()),
                server_recorded_at: Some(r.recorded_at),
            })
        })
        .collect()
}

async fn apply(
    core: &Core,
    verdicts: Vec<SaleVerdict>,
    report: &mut DrainReport,
) -> Result<(), SyncError> {
    let now = core.now();
    let flagged: Vec<SaleUpdate> = verdicts
        .iter()
        .filter_map(|v| match v.state {
            SyncState::Overrun => Some(SaleUpdate {
                sale_id: v.id,
                sync: SaleSyncState::Overrun,
            }),
            SyncState::Rejected => Some(SaleUpdate {
                sale_id: v.id,
                sync: SaleSyncState::Rejected,
            }),
            _ => None,
        })
        .collect();
    for v in &verdicts {
        match v.state {
            SyncState::Accepted => report.sales += 1,
            SyncState::Overrun => {
                report.sales += 1;
                report.overruns += 1;
                tracing::warn!(sale = %v.id, reason = ?v.detail, "server flagged an overrun");
            }
            SyncState::Rejected => report.rejected += 1,
            SyncState::Queued => {}
        }
    }
    core.journal(move |j| j.apply_sale_results(&verdicts, now))
        .await?;
    for update in flagged {
        core.emit(Event::Sale(update));
    }
    Ok(())
}

async fn drain_stock_ins(
    core: &Core,
    server: &crate::server::ServerClient,
    report: &mut DrainReport,
) -> Result<(), SyncError> {
    loop {
        let queued = core.journal(|j| j.queued_stock_ins(50)).await?;
        if queued.is_empty() {
            return Ok(());
        }
        for stock in queued {
            let body = StockIn {
                id: stock.id,
                site: Some(core.site_code().to_owned()),
                received_adult: stock.form.received_adult,
                received_child: stock.form.received_child,
                damaged_adult: stock.form.damaged_adult,
                damaged_child: stock.form.damaged_child,
                recorded_at: stock.recorded_at,
            };
            let rejected = match server.post_stock(&body).await {
                Ok(_) => false,
                Err(error) if is_permanent_error(&error) => {
                    tracing::error!(%error, stock = %stock.id, "server refused a stock-in for good");
                    true
                }
                Err(error) => return Err(error.into()),
            };
            let now = core.now();
            core.journal(move |j| j.mark_stock_in(stock.id, rejected, now))
                .await?;
            report.other += 1;
        }
    }
}

async fn drain_listing(
    core: &Core,
    server: &crate::server::ServerClient,
    report: &mut DrainReport,
) -> Result<(), SyncError> {
    let Some(change) = core.journal(|j| j.queued_listing()).await? else {
        return Ok(());
    };
    let request = ListingRequest {
        site: Some(core.site_code().to_owned()),
        listed: change.listed,
    };
    let rejected = match server.post_listing(&request).await {
        Ok(_) => false,
        Err(error) if is_permanent_error(&error) => {
            tracing::error!(%error, "server refused a listing change for good");
            true
        }
        Err(error) => return Err(error.into()),
    };
    let now = core.now();
    core.journal(move |j| j.mark_listing(change.seq, rejected, now))
        .await?;
    report.other += 1;
    let state = core.listing().await?;
    core.emit(Event::Listing(state));
    Ok(())
}

/// Fetches the policy when none is cached or it is older than an hour.
pub async fn refresh_policy_if_stale(core: &Core) {
    let Some(server) = core.server() else { return };
    let now = core.now();
    let fresh = core
        .journal(|j| j.cached_policy())
        .await
        .ok()
        .flatten()
        .is_some_and(|(_, at)| now - at < POLICY_MAX_AGE);
    if fresh {
        return;
    }
    match server.policy().await {
        Ok(policy) => {
            if let Err(error) = core.set_policy(policy).await {
                tracing::warn!(%error, "cannot cache the policy");
            } else {
                tracing::info!("policy refreshed from the server");
            }
        }
        Err(error) => tracing::info!(%error, "policy not refreshed"),
    }
}

/// The sync loop of `run`: until `shutdown`.
pub async fn run(core: Arc<Core>, shutdown: CancellationToken) {
    let mut backoff = Backoff::default();
    loop {
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            outcome = drain(&core) => outcome,
        };
        let wait = match outcome {
            Ok(report) => {
                backoff.reset();
                if report != DrainReport::default() {
                    tracing::info!(?report, "outbox drained");
                }
                None
            }
            Err(error) => {
                match &error {
                    SyncError::Server(e) => {
                        core.note_exchange(Err(e));
                    }
                    other => core.note_server(false, Some(other.to_string())),
                }
                let delay = backoff.next_delay();
                tracing::info!(%error, delay_ms = delay.as_millis() as u64, "sync failed; will retry");
                Some(delay)
            }
        };
        core.attempts.send_modify(|n| *n += 1);
        core.emit_sync_status().await;
        match wait {
            // Failure: wait out the backoff; only an explicit SyncNow cuts it short.
            Some(delay) => tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
                () = core.force_wake.notified() => {}
            },
            // Idle: the next sale, a SyncNow, or the periodic check (the next drain, with
            // nothing queued, asks the server for its health).
            None => tokio::select! {
                () = shutdown.cancelled() => return,
                () = core.sale_wake.notified() => {}
                () = core.force_wake.notified() => {}
                () = tokio::time::sleep(IDLE_INTERVAL) => {}
            },
        }
    }
}

/// Asks the loop for an attempt now and waits (up to `limit`) for it to finish.
pub async fn sync_now(core: &Core, limit: Duration) {
    let mut attempts = core.attempts.subscribe();
    let seen = *attempts.borrow_and_update();
    core.force_wake.notify_one();
    let _ = tokio::time::timeout(limit, async {
        while *attempts.borrow_and_update() == seen {
            if attempts.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut backoff = Backoff::default();
        let mut bases = Vec::new();
        for _ in 0..10 {
            let delay = backoff.next_delay();
            assert!(delay <= MAX_BACKOFF, "{delay:?}");
            bases.push(delay);
        }
        assert!(bases[0] <= MIN_BACKOFF && bases[0] >= MIN_BACKOFF / 2);
        assert!(bases[9] >= MAX_BACKOFF / 2);
        backoff.reset();
        assert!(backoff.next_delay() <= MIN_BACKOFF);
    }
}
