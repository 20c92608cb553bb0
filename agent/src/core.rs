//! The agent's state and the operations a client can ask for. One place decides: the counter
//! state, eligibility, the journal writes, and the events every subscriber sees.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use mask_api::{
    BuyerKind, Clock, PolicySet, PolicyVersion, RefusalReason, SaleSource, StockLevel, WhoAmI,
};
use mask_protocol::{
    BuyerView, Connectivity, CounterState, DecisionSource, EligibilityView, ErrorBody, ErrorCode,
    Event, Inventory, InventoryWarning, ListingState, NoteState, ReadRef, ReaderState, SaleReceipt,
    SaleSyncState, SellBuyer, SellOutcome, StatusReport, StockCounts, StockInForm, SyncStatus,
};
use nhi_card::{IdError, IdNumber, Identity};
use time::{Date, OffsetDateTime};
use tokio::sync::{Notify, broadcast, watch};
use uuid::Uuid;

use crate::eligibility::{self, Decision};
use crate::journal::{Journal, JournalError, NewSale, QueuedStockIn};
use crate::journal::{META_CLOCK_OFFSET, META_CREATED, META_LAST_CONTACT, META_SITE_NAME, Opening};
use crate::messages::{Language, Msg};
use crate::server::{ServerClient, ServerDate, ServerError};

/// Largest quantity one sale may have (the server refuses more too).
pub const MAX_QUANTITY: u32 = 100;

/// How long an eligibility answer shown on screen stays good for the sale.
const DECISION_REUSE: Duration = Duration::from_secs(120);

/// HTTP dates have a resolution of one second: smaller offsets are reading noise.
const OFFSET_NOISE: time::Duration = time::Duration::seconds(2);

/// How often the last contact is written to the journal at most (the budget is in hours; a
/// write per answer would put an fsync on every card). Measured on the monotonic clock: the
/// write's cost is per real second, and a day replayed at 10× (mask-launch-day) must not
/// write on every probe because its corrected clock runs fast.
const CONTACT_PERSIST_EVERY: Duration = Duration::from_secs(60);

/// What an exchange with the server means for the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    /// The server answered as asked.
    Answered,
    /// The server answers but refuses this pharmacy's token (401/403).
    TokenRefused,
    /// The server answered and refused the request itself (another 4xx): not an outage.
    Refused,
    /// Network failure, timeout, 5xx or 429: the server counts as unreachable.
    Unreachable,
}

impl Exchange {
    /// Classifies one result.
    pub fn of(result: Result<(), &ServerError>) -> Exchange {
        match result {
            Ok(()) => Exchange::Answered,
            Err(error) if error.is_token_refused() => Exchange::TokenRefused,
            Err(error) if error.is_transient() => Exchange::Unreachable,
            Err(_) => Exchange::Refused,
        }
    }
}

