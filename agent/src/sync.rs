//! The outbox drain: queued sales, stock-ins, listing changes and the public note go to the
//! server in batches.
//!
//! Exactly once: every record carries its client-made UUIDv7 (listing changes carry the state
//! itself, which is idempotent), the server answers a replay with the original result, and a row
//! leaves the queue only after the server's answer is committed to the journal. A crash between
//! the two just replays the batch. Failures back off exponentially with jitter, capped at
//! [`MAX_BACKOFF`] (so with work queued the server is tried at least every 30 s); a sale while
//! online drains immediately.
//!
//! No record can hold the queue: sales, stock-ins, listing changes and notes drain
//! independently, a batch the server refuses as a whole (an old all-or-nothing server) is
//! bisected down to the records it refuses, and a record the server will not take is set aside
//! as needing attention (journal state `rejected`, with the server's reason). Such a record is
//! never dropped: it keeps counting in the local rules and inventory, and a person decides what
//! to do with it.

use std::sync::Arc;
use std::time::Duration;

use mask_api::{ListingRequest, NoteRequest, SaleBatch, SaleStatus, StockIn};
use mask_protocol::{Event, SaleSyncState, SaleUpdate};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::core::{AgentError, Core};
use crate::journal::{SaleVerdict, SyncState};
use crate::server::{ServerError, is_permanent};

/// Sales per batch (the server accepts up to 500).
pub const BATCH_SIZE: usize = 500;

/// Journal `meta` key of the batch size after a 413: the server said what it takes, so later
/// rounds (and restarts) do not start over at [`BATCH_SIZE`] and hit the limit again.
pub const BATCH_SIZE_KEY: &str = "sync.sales_batch_size";

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
    Server(ServerError),
    /// The server answers but refuses this pharmacy's token (401/403): not an outage, and no
    /// retry will help until the token is fixed.
    #[error("the server refuses this pharmacy's token: {0}")]
    TokenRefused(ServerError),
    /// The journal failed.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// The server's answer does not match the batch.
    #[error("the server's answer does not match the batch: {0}")]
    Mismatch(String),
}

impl From<ServerError> for SyncError {
    fn from(error: ServerError) -> Self {
        if error.is_token_refused() {
            SyncError::TokenRefused(error)
        } else {
            SyncError::Server(error)
        }
    }
}

impl SyncError {
    /// The server refused the token (401/403): the round stopped; call the helpdesk.
    pub fn is_token_refused(&self) -> bool {
        matches!(self, SyncError::TokenRefused(_))
    }

    /// Whether the other record kinds are not even tried this round: the token is refused,
    /// the journal fails, or the server cannot be reached at all (each would fail the same
    /// way, only later). A refusal or 5xx of one endpoint does not stop the others.
    fn stops_round(&self) -> bool {
        match self {
            SyncError::TokenRefused(_) | SyncError::Agent(_) => true,
            SyncError::Server(error) => matches!(
                error,
                ServerError::Connect(_) | ServerError::Tls(_) | ServerError::Timeout
            ),
            SyncError::Mismatch(_) => false,
        }
    }
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
    /// Records (sales, stock-ins, listing changes) the server would not take, now needing
    /// attention.
    pub rejected: usize,
    /// Stock-ins and listing changes acknowledged.
    pub other: usize,
}

/// Pushes everything queued until the queues are empty or fail. Each kind drains on its own,
/// so a stuck stock-in does not hold back sales (nor the other way round); the first error
/// is returned after the others had their turn.
pub async fn drain(core: &Core) -> Result<DrainReport, SyncError> {
    let Some(server) = core.server() else {
        return Ok(DrainReport::default());
    };
    let mut report = DrainReport::default();
    refresh_policy_if_stale(core).await;
    let mut failed: Option<SyncError> = None;
    // Most rounds (one per sale) have only sales to send: one count instead of a read of
    // each of the other queues.
    if core.journal(|j| j.queued_other_count()).await? > 0 {
        let outcome = drain_stock_ins(core, server, &mut report).await;
        if let Some(error) = keep_first(&mut failed, "stock-ins", outcome) {
            return Err(error);
        }
        let outcome = drain_listing(core, server, &mut report).await;
        if let Some(error) = keep_first(&mut failed, "listing", outcome) {
            return Err(error);
        }
        let outcome = drain_note(core, server, &mut report).await;
        if let Some(error) = keep_first(&mut failed, "note", outcome) {
            return Err(error);
        }
    }
    let outcome = drain_sales(core, server, &mut report).await;
    if let Some(error) = keep_first(&mut failed, "sales", outcome) {
        return Err(error);
    }
    if let Some(error) = failed {
        return Err(error);
    }
    if report == DrainReport::default() && !core.answered_within(crate::probe::ONLINE_EVERY) {
        // Nothing to send: ask the server whether it is there and takes our token, so the
        // status bar says online or offline from the start (and on every idle round) instead
        // of "checking" until the first sale. Not when it answered within the probe's interval
        // (the probe or this round's own exchanges): the status is fresh, and the rounds that
        // each sale wakes would otherwise add a request per sale to every counter's load.
        server.whoami().await?;
        core.note_server(true, None);
    }
    Ok(report)
}

