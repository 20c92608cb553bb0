//! The agent's state and the operations a client can ask for. One place decides: the counter
//! state, eligibility, the journal writes, and the events every subscriber sees.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use mask_api::{BuyerKind, PolicySet, SaleSource};
use mask_protocol::{
    BuyerView, Connectivity, CounterState, DecisionSource, EligibilityView, ErrorBody, ErrorCode,
    Event, Inventory, ListingState, ReadRef, ReaderState, SaleReceipt, SaleSyncState, SellBuyer,
    SellOutcome, StatusReport, StockCounts, StockInForm, StockWarning, StockWarningCode,
    SyncStatus,
};
use nhi_card::{IdError, IdNumber, Identity};
use time::{Date, OffsetDateTime};
use tokio::sync::{Notify, broadcast, watch};
use uuid::Uuid;

use crate::clock::Clock;
use crate::eligibility::{self, Decision};
use crate::journal::{Journal, JournalError, NewSale, QueuedStockIn};
use crate::messages::{Language, Msg};
use crate::server::ServerClient;

/// Largest quantity one sale may have (the server refuses more too).
pub const MAX_QUANTITY: u32 = 100;

/// How long an eligibility answer shown on screen stays good for the sale.
const DECISION_REUSE: Duration = Duration::from_secs(120);

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
    /// The buyer named by the sale is no longer on screen.
    #[error("the buyer on screen has changed")]
    StaleBuyer,
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A background task failed.
    #[error("internal task failed: {0}")]
    Task(String),
}