/// A request that failed; nothing was recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The typed ID number is invalid.
    #[error("invalid ID number: {0}")]
    InvalidId(#[from] IdError),
    /// Quantity out of range.
    #[error("quantity must be 1..={MAX_QUANTITY}")]
    InvalidQuantity,
    /// The public note is too long or has a control character.
    #[error("invalid public note: {0}")]
    InvalidNote(#[from] mask_api::NoteError),
    /// The buyer named by the sale is no longer on screen.
    #[error("the buyer on screen has changed")]
    StaleBuyer,
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A background task failed.
    #[error("internal task failed: {0}")]
    Task(Arc<tokio::task::JoinError>),
}

impl AgentError {
    /// The protocol error for a client, in `lang`.
    pub fn to_body(&self, lang: Language) -> ErrorBody {
        let (code, msg) = match self {
            AgentError::InvalidId(e) => (ErrorCode::InvalidId, Msg::InvalidId(*e)),
            AgentError::InvalidQuantity => (ErrorCode::InvalidQuantity, Msg::InvalidQuantity),
            AgentError::InvalidNote(e) => (ErrorCode::InvalidNote, Msg::InvalidNote(*e)),
            AgentError::StaleBuyer => (ErrorCode::StaleBuyer, Msg::StaleBuyer),
            AgentError::Journal(JournalError::DiskFull(_)) => {
                (ErrorCode::JournalUnavailable, Msg::JournalDiskFull)
            }
            AgentError::Journal(e) => (ErrorCode::JournalUnavailable, Msg::journal(e)),
            AgentError::Task(e) => (
                ErrorCode::Internal,
                Msg::Internal(crate::messages::Internal::Task(e.clone())),
            ),
        };
        ErrorBody {
            code,
            message: msg.text(lang),
        }
    }
}

/// The buyer whose card is on screen (full identity: never leaves the agent).
struct CurrentBuyer {
    read: ReadRef,
    reader: String,
    identity: Identity,
    /// The decision shown, when it was made (for reuse), and the journal time it was made at
    /// (sales of this buyer recorded since make it stale).
    decision: Option<(Decision, Instant, OffsetDateTime)>,
}

struct Counter {
    state: CounterState,
    current: Option<CurrentBuyer>,
}

struct SyncInfo {
    connectivity: Connectivity,
    last_sync: Option<OffsetDateTime>,
    last_error: Option<String>,
    /// The server's clock minus the agent clock, as last measured.
    offset: Option<time::Duration>,
    offset_persisted: Option<time::Duration>,
    /// The last successful exchange (corrected time), else when the journal was first used.
    last_contact: OffsetDateTime,
    contact_persisted: Option<OffsetDateTime>,
    /// When (monotonic) the last contact was last written by this process.
    contact_written_at: Option<Instant>,
    /// The server refused the token and has not accepted it since.
    token_refused: bool,
    /// The offset was read from the server since this process started (a stored one may be
    /// stale: the PC clock may have been changed while the agent was down).
    offset_measured: bool,
    /// When the server last answered (real time, for how fresh the connectivity shown is;
    /// `last_contact` is on the corrected clock, which may jump).
    answered_at: Option<Instant>,
}

/// Settings of the core.
#[derive(Clone, Debug)]
pub struct CoreSettings {
    /// The pharmacy code.
    pub site_code: String,
    /// Message language.
    pub language: Language,
    /// The clock.
    pub clock: Clock,
}

/// The agent's shared state.
pub struct Core {
    settings: CoreSettings,
    journal: Arc<Mutex<Journal>>,
    server: Option<ServerClient>,
    policy: RwLock<Option<PolicySet>>,
    /// The pharmacy's name from the server's registry (kept in the journal's meta).
    site_name: Mutex<Option<String>>,
    counter: Mutex<Counter>,
    readers: Mutex<BTreeMap<String, bool>>,
    sync: Mutex<SyncInfo>,
    events: broadcast::Sender<Event>,
    next_read: AtomicU64,
    /// One lock per buyer being decided and sold to (decide + record is one step per buyer).
    buyer_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Wakes the sync loop after a sale (honoured when online).
    pub(crate) sale_wake: Notify,
    /// Wakes the sync loop now, whatever the backoff (SyncNow).
    pub(crate) force_wake: Notify,
    /// Counts finished sync attempts (SyncNow waits for the next one).
    pub(crate) attempts: watch::Sender<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind, still consistent
    // enough to serve; recover instead of poisoning the whole agent.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The server's clock minus ours from one `Date` reading, and how far to trust it (half the
/// round trip). The server read its clock somewhere between our request and its answer: take
/// the middle, so a VPN taking seconds does not set the clock seconds wrong. `now` is our clock
/// `since_received` after the answer; a replay's clock runs `speed` times real time, so real
/// durations are scaled by it.
fn offset_reading(
    date: &ServerDate,
    now: OffsetDateTime,
    since_received: std::time::Duration,
    speed: u32,
) -> (time::Duration, time::Duration) {
    let scaled = |d: std::time::Duration| {
        time::Duration::try_from(d.saturating_mul(speed)).unwrap_or(time::Duration::MAX)
    };
    let half_trip = scaled(date.round_trip / 2);
    let at_reading = now - scaled(since_received) - half_trip;
    (date.date - at_reading, half_trip)
}

fn applied(offset: Option<time::Duration>) -> time::Duration {
    offset
        .filter(|o| o.abs() >= OFFSET_NOISE)
        .unwrap_or(time::Duration::ZERO)
}

/// Holds one buyer's lock; the map entry goes when nobody else waits for it.
struct BuyerGuard<'a> {
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    key: String,
    locks: &'a Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Drop for BuyerGuard<'_> {
    fn drop(&mut self) {
        self.guard = None;
        let mut locks = lock(self.locks);
        if locks
            .get(&self.key)
            .is_some_and(|entry| Arc::strong_count(entry) == 1)
        {
            locks.remove(&self.key);
        }
    }
}

/// The amounts to collect for 1..=`allowed` masks under `version` (its price, through
/// `mask_api`'s one computation); empty when it carries no price.
fn amounts_due(version: Option<&PolicyVersion>, kind: BuyerKind, allowed: u32) -> Vec<u32> {
    let Some(version) = version else {
        return Vec::new();
    };
    (1..=allowed.min(MAX_QUANTITY))
        .map_while(|quantity| version.amount_due(kind, quantity))
        .collect()
}

/// The protocol view of a decision; `version` is the policy in force now (for the amounts).
pub fn eligibility_view(decision: &Decision, version: Option<&PolicyVersion>) -> EligibilityView {
    let allowed = if decision.is_allowed() {
        decision.eligibility.allowed
    } else {
        0
    };
    EligibilityView {
        amounts_due: amounts_due(version, decision.eligibility.kind, allowed),
        kind: decision.eligibility.kind,
        allowed: decision.eligibility.allowed,
        next_date: decision.eligibility.next_date,
        reason: decision.eligibility.reason.clone(),
        decided: decision.source,
    }
}

impl Core {
    /// A core over an open journal. `server` is `None` only in tests of offline behaviour.
    pub fn new(
        settings: CoreSettings,
        mut journal: Journal,
        server: Option<ServerClient>,
    ) -> Arc<Core> {
        let offset = journal
            .meta_i64(META_CLOCK_OFFSET)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "stored clock offset unreadable; measuring again");
                None
            })
            .map(time::Duration::milliseconds);
        let corrected_now = settings.clock.now() + applied(offset);
        let created = match journal.meta_time(META_CREATED) {
            Ok(Some(at)) => at,
            other => {
                if let Err(error) = other {
                    tracing::warn!(%error, "stored journal start unreadable");
                }
                if let Err(error) = journal.set_meta_time(META_CREATED, corrected_now) {
                    tracing::warn!(%error, "cannot store the journal start");
                }
                corrected_now
            }
        };
        let contact_persisted = journal
            .meta_time(META_LAST_CONTACT)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "stored last contact unreadable");
                None
            });
        let last_contact = contact_persisted.unwrap_or(created);
        let policy = match journal.cached_policy() {
            Ok(Some((policy, _))) => Some(policy),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, "cached policy unreadable; will fetch again");
                None
            }
        };
        let site_name = journal.meta(META_SITE_NAME).unwrap_or_else(|error| {
            tracing::warn!(%error, "stored pharmacy name unreadable; asking the server again");
            None
        });
        let (events, _) = broadcast::channel(1024);
        let (attempts, _) = watch::channel(0);
        Arc::new(Core {
            settings,
            journal: Arc::new(Mutex::new(journal)),
            server,
            policy: RwLock::new(policy),
            site_name: Mutex::new(site_name),
            counter: Mutex::new(Counter {
                state: CounterState::Waiting,
                current: None,
            }),
            readers: Mutex::new(BTreeMap::new()),
            sync: Mutex::new(SyncInfo {
                connectivity: Connectivity::Unknown,
                last_sync: None,
                last_error: None,
                offset,
                offset_persisted: offset,
                last_contact,
                contact_persisted,
                contact_written_at: None,
                token_refused: false,
                offset_measured: false,
                answered_at: None,
            }),
            events,
            next_read: AtomicU64::new(1),
            buyer_locks: Mutex::new(HashMap::new()),
            sale_wake: Notify::new(),
            force_wake: Notify::new(),
            attempts,
        })
    }

    /// The pharmacy code.
    pub fn site_code(&self) -> &str {
        &self.settings.site_code
    }

    /// The pharmacy's name from the server's registry, once the server has told it (this run
    /// or an earlier one).
    pub fn site_name(&self) -> Option<String> {
        lock(&self.site_name).clone()
    }

    /// Keeps the name the server's registry gives this pharmacy (`GET /v1/whoami`): in the
    /// journal, so the counter's header names the pharmacy offline and after a restart, and on
    /// every connected screen at once. An answer for another site (a token of another
    /// pharmacy: `mask-agent doctor` says so) or without a name changes nothing.
    pub async fn keep_site_name(&self, me: &WhoAmI) {
        let name = me.name.trim();
        if me.site != self.settings.site_code || name.is_empty() {
            return;
        }
        if lock(&self.site_name).as_deref() == Some(name) {
            return;
        }
        let stored = name.to_owned();
        if let Err(error) = self
            .journal(move |j| j.set_meta(META_SITE_NAME, &stored))
            .await
        {
            // Still shown for this run; the next start asks the server again.
            tracing::warn!(%error, "cannot keep the pharmacy's name");
        } else {
            tracing::info!(site = %me.site, name, "pharmacy name from the server");
        }
        *lock(&self.site_name) = Some(name.to_owned());
        self.emit(Event::SiteName {
            name: name.to_owned(),
        });
    }

    /// The message language.
    pub fn language(&self) -> Language {
        self.settings.language
    }

    /// Now, by the agent's clock corrected to the server's (see [`Core::clock_offset`]).
    pub fn now(&self) -> OffsetDateTime {
        self.settings.clock.now() + self.clock_offset()
    }

    /// The agent clock's own reading (the PC's clock, or the test clock of `as_of`).
    pub fn pc_now(&self) -> OffsetDateTime {
        self.settings.clock.now()
    }

    /// The correction applied to the agent clock: the server's clock minus it, zero below the
    /// reading noise of HTTP dates.
    pub fn clock_offset(&self) -> time::Duration {
        applied(lock(&self.sync).offset)
    }

    /// The server client, if configured.
    pub fn server(&self) -> Option<&ServerClient> {
        self.server.as_ref()
    }

    /// Subscribes to events.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub(crate) fn emit(&self, event: Event) {
        // No subscribers is fine.
        let _ = self.events.send(event);
    }

    /// Runs `f` on the journal on a blocking thread (commits fsync).
    pub async fn journal<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Journal) -> Result<T, JournalError> + Send + 'static,
    ) -> Result<T, AgentError> {
        let journal = Arc::clone(&self.journal);
        tokio::task::spawn_blocking(move || f(&mut lock(&journal)))
            .await
            .map_err(|e| AgentError::Task(Arc::new(e)))?
            .map_err(AgentError::from)
    }

    /// The policy set for local decisions: the cached one, else the 2020 records shipped with
    /// `mask-api` (so a fresh install that never reached the server can still sell offline).
    pub fn policy(&self) -> PolicySet {
        self.policy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .unwrap_or_else(PolicySet::builtin)
    }

    /// Whether a policy from the server is cached.
    pub fn policy_cached(&self) -> bool {
        self.policy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    /// Replaces the cached policy (after a fetch) and stores it in the journal.
    pub async fn set_policy(&self, policy: PolicySet) -> Result<(), AgentError> {
        let stored = policy.clone();
        let now = self.now();
        self.journal(move |j| j.store_policy(&stored, now)).await?;
        *self
            .policy
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(policy);
        Ok(())
    }

    /// Records the outcome of an exchange with the server (connectivity for the status bar).
    /// A failure here is taken as an outage; callers that hold the error use
    /// [`Core::note_exchange`], which tells a refused token from an outage.
    pub(crate) fn note_server(&self, ok: bool, error: Option<String>) {
        if ok {
            self.note_exchange(Ok(()));
            return;
        }
        self.apply_exchange(Exchange::Unreachable, error);
    }

    /// The one classifier of exchanges with the server (eligibility, the probe, the sync loop):
    /// updates connectivity, the last contact and the clock offset, and says what it meant.
    pub fn note_exchange(&self, result: Result<(), &ServerError>) -> Exchange {
        let exchange = Exchange::of(result);
        if exchange != Exchange::Unreachable {
            self.note_server_date();
        }
        let error = match (exchange, result) {
            (Exchange::Answered | Exchange::Refused, _) | (_, Ok(())) => None,
            // 4xx details may quote the request; only outages and token refusals are shown.
            (_, Err(error)) => Some(error.to_string()),
        };
        self.apply_exchange(exchange, error);
        exchange
    }

    fn apply_exchange(&self, exchange: Exchange, error: Option<String>) {
        let now = self.now();
        let (before, after) = {
            let mut sync = lock(&self.sync);
            let before = sync.connectivity;
            match exchange {
                Exchange::Answered | Exchange::Refused => {
                    sync.connectivity = Connectivity::Online;
                    sync.answered_at = Some(Instant::now());
                    sync.last_sync = Some(now);
                    sync.last_error = None;
                    sync.last_contact = now;
                    sync.token_refused = false;
                }
                Exchange::TokenRefused => {
                    sync.connectivity = Connectivity::TokenRefused;
                    sync.last_error = error;
                    sync.token_refused = true;
                }
                Exchange::Unreachable => {
                    sync.connectivity = Connectivity::Offline;
                    sync.last_error = error;
                }
            }
            (before, sync.connectivity)
        };
        if before != after {
            match after {
                Connectivity::Offline => {
                    tracing::warn!(error = ?lock(&self.sync).last_error, "server unreachable; working offline");
                }
                Connectivity::TokenRefused => {
                    tracing::error!("the server refuses this pharmacy's token; selling stopped");
                }
                _ => tracing::info!(?after, "server reachable"),
            }
        }
    }

    fn note_server_date(&self) {
        let Some(date) = self
            .server
            .as_ref()
            .and_then(ServerClient::last_server_date)
        else {
            return;
        };
        let (measured, half_trip) = offset_reading(
            &date,
            self.settings.clock.now(),
            date.received.elapsed(),
            self.settings.clock.speed(),
        );
        let mut sync = lock(&self.sync);
        sync.offset_measured = true;
        // Keep the offset while readings stay within the noise, so sale times do not jitter.
        if sync
            .offset
            .is_none_or(|known| (measured - known).abs() >= OFFSET_NOISE + half_trip)
        {
            if measured.abs() >= OFFSET_NOISE {
                tracing::warn!(
                    offset_s = measured.whole_seconds(),
                    "this PC's clock differs from the server's; using the server's time"
                );
            }
            sync.offset = Some(measured);
        }
    }

    /// Whether an eligibility check should go to the server (not during a known outage: the
    /// probe watches the server and turns this back on).
    pub fn should_ask_server(&self) -> bool {
        lock(&self.sync).connectivity != Connectivity::Offline
    }

    /// Whether the server answered (anything but an outage) within `within`.
    pub fn answered_within(&self, within: std::time::Duration) -> bool {
        lock(&self.sync)
            .answered_at
            .is_some_and(|at| at.elapsed() < within)
    }

    /// Whether `now()` has been checked against the server since start. Until then it rests
    /// on the offset stored by an earlier run, which a PC clock changed in between makes wrong.
    pub fn time_verified(&self) -> bool {
        lock(&self.sync).offset_measured
    }

    /// Whether the server refused the token and has not accepted it since.
    pub fn token_refused(&self) -> bool {
        lock(&self.sync).token_refused
    }

    /// The last successful contact with the server (else when this journal was first used).
    pub fn last_contact(&self) -> OffsetDateTime {
        lock(&self.sync).last_contact
    }

    /// The connectivity now.
    pub fn connectivity(&self) -> Connectivity {
        lock(&self.sync).connectivity
    }

    /// Writes the clock offset and the last contact to the journal when they changed (so they
    /// survive a restart and serve offline).
    pub async fn persist_server_view(&self) {
        let (offset, contact) = {
            let sync = lock(&self.sync);
            let offset = sync.offset.filter(|o| Some(*o) != sync.offset_persisted);
            let contact = Some(sync.last_contact).filter(|c| {
                sync.contact_persisted != Some(*c)
                    && sync
                        .contact_written_at
                        .is_none_or(|at| at.elapsed() >= CONTACT_PERSIST_EVERY)
            });
            (offset, contact)
        };
        if offset.is_none() && contact.is_none() {
            return;
        }
        let stored = self
            .journal(move |j| {
                if let Some(offset) = offset {
                    let ms = i64::try_from(offset.whole_milliseconds()).unwrap_or(i64::MAX);
                    j.set_meta(META_CLOCK_OFFSET, &ms.to_string())?;
                }
                if let Some(contact) = contact {
                    j.set_meta_time(META_LAST_CONTACT, contact)?;
                }
                Ok(())
            })
            .await;
        match stored {
            Ok(()) => {
                let mut sync = lock(&self.sync);
                if offset.is_some() {
                    sync.offset_persisted = offset;
                }
                if contact.is_some() {
                    sync.contact_persisted = contact;
                    sync.contact_written_at = Some(Instant::now());
                }
            }
            Err(error) => tracing::warn!(%error, "cannot store the server's clock and contact"),
        }
    }

    /// Whether the last exchange with the server succeeded.
    pub fn is_online(&self) -> bool {
        lock(&self.sync).connectivity == Connectivity::Online
    }

    /// Fetches today's opening stock from the server and keeps it in the journal; `false`
    /// when the server did not give it.
    pub async fn fetch_opening(&self) -> Result<bool, AgentError> {
        let Some(server) = self.server() else {
            return Ok(false);
        };
        let day = mask_api::taipei_date(self.now());
        let result = server.inventory(day).await;
        self.note_exchange(result.as_ref().map(|_| ()));
        let inventory = match result {
            Ok(inventory) => inventory,
            Err(error) => {
                tracing::info!(%error, "opening stock not fetched");
                return Ok(false);
            }
        };
        let opening = Opening {
            day: inventory.date,
            adult: inventory.opening_adult,
            child: inventory.opening_child,
        };
        self.journal(move |j| j.store_opening(opening)).await?;
        tracing::info!(day = %opening.day, adult = opening.adult, child = opening.child, "opening stock from the server");
        self.emit_inventory().await;
        Ok(true)
    }

    /// The sync status (counts from the journal).
    pub async fn sync_status(&self) -> Result<SyncStatus, AgentError> {
        let (queued, queued_other, overruns, attention) = self
            .journal(|j| {
                Ok((
                    j.queued_sale_count()?,
                    j.queued_other_count()?,
                    j.overrun_count()?,
                    j.attention_count()?,
                ))
            })
            .await?;
        let sync = lock(&self.sync);
        Ok(SyncStatus {
            connectivity: sync.connectivity,
            queued,
            queued_other,
            last_sync: sync.last_sync,
            last_error: sync.last_error.clone(),
            overruns,
            attention,
            clock_offset_s: sync.offset.map(|o| applied(Some(o)).whole_seconds()),
        })
    }

    /// Emits the current sync status.
    pub(crate) async fn emit_sync_status(&self) {
        match self.sync_status().await {
            Ok(status) => self.emit(Event::Sync(status)),
            Err(error) => tracing::warn!(%error, "cannot read sync status"),
        }
    }

    /// The listing state.
    pub async fn listing(&self) -> Result<ListingState, AgentError> {
        let latest = self.journal(|j| j.latest_listing()).await?;
        Ok(match latest {
            Some(change) => ListingState {
                listed: change.listed,
                changed_at: Some(change.changed_at),
                synced: change.synced,
            },
            None => ListingState {
                listed: true,
                changed_at: None,
                synced: true,
            },
        })
    }

    /// The counter state now.
    pub fn counter_state(&self) -> CounterState {
        lock(&self.counter).state.clone()
    }

    fn set_counter(&self, counter: &mut Counter, state: CounterState) {
        counter.state = state.clone();
        self.emit(Event::Counter(state));
    }

    /// Known readers.
    pub fn readers(&self) -> Vec<ReaderState> {
        lock(&self.readers)
            .iter()
            .map(|(name, present)| ReaderState {
                name: name.clone(),
                card_present: *present,
            })
            .collect()
    }

    /// The full status report.
    pub async fn status(&self) -> Result<StatusReport, AgentError> {
        Ok(StatusReport {
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            site_code: self.settings.site_code.clone(),
            site_name: self.site_name(),
            sync: self.sync_status().await?,
            readers: self.readers(),
            listing: self.listing().await?,
            note: self.note().await?,
            counter: self.counter_state(),
            policy_cached: self.policy_cached(),
        })
    }

    /// The records that need attention, newest first (the counter's attention list).
    pub async fn attention(&self) -> Result<Vec<mask_protocol::AttentionRecord>, AgentError> {
        self.journal(|j| j.attention_records(200)).await
    }

    /// Today's inventory (Asia/Taipei) from the journal.
    pub async fn inventory(&self) -> Result<Inventory, AgentError> {
        let now = self.now();
        let day = mask_api::taipei_date(now);
        let policy = self.policy();
        let (cap_adult, cap_child) = policy
            .in_force_on(day)
            .map_or((0, 0), |p| (p.site_daily_adult, p.site_daily_child));
        // On hand = the server's latest opening stock (day D0 ≤ today) + everything recorded
        // here from D0 on; without an opening, everything recorded here.
        let (opening, adult_today, child_today, adult_span, child_span) = self
            .journal(move |j| {
                let opening = j.opening_on_or_before(day)?;
                let from = opening.map(|o| o.day);
                Ok((
                    opening,
                    j.movements(BuyerKind::Adult, Some(day), day)?,
                    j.movements(BuyerKind::Child, Some(day), day)?,
                    j.movements(BuyerKind::Adult, from, day)?,
                    j.movements(BuyerKind::Child, from, day)?,
                ))
            })
            .await?;
        let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        let counts = |today: crate::journal::Movements,
                      span: crate::journal::Movements,
                      opening: i64,
                      cap: u32| StockCounts {
            received: clamp(today.received),
            sold: clamp(today.sold),
            sales: clamp(today.sales),
            damaged: clamp(today.damaged),
            remaining: opening + span.received - span.damaged - span.sold,
            cap,
        };
        // The stock is known once the server gave an opening stock or a delivery was entered
        // here (a stock-in states both kinds); before that a zero is no "out of stock".
        let stock_known = opening.is_some() || adult_span.stock_ins > 0;
        let adult = counts(
            adult_today,
            adult_span,
            opening.map_or(0, |o| o.adult),
            cap_adult,
        );
        let child = counts(
            child_today,
            child_span,
            opening.map_or(0, |o| o.child),
            cap_child,
        );
        let mut warnings = Vec::new();
        for (kind, c) in [(BuyerKind::Adult, adult), (BuyerKind::Child, child)] {
            let level = StockLevel {
                sold: c.sold,
                remaining: stock_known.then_some(c.remaining),
                cap: c.cap,
            };
            warnings.extend(
                level
                    .warnings()
                    .into_iter()
                    .map(|code| InventoryWarning { kind, code }),
            );
        }
        Ok(Inventory {
            date: day,
            adult,
            child,
            warnings,
        })
    }

    async fn emit_inventory(&self) {
        match self.inventory().await {
            Ok(inventory) => self.emit(Event::Inventory(inventory)),
            Err(error) => tracing::warn!(%error, "cannot compute inventory"),
        }
    }

    // ---- card events -------------------------------------------------------------------

    /// Feeds one card event into the counter.
    pub async fn on_card_event(self: &Arc<Self>, event: nhi_card::CardEvent) {
        use mask_protocol::CardNotice;
        use nhi_card::CardEvent as E;
        match event {
            E::ReaderAdded { reader } => {
                tracing::info!(%reader, "reader added");
                lock(&self.readers).insert(reader.clone(), false);
                self.emit(Event::Card(CardNotice::ReaderAdded { reader }));
            }
            E::ReaderRemoved { reader } => {
                tracing::info!(%reader, "reader removed");
                lock(&self.readers).remove(&reader);
                self.emit(Event::Card(CardNotice::ReaderRemoved { reader }));
            }
            E::CardInserted { reader } => {
                tracing::info!(%reader, "card inserted");
                lock(&self.readers).insert(reader.clone(), true);
                self.emit(Event::Card(CardNotice::CardInserted {
                    reader: reader.clone(),
                }));
                let mut counter = lock(&self.counter);
                self.set_counter(
                    &mut counter,
                    CounterState::Checking {
                        reader: Some(reader),
                    },
                );
            }
            E::CardRemoved { reader } => {
                tracing::info!(%reader, "card removed");
                lock(&self.readers).insert(reader.clone(), false);
                self.emit(Event::Card(CardNotice::CardRemoved {
                    reader: reader.clone(),
                }));
                let mut counter = lock(&self.counter);
                // A buyer already on screen stays until sold or cleared (the pharmacist often
                // hands the card back first); an unfinished read goes back to waiting.
                if matches!(&counter.state, CounterState::Checking { reader: Some(r) } if *r == reader)
                {
                    counter.current = None;
                    self.set_counter(&mut counter, CounterState::Waiting);
                }
            }
            E::CardError {
                reader,
                kind,
                label,
            } => {
                let problem = card_problem(kind);
                tracing::info!(reader = ?reader, ?problem, card_label = ?label, "card error");
                self.emit(Event::Card(CardNotice::CardError {
                    reader: reader.clone(),
                    problem,
                    card_label: label.clone(),
                }));
                let mut counter = lock(&self.counter);
                counter.current = None;
                self.set_counter(
                    &mut counter,
                    CounterState::CardError {
                        reader,
                        problem,
                        card_label: label,
                    },
                );
            }
            E::IdentityRead { reader, identity } => {
                let read = ReadRef(self.next_read.fetch_add(1, Ordering::Relaxed));
                tracing::info!(%reader, id = %identity.id_no.masked(), name = %nhi_card::mask_name(&identity.name), read = read.0, "card read");
                let id_no = identity.id_no.clone();
                let birth_date = identity.birth_date;
                {
                    let mut counter = lock(&self.counter);
                    counter.current = Some(CurrentBuyer {
                        read,
                        reader: reader.clone(),
                        identity,
                        decision: None,
                    });
                    self.set_counter(
                        &mut counter,
                        CounterState::Checking {
                            reader: Some(reader),
                        },
                    );
                }
                // Eligibility may take up to 2 s: decide in a task so card events keep flowing.
                let core = Arc::clone(self);
                tokio::spawn(async move {
                    let decided_at = NewSale::truncate_time(core.now());
                    let decision = core.decide(&id_no, Some(birth_date)).await;
                    core.show_decision(read, decision, decided_at);
                });
            }
            other => tracing::debug!(?other, "card event ignored"),
        }
    }

    fn show_decision(
        &self,
        read: ReadRef,
        decision: Result<Decision, AgentError>,
        decided_at: OffsetDateTime,
    ) {
        // The view (with its amounts) before the counter lock: it reads the policy and clock.
        let shown = decision.map(|decision| {
            let view = self.view(&decision);
            (decision, view)
        });
        let mut counter = lock(&self.counter);
        let Some(current) = counter.current.as_mut().filter(|c| c.read == read) else {
            return; // another card (or a clear) came in meanwhile
        };
        match shown {
            Ok((decision, view)) => {
                let buyer = BuyerView {
                    masked_name: nhi_card::mask_name(&current.identity.name),
                    masked_id: current.identity.id_no.masked(),
                    source: SaleSource::Card,
                    reader: Some(current.reader.clone()),
                };
                current.decision = Some((decision, Instant::now(), decided_at));
                self.set_counter(
                    &mut counter,
                    CounterState::Buyer {
                        read,
                        buyer,
                        eligibility: view,
                    },
                );
            }
            Err(error) => {
                tracing::error!(%error, "eligibility failed");
                counter.current = None;
                self.set_counter(
                    &mut counter,
                    CounterState::CardError {
                        reader: None,
                        problem: mask_protocol::CardProblem::Unreadable,
                        card_label: None,
                    },
                );
            }
        }
    }

    /// The protocol view of a decision made now, with the amounts to collect under the policy
    /// in force.
    fn view(&self, decision: &Decision) -> EligibilityView {
        let policy = self.policy();
        eligibility_view(decision, policy.in_force(self.now()))
    }

    /// Forgets the buyer on screen.
    pub fn clear_counter(&self) {
        let mut counter = lock(&self.counter);
        counter.current = None;
        self.set_counter(&mut counter, CounterState::Waiting);
    }

    // ---- eligibility and sales ---------------------------------------------------------

    /// Decides eligibility: the server within 2 s, else locally.
    pub async fn decide(
        &self,
        id_no: &IdNumber,
        birth_date: Option<Date>,
    ) -> Result<Decision, AgentError> {
        eligibility::decide(self, id_no, birth_date).await
    }

    /// `CheckEligibility` (manual entry).
    pub async fn check_eligibility(
        &self,
        id_no: &str,
        birth_date: Option<Date>,
    ) -> Result<EligibilityView, AgentError> {
        let id = IdNumber::parse(id_no)?;
        let decision = self.decide(&id, birth_date).await?;
        Ok(self.view(&decision))
    }

    /// `Sell`: re-checks eligibility, commits the sale durably, then answers.
    pub async fn sell(&self, buyer: SellBuyer, quantity: u32) -> Result<SellOutcome, AgentError> {
        if quantity == 0 || quantity > MAX_QUANTITY {
            return Err(AgentError::InvalidQuantity);
        }
        let (id_no, birth_date, source, reader, masked_name, read, known) = match buyer {
            SellBuyer::Card { read } => {
                let counter = lock(&self.counter);
                let current = counter
                    .current
                    .as_ref()
                    .filter(|c| c.read == read)
                    .ok_or(AgentError::StaleBuyer)?;
                let known = current
                    .decision
                    .as_ref()
                    .filter(|(_, at, _)| at.elapsed() < DECISION_REUSE)
                    .map(|(d, _, decided_at)| (d.clone(), *decided_at));
                (
                    current.identity.id_no.clone(),
                    Some(current.identity.birth_date),
                    SaleSource::Card,
                    Some(current.reader.clone()),
                    nhi_card::mask_name(&current.identity.name),
                    Some(read),
                    known,
                )
            }
            SellBuyer::Manual { id_no, birth_date } => (
                IdNumber::parse(&id_no)?,
                birth_date,
                SaleSource::Manual,
                None,
                String::new(),
                None,
                None,
            ),
        };
        // Decide and record as one step per buyer: a second counter (or `mask-agent sell`)
        // selling to the same person waits here and then sees this sale.
        let _buyer = self.lock_buyer(id_no.as_str()).await;
        let decision = match known {
            Some((decision, decided_at)) => {
                let id = id_no.as_str().to_owned();
                let stale = self
                    .journal(move |j| j.has_sale_since(&id, decided_at))
                    .await?;
                if stale {
                    tracing::info!(id = %id_no.masked(), "sold since the decision on screen; deciding again");
                    self.decide(&id_no, birth_date).await?
                } else {
                    decision
                }
            }
            None => self.decide(&id_no, birth_date).await?,
        };
        let view = self.view(&decision);
        if !decision.is_allowed() {
            tracing::info!(id = %id_no.masked(), reason = ?decision.eligibility.reason, "sale refused");
            return Ok(SellOutcome::Refused(view));
        }
        if quantity > decision.eligibility.allowed {
            tracing::info!(id = %id_no.masked(), quantity, allowed = decision.eligibility.allowed, "sale refused: quantity");
            return Ok(SellOutcome::Refused(EligibilityView {
                reason: Some(RefusalReason::Quota),
                ..view
            }));
        }
        let pc_now = self.pc_now();
        let offset = self.clock_offset();
        let sale = NewSale {
            id: Uuid::now_v7(),
            id_no: id_no.as_str().to_owned(),
            birth_date,
            kind: decision.eligibility.kind,
            quantity,
            sold_at: NewSale::truncate_time(pc_now + offset),
            source,
            offline: decision.source == DecisionSource::Local,
            pc_sold_at: (!offset.is_zero()).then(|| NewSale::truncate_time(pc_now)),
        };
        let stored = sale.clone();
        if let Err(error) = self.journal(move |j| j.record_sale(&stored)).await {
            tracing::error!(%error, id = %id_no.masked(), "sale NOT recorded");
            return Err(error);
        }
        tracing::info!(sale = %sale.id, id = %id_no.masked(), quantity, offline = sale.offline, "sale recorded");
        let receipt = SaleReceipt {
            sale_id: sale.id,
            buyer: BuyerView {
                masked_name,
                masked_id: id_no.masked(),
                source,
                reader,
            },
            kind: sale.kind,
            quantity,
            sold_at: sale.sold_at,
            offline: sale.offline,
            amount_due: self
                .policy()
                .in_force(sale.sold_at)
                .and_then(|version| version.amount_due(sale.kind, quantity)),
            sync: SaleSyncState::Queued,
        };
        if let Some(read) = read {
            let mut counter = lock(&self.counter);
            if counter.current.as_ref().is_some_and(|c| c.read == read) {
                counter.current = None;
                self.set_counter(&mut counter, CounterState::Waiting);
            }
        }
        self.emit(Event::SaleRecorded(receipt.clone()));
        self.sale_wake.notify_one();
        self.emit_inventory().await;
        self.emit_sync_status().await;
        Ok(SellOutcome::Recorded(receipt))
    }

    async fn lock_buyer(&self, id_no: &str) -> BuyerGuard<'_> {
        let entry = Arc::clone(lock(&self.buyer_locks).entry(id_no.to_owned()).or_default());
        let guard = entry.lock_owned().await;
        BuyerGuard {
            guard: Some(guard),
            key: id_no.to_owned(),
            locks: &self.buyer_locks,
        }
    }

    /// `StockIn`: journaled, then synced.
    pub async fn stock_in(&self, form: StockInForm) -> Result<Inventory, AgentError> {
        let stock = QueuedStockIn {
            id: Uuid::now_v7(),
            form,
            recorded_at: NewSale::truncate_time(self.now()),
        };
        self.journal(move |j| j.record_stock_in(&stock)).await?;
        tracing::info!(?form, "stock-in recorded");
        self.force_wake.notify_one();
        let inventory = self.inventory().await?;
        self.emit(Event::Inventory(inventory.clone()));
        Ok(inventory)
    }

    /// `SetListing`: journaled, then synced.
    pub async fn set_listing(&self, listed: bool) -> Result<ListingState, AgentError> {
        let now = self.now();
        self.journal(move |j| j.record_listing(listed, now)).await?;
        tracing::info!(listed, "listing change recorded");
        self.force_wake.notify_one();
        let state = self.listing().await?;
        self.emit(Event::Listing(state.clone()));
        Ok(state)
    }

    /// The public note as journaled (works offline and after a restart).
    pub async fn note(&self) -> Result<NoteState, AgentError> {
        let latest = self.journal(|j| j.latest_note()).await?;
        Ok(latest.map_or_else(NoteState::default, |n| NoteState {
            text: n.note,
            changed_at: Some(n.set_at),
            synced: n.state == "synced",
        }))
    }

    /// `SetNote`: checked by the one rule (`mask_api::public_note`), journaled (fsync'd) before
    /// the answer, then synced by the outbox. An empty text clears the note.
    pub async fn set_note(&self, text: &str) -> Result<NoteState, AgentError> {
        let note = mask_api::public_note(Some(text))?;
        let now = self.now();
        let id = Uuid::now_v7();
        let chars = note.as_deref().map_or(0, |n| n.chars().count());
        self.journal(move |j| j.record_note(id, note.as_deref(), now))
            .await?;
        // The note is public, but its text is the pharmacy's: the log keeps its length only.
        tracing::info!(note = %id, chars, "public note recorded");
        self.force_wake.notify_one();
        let state = self.note().await?;
        self.emit(Event::Note(state.clone()));
        Ok(state)
    }

    /// Re-emits the state a lagging subscriber may have missed.
    pub async fn resend_state(&self) {
        self.emit(Event::Counter(self.counter_state()));
        if let Some(name) = self.site_name() {
            self.emit(Event::SiteName { name });
        }
        self.emit_sync_status().await;
        self.emit_inventory().await;
    }
}