/// Keeps the first failure of a round; returns an error that ends the round at once.
fn keep_first(
    failed: &mut Option<SyncError>,
    kind: &'static str,
    outcome: Result<(), SyncError>,
) -> Option<SyncError> {
    let error = outcome.err()?;
    if error.stops_round() {
        return Some(error);
    }
    tracing::info!(%error, kind, "this kind could not drain; the others still go");
    failed.get_or_insert(error);
    None
}

/// What to do after a request failed.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// Try the same again later (down, slow, 5xx, 429, a wrong route or site).
    Retry,
    /// 401/403: stop the round.
    TokenRefused,
    /// 413: send fewer.
    TooLarge,
    /// Any other 4xx: something in the request is refused, with this code.
    Refused(String),
}

fn classify(error: &ServerError, record: Option<uuid::Uuid>) -> Failure {
    use mask_api::ErrorCode as C;
    let ServerError::Status { status, problem } = error else {
        return Failure::Retry;
    };
    let code = problem.as_ref().map(|p| p.code);
    match (*status, code) {
        _ if error.is_token_refused() => Failure::TokenRefused,
        (_, Some(C::Unauthorized | C::InvalidToken | C::TokenExpired)) => Failure::TokenRefused,
        (413, _) => Failure::TooLarge,
        // The request reached something that is not the API it expects (a wrong server_url,
        // a proxy, an unknown site): no record is at fault, so none may be set aside.
        (404 | 405 | 415, _)
        | (_, Some(C::NotFound | C::MethodNotAllowed | C::UnsupportedMediaType | C::UnknownSite)) => {
            Failure::Retry
        }
        // Only the API itself can blame a record: a 4xx without its problem body (an HTML page
        // of a proxy or captive portal in between) says nothing about the sales sent, and
        // bisecting on it would set every one of them aside.
        (s, Some(_)) if is_permanent(s) => {
            Failure::Refused(refusal_code(*status, problem.as_deref(), record))
        }
        _ => Failure::Retry,
    }
}

/// The most precise code of a refusal: the problem item of this record, the problem's own
/// code, else the HTTP status.
fn refusal_code(
    status: u16,
    problem: Option<&mask_api::Problem>,
    record: Option<uuid::Uuid>,
) -> String {
    let Some(problem) = problem else {
        return format!("http_{status}");
    };
    let item = record.and_then(|id| {
        let id = id.to_string();
        problem
            .errors
            .iter()
            .find(|item| item.id.as_deref() == Some(id.as_str()))
    });
    match item.map_or(problem.code, |item| item.code) {
        mask_api::ErrorCode::Unknown => format!("http_{status}"),
        code => code.as_str().to_owned(),
    }
}

async fn batch_size(core: &Core) -> Result<usize, SyncError> {
    let stored = core.journal(|j| j.meta(BATCH_SIZE_KEY)).await?;
    Ok(stored
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(BATCH_SIZE, |n| n.clamp(1, BATCH_SIZE)))
}