impl AgentError {
    /// The protocol error for a client, in `lang`.
    pub fn to_body(&self, lang: Language) -> ErrorBody {
        let (code, msg) = match self {
            AgentError::InvalidId(e) => (ErrorCode::InvalidId, Msg::InvalidId(*e)),
            AgentError::InvalidQuantity => (ErrorCode::InvalidQuantity, Msg::InvalidQuantity),
            AgentError::StaleBuyer => (ErrorCode::StaleBuyer, Msg::StaleBuyer),
            AgentError::Journal(JournalError::DiskFull(_)) => {
                (ErrorCode::JournalUnavailable, Msg::JournalDiskFull)
            }
            AgentError::Journal(e) => (ErrorCode::JournalUnavailable, Msg::journal(e)),
            AgentError::Task(e) => (ErrorCode::Internal, Msg::Internal(e.clone())),
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
    decision: Option<(Decision, Instant)>,
}

struct Counter {
    state: CounterState,
    current: Option<CurrentBuyer>,
}

struct SyncInfo {
    connectivity: Connectivity,
    last_sync: Option<OffsetDateTime>,
    last_error: Option<String>,
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
    counter: Mutex<Counter>,
    readers: Mutex<BTreeMap<String, bool>>,
    sync: Mutex<SyncInfo>,
    events: broadcast::Sender<Event>,
    next_read: AtomicU64,
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

fn kind_to_protocol(kind: BuyerKind) -> mask_protocol::BuyerKind {
    match kind {
        BuyerKind::Adult => mask_protocol::BuyerKind::Adult,
        BuyerKind::Child => mask_protocol::BuyerKind::Child,
    }
}

/// The protocol view of a decision.
pub fn eligibility_view(decision: &Decision) -> EligibilityView {
    EligibilityView {
        kind: kind_to_protocol(decision.eligibility.kind),
        allowed: decision.eligibility.allowed,
        next_date: decision.eligibility.next_date,
        reason: decision
            .eligibility
            .reason
            .map(|r| mask_protocol::RefusalReason::from(r.as_str().to_owned())),
        decided: decision.source,
    }
}

impl Core {
    /// A core over an open journal. `server` is `None` only in tests of offline behaviour.
    pub fn new(
        settings: CoreSettings,
        journal: Journal,
        server: Option<ServerClient>,
    ) -> Arc<Core> {
        let policy = match journal.cached_policy() {
            Ok(Some((policy, _))) => Some(policy),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, "cached policy unreadable; will fetch again");
                None
            }
        };
        let (events, _) = broadcast::channel(1024);
        let (attempts, _) = watch::channel(0);
        Arc::new(Core {
            settings,
            journal: Arc::new(Mutex::new(journal)),
            server,
            policy: RwLock::new(policy),
            counter: Mutex::new(Counter {
                state: CounterState::Waiting,
                current: None,
            }),
            readers: Mutex::new(BTreeMap::new()),
            sync: Mutex::new(SyncInfo {
                connectivity: Connectivity::Unknown,
                last_sync: None,
                last_error: None,
            }),
            events,
            next_read: AtomicU64::new(1),
            sale_wake: Notify::new(),
            force_wake: Notify::new(),
            attempts,
        })
    }

    /// The pharmacy code.
    pub fn site_code(&self) -> &str {
        &self.settings.site_code
    }

    /// The message language.
    pub fn language(&self) -> Language {
        self.settings.language
    }

    /// Now, by the agent's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.settings.clock.now()
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
            .map_err(|e| AgentError::Task(e.to_string()))?
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
    pub(crate) fn note_server(&self, ok: bool, error: Option<String>) {
        let changed = {
            let mut sync = lock(&self.sync);
            let before = (sync.connectivity, sync.last_error.clone());
            if ok {
                sync.connectivity = Connectivity::Online;
                sync.last_sync = Some(self.now());
                sync.last_error = None;
            } else {
                sync.connectivity = Connectivity::Offline;
                sync.last_error = error;
            }
            before != (sync.connectivity, sync.last_error.clone())
        };
        if changed && !ok {
            tracing::warn!(error = ?lock(&self.sync).last_error, "server unreachable; working offline");
        }
    }

    /// Whether the last exchange with the server succeeded.
    pub fn is_online(&self) -> bool {
        lock(&self.sync).connectivity == Connectivity::Online
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
            clock_offset_s: None,
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
            sync: self.sync_status().await?,
            readers: self.readers(),
            listing: self.listing().await?,
            counter: self.counter_state(),
            policy_cached: self.policy_cached(),
        })
    }

    /// Today's inventory (Asia/Taipei) from the journal.
    pub async fn inventory(&self) -> Result<Inventory, AgentError> {
        let now = self.now();
        let day = mask_api::taipei_date(now);
        let policy = self.policy();
        let (cap_adult, cap_child) = policy
            .in_force_on(day)
            .map_or((0, 0), |p| (p.site_daily_adult, p.site_daily_child));
        let (adult, child) = self
            .journal(move |j| {
                Ok((
                    j.day_counts(day, BuyerKind::Adult)?,
                    j.day_counts(day, BuyerKind::Child)?,
                ))
            })
            .await?;
        let counts = |c: crate::journal::DayCounts, cap: u32| StockCounts {
            received: c.received,
            sold: c.sold,
            damaged: c.damaged,
            remaining: c.on_hand,
            cap,
        };
        let adult = counts(adult, cap_adult);
        let child = counts(child, cap_child);
        let mut warnings = Vec::new();
        for (kind, c) in [
            (mask_protocol::BuyerKind::Adult, adult),
            (mask_protocol::BuyerKind::Child, child),
        ] {
            if let Some(code) = stock_warning(&c) {
                warnings.push(StockWarning { kind, code });
            }
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
            E::CardError { reader, kind } => {
                let problem = card_problem(kind);
                tracing::info!(reader = ?reader, ?problem, "card error");
                self.emit(Event::Card(CardNotice::CardError {
                    reader: reader.clone(),
                    problem,
                }));
                let mut counter = lock(&self.counter);
                counter.current = None;
                self.set_counter(&mut counter, CounterState::CardError { reader, problem });
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
                    let decision = core.decide(&id_no, Some(birth_date)).await;
                    core.show_decision(read, decision);
                });
            }
            other => tracing::debug!(?other, "card event ignored"),
        }
    }

    fn show_decision(&self, read: ReadRef, decision: Result<Decision, AgentError>) {
        let mut counter = lock(&self.counter);
        let Some(current) = counter.current.as_mut().filter(|c| c.read == read) else {
            return; // another card (or a clear) came in meanwhile
        };
        match decision {
            Ok(decision) => {
                let view = eligibility_view(&decision);
                let buyer = BuyerView {
                    masked_name: nhi_card::mask_name(&current.identity.name),
                    masked_id: current.identity.id_no.masked(),
                    source: mask_protocol::SaleSource::Card,
                    reader: Some(current.reader.clone()),
                };
                current.decision = Some((decision, Instant::now()));
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
                    },
                );
            }
        }
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
        Ok(eligibility_view(&self.decide(&id, birth_date).await?))
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
                    .filter(|(_, at)| at.elapsed() < DECISION_REUSE)
                    .map(|(d, _)| *d);
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
        let decision = match known {
            Some(decision) => decision,
            None => self.decide(&id_no, birth_date).await?,
        };
        let view = eligibility_view(&decision);
        if decision.eligibility.reason.is_some() || decision.eligibility.allowed == 0 {
            tracing::info!(id = %id_no.masked(), reason = ?decision.eligibility.reason, "sale refused");
            return Ok(SellOutcome::Refused(view));
        }
        if quantity > decision.eligibility.allowed {
            tracing::info!(id = %id_no.masked(), quantity, allowed = decision.eligibility.allowed, "sale refused: quantity");
            return Ok(SellOutcome::Refused(EligibilityView {
                reason: Some(mask_protocol::RefusalReason::Quota),
                ..view
            }));
        }
        let sale = NewSale {
            id: Uuid::now_v7(),
            id_no: id_no.as_str().to_owned(),
            birth_date,
            kind: decision.eligibility.kind,
            quantity,
            sold_at: NewSale::truncate_time(self.now()),
            source,
            offline: decision.source == DecisionSource::Local,
            pc_sold_at: None,
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
                source: match source {
                    SaleSource::Card => mask_protocol::SaleSource::Card,
                    SaleSource::Manual => mask_protocol::SaleSource::Manual,
                },
                reader,
            },
            kind: kind_to_protocol(sale.kind),
            quantity,
            sold_at: sale.sold_at,
            offline: sale.offline,
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

    /// Re-emits the state a lagging subscriber may have missed.
    pub async fn resend_state(&self) {
        self.emit(Event::Counter(self.counter_state()));
        self.emit_sync_status().await;
        self.emit_inventory().await;
    }
}

fn stock_warning(c: &StockCounts) -> Option<StockWarningCode> {
    if c.cap == 0 && c.received == 0 {
        return None;
    }
    if c.remaining <= 0 && c.received > 0 {
        Some(StockWarningCode::OutOfStock)
    } else if c.cap > 0 && c.sold >= c.cap {
        Some(StockWarningCode::CapReached)
    } else if c.cap > 0 && u64::from(c.sold) * 10 >= u64::from(c.cap) * 9 {
        Some(StockWarningCode::CapNear)
    } else if c.cap > 0 && c.received > 0 && c.remaining * 10 < i64::from(c.cap) {
        Some(StockWarningCode::StockLow)
    } else {
        None
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