/// Maps the card library's error kinds to the protocol's.
pub fn card_problem(kind: nhi_card::CardErrorKind) -> mask_protocol::CardProblem {
    use mask_protocol::CardProblem as P;
    use nhi_card::CardErrorKind as K;
    match kind {
        K::NotNhiCard => P::NotNhiCard,
        K::HealthProfessionalCard => P::HealthProfessionalCard,
        K::RemovedTooEarly => P::RemovedTooEarly,
        K::Unreadable => P::Unreadable,
        K::ReaderUnplugged => P::ReaderUnplugged,
        K::ServiceNotRunning => P::ServiceNotRunning,
        _ => P::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> ServerError {
        ServerError::Status {
            status,
            problem: None,
        }
    }

    #[test]
    fn only_network_failures_timeouts_5xx_and_429_are_outages() {
        let of = |e: ServerError| Exchange::of(Err(&e));
        assert_eq!(Exchange::of(Ok(())), Exchange::Answered);
        assert_eq!(of(status(401)), Exchange::TokenRefused);
        assert_eq!(of(status(403)), Exchange::TokenRefused);
        for code in [400, 404, 409, 413, 422] {
            assert_eq!(of(status(code)), Exchange::Refused, "{code}");
        }
        for code in [429, 500, 502, 503] {
            assert_eq!(of(status(code)), Exchange::Unreachable, "{code}");
        }
        assert_eq!(of(ServerError::Timeout), Exchange::Unreachable);
        assert_eq!(
            of(ServerError::Connect("refused".into())),
            Exchange::Unreachable
        );
    }

    #[test]
    fn a_slow_answer_is_read_at_the_middle_of_its_round_trip_and_a_replay_scales_real_time() {
        use time::macros::datetime;
        let server = datetime!(2020-02-06 09:00:00 UTC);
        // Same clocks; the answer took 8 s (the server read its clock 4 s in) and arrived now.
        let reading = ServerDate {
            date: server,
            received: Instant::now(),
            round_trip: Duration::from_secs(8),
        };
        let now = server + time::Duration::seconds(4);
        let (offset, trust) = offset_reading(&reading, now, Duration::ZERO, 1);
        assert_eq!(offset, time::Duration::ZERO);
        assert_eq!(trust, time::Duration::seconds(4));
        // A replay at 10×: 1 real second since the answer is 10 on the clock, and the round
        // trip of 0.8 s real is 8 s on it.
        let replay = ServerDate {
            round_trip: Duration::from_millis(800),
            ..reading
        };
        let now = server + time::Duration::seconds(14);
        let (offset, trust) = offset_reading(&replay, now, Duration::from_secs(1), 10);
        assert_eq!(offset, time::Duration::ZERO);
        assert_eq!(trust, time::Duration::seconds(4));
    }

    #[test]
    fn offsets_below_the_http_date_resolution_are_not_applied() {
        assert_eq!(applied(None), time::Duration::ZERO);
        assert_eq!(
            applied(Some(time::Duration::milliseconds(-1900))),
            time::Duration::ZERO
        );
        assert_eq!(
            applied(Some(time::Duration::seconds(-2))),
            time::Duration::seconds(-2)
        );
    }
}