async fn drain_sales(
    core: &Core,
    server: &crate::server::ServerClient,
    report: &mut DrainReport,
) -> Result<(), SyncError> {
    let mut batch_size = batch_size(core).await?;
    loop {
        let sales = core.journal(move |j| j.queued_sales(batch_size)).await?;
        if sales.is_empty() {
            return Ok(());
        }
        // Chunks still to send, last first: a refused chunk is replaced by its halves.
        let mut pending = vec![sales];
        while let Some(mut sales) = pending.pop() {
            if sales.len() > batch_size {
                pending.push(sales.split_off(batch_size));
            }
            let batch = SaleBatch {
                site: Some(core.site_code().to_owned()),
                sales,
            };
            match server.post_sales(&batch).await {
                Ok(result) => {
                    let verdicts = verdicts_of(&batch, result)?;
                    apply(core, verdicts, report).await?;
                    core.note_server(true, None);
                }
                Err(error) => {
                    let single = (batch.sales.len() == 1).then(|| batch.sales[0].id);
                    let mut sales = batch.sales;
                    match classify(&error, single) {
                        Failure::Retry => return Err(error.into()),
                        Failure::TokenRefused => return Err(SyncError::TokenRefused(error)),
                        Failure::TooLarge if sales.len() > 1 => {
                            batch_size = sales.len() / 2;
                            let size = batch_size.to_string();
                            core.journal(move |j| j.set_meta(BATCH_SIZE_KEY, &size))
                                .await?;
                            tracing::warn!(%error, batch_size, "server refused the batch size; sending smaller batches from now on");
                            let second = sales.split_off(sales.len() / 2);
                            pending.push(second);
                            pending.push(sales);
                        }
                        Failure::Refused(_) if sales.len() > 1 => {
                            tracing::warn!(%error, count = sales.len(), "server refused a batch; halving it to find the sales it refuses");
                            let second = sales.split_off(sales.len() / 2);
                            pending.push(second);
                            pending.push(sales);
                        }
                        Failure::Refused(code) => {
                            set_aside(core, sales[0].id, code, &error, report).await?;
                        }
                        Failure::TooLarge => {
                            set_aside(
                                core,
                                sales[0].id,
                                "payload_too_large".into(),
                                &error,
                                report,
                            )
                            .await?;
                        }
                    }
                }
            }
            core.emit_sync_status().await;
        }
    }
}

/// One sale the server refuses on its own: it needs attention.
async fn set_aside(
    core: &Core,
    id: uuid::Uuid,
    code: String,
    error: &ServerError,
    report: &mut DrainReport,
) -> Result<(), SyncError> {
    tracing::error!(sale = %id, reason = %code, %error, "server refused a sale; kept in the journal as needing attention");
    let verdict = SaleVerdict {
        id,
        state: SyncState::Rejected,
        detail: Some(code),
        server_recorded_at: None,
    };
    apply(core, vec![verdict], report).await
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
            Ok(match r.status {
                SaleStatus::Accepted | SaleStatus::Overrun => SaleVerdict {
                    id: r.id,
                    state: if r.status == SaleStatus::Accepted {
                        SyncState::Accepted
                    } else {
                        SyncState::Overrun
                    },
                    detail: r.overrun_reason.map(|reason| reason.as_str().to_owned()),
                    server_recorded_at: Some(r.recorded_at),
                },
                SaleStatus::Rejected | SaleStatus::Conflict => SaleVerdict {
                    id: r.id,
                    state: SyncState::Rejected,
                    detail: Some(match (&r.problem, r.status) {
                        (Some(p), _) if p.code != mask_api::ErrorCode::Unknown => {
                            p.code.as_str().to_owned()
                        }
                        (_, SaleStatus::Conflict) => "conflict".to_owned(),
                        _ => "rejected".to_owned(),
                    }),
                    server_recorded_at: None,
                },
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
            SyncState::Rejected => {
                report.rejected += 1;
                tracing::error!(sale = %v.id, reason = ?v.detail, "server would not take a sale; it needs attention");
            }
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

/// Why a single stock-in or listing change fails: `Ok(None)` sent, `Ok(Some(code))` refused
/// for good (needs attention), `Err` retry later.
fn single_outcome<T>(result: Result<T, ServerError>) -> Result<Option<String>, SyncError> {
    let error = match result {
        Ok(_) => return Ok(None),
        Err(error) => error,
    };
    match classify(&error, None) {
        Failure::Retry => Err(SyncError::Server(error)),
        Failure::TokenRefused => Err(SyncError::TokenRefused(error)),
        Failure::TooLarge => Ok(Some("payload_too_large".into())),
        Failure::Refused(code) => Ok(Some(code)),
    }
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
            let refused = single_outcome(server.post_stock(&body).await)?;
            if let Some(reason) = &refused {
                tracing::error!(stock = %stock.id, %reason, "server refused a stock-in; it needs attention (still counted in the inventory)");
                report.rejected += 1;
            } else {
                report.other += 1;
            }
            let now = core.now();
            core.journal(move |j| j.mark_stock_in(stock.id, refused.as_deref(), now))
                .await?;
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
    let refused = single_outcome(server.post_listing(&request).await)?;
    if let Some(reason) = &refused {
        tracing::error!(%reason, "server refused a listing change; it needs attention");
        report.rejected += 1;
    } else {
        report.other += 1;
    }
    let now = core.now();
    core.journal(move |j| j.mark_listing(change.seq, refused.as_deref(), now))
        .await?;
    let state = core.listing().await?;
    core.emit(Event::Listing(state));
    Ok(())
}

/// The queued public note, if any (older unsent ones were superseded): sent with its own id,
/// so a replay after a crash gets the server's first answer.
async fn drain_note(
    core: &Core,
    server: &crate::server::ServerClient,
    report: &mut DrainReport,
) -> Result<(), SyncError> {
    let Some(change) = core.journal(|j| j.queued_note()).await? else {
        return Ok(());
    };
    let request = NoteRequest {
        id: change.id,
        site: Some(core.site_code().to_owned()),
        note: change.note,
        set_at: change.set_at,
    };
    let refused = single_outcome(server.post_note(&request).await)?;
    if let Some(reason) = &refused {
        tracing::error!(note = %change.id, %reason, "server refused the public note; it needs attention");
        report.rejected += 1;
    } else {
        report.other += 1;
    }
    let now = core.now();
    core.journal(move |j| j.mark_note(change.seq, refused.as_deref(), now))
        .await?;
    let state = core.note().await?;
    core.emit(Event::Note(state));
    Ok(())
}

/// Fetches the policy when none is cached or it is older than an hour.
pub async fn refresh_policy_if_stale(core: &Core) {
    let Some(server) = core.server() else { return };
    let now = core.now();
    let fresh = core
        .journal(|j| j.policy_fetched_at())
        .await
        .ok()
        .flatten()
        .is_some_and(|at| now - at < POLICY_MAX_AGE);
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
                    // One classifier tells an outage from a refused token (core.rs).
                    SyncError::Server(e) | SyncError::TokenRefused(e) => {
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
    use mask_api::{ErrorCode, Problem, ProblemItem};

    fn status(status: u16, problem: Option<Problem>) -> ServerError {
        ServerError::Status {
            status,
            problem: problem.map(Box::new),
        }
    }

    #[test]
    fn failures_are_classed_by_what_can_heal() {
        let id = uuid::Uuid::now_v7();
        let mut problem = Problem::new(422, ErrorCode::InvalidBody, "bad");
        problem.errors.push(ProblemItem {
            index: Some(0),
            id: Some(id.to_string()),
            code: ErrorCode::SaleTimeInFuture,
            detail: "ahead".into(),
        });
        assert_eq!(
            classify(&status(422, Some(problem.clone())), Some(id)),
            Failure::Refused("sale_time_in_future".into())
        );
        assert_eq!(
            classify(&status(422, Some(problem)), None),
            Failure::Refused("invalid_body".into())
        );
        assert_eq!(
            classify(
                &status(
                    409,
                    Some(Problem::new(409, ErrorCode::IdempotencyConflict, "x"))
                ),
                None
            ),
            Failure::Refused("idempotency_conflict".into())
        );
        // A 4xx that is not the API's problem body (a proxy's page) blames no record.
        for code in [400, 409, 422] {
            assert_eq!(
                classify(&status(code, None), None),
                Failure::Retry,
                "{code}"
            );
        }
        for code in [401, 403] {
            assert_eq!(classify(&status(code, None), None), Failure::TokenRefused);
            assert!(SyncError::from(status(code, None)).is_token_refused());
        }
        assert_eq!(classify(&status(413, None), None), Failure::TooLarge);
        // Whole-request faults: no record may be set aside for them.
        for code in [404, 405, 415, 408, 429, 500, 502, 503] {
            assert_eq!(
                classify(&status(code, None), None),
                Failure::Retry,
                "{code}"
            );
        }
        let unknown_site = Problem::new(422, ErrorCode::UnknownSite, "site");
        assert_eq!(
            classify(&status(422, Some(unknown_site)), None),
            Failure::Retry
        );
        assert_eq!(classify(&ServerError::Timeout, None), Failure::Retry);
        assert_eq!(
            classify(&ServerError::Garbage("<html>".into()), None),
            Failure::Retry
        );
        assert!(!SyncError::from(status(500, None)).is_token_refused());
    }

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
