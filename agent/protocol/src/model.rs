//! The values that requests, responses and events carry.

use mask_api::{BuyerKind, InventoryWarning, RefusalReason, SaleSource};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// Names one card read of the agent. It changes with every read, so a sale always goes to the
/// buyer whose card the pharmacist saw on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReadRef(pub u64);

/// The buyer as the counter screen may show it: masked, never the full name or ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerView {
    /// Masked name (`王○明`); empty for manual entry.
    pub masked_name: String,
    /// Masked national ID (`A12****789`).
    pub masked_id: String,
    /// Card or manual entry.
    pub source: SaleSource,
    /// The reader the card was read in (card source only).
    #[serde(default)]
    pub reader: Option<String>,
}

/// Who decided eligibility.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionSource {
    /// The central server answered (in time).
    Server,
    /// The agent decided locally (server unreachable, slow or failing) from the cached policy
    /// and this pharmacy's own journal; the sale will be marked offline. Show it to the
    /// pharmacist.
    Local,
}

/// The eligibility of one buyer, as shown at the counter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityView {
    /// Adult or child.
    pub kind: BuyerKind,
    /// Masks this buyer may still buy now (0 when refused).
    pub allowed: u32,
    /// The next date this buyer may buy, when known.
    #[serde(default, with = "crate::serde_date::option")]
    pub next_date: Option<Date>,
    /// Why not, when `allowed` is 0.
    #[serde(default)]
    pub reason: Option<RefusalReason>,
    /// Server or local decision.
    pub decided: DecisionSource,
    /// The amount to collect, NTD, for 1, 2, … `allowed` masks (index `n - 1` for `n` masks),
    /// from the price in the policy in force: the agent computes it (`mask_api`), the screen
    /// only looks it up. Empty when refused or when the policy carries no price.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amounts_due: Vec<u32>,
}

impl EligibilityView {
    /// The amount to collect for `quantity` masks, NTD, when the agent sent it.
    pub fn amount_due(&self, quantity: u32) -> Option<u32> {
        let index = usize::try_from(quantity.checked_sub(1)?).ok()?;
        self.amounts_due.get(index).copied()
    }
}

/// Sync state of one sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleSyncState {
    /// In the journal, waiting to reach the server.
    Queued,
    /// Accepted by the server.
    Accepted,
    /// Recorded by the server but over the buyer's quota (e.g. two pharmacies selling offline):
    /// kept for audit and shown to the pharmacist.
    Overrun,
    /// The server would not take it (e.g. conflicting content): it needs attention. It stays
    /// in the journal and still counts locally; it never holds back other sales.
    Rejected,
    /// A state this build does not know.
    #[serde(other)]
    Unknown,
}

/// A sale committed to the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleReceipt {
    /// The sale's UUIDv7 (also its idempotency key at the server).
    pub sale_id: Uuid,
    /// The buyer, masked.
    pub buyer: BuyerView,
    /// Adult or child masks.
    pub kind: BuyerKind,
    /// Number of masks.
    pub quantity: u32,
    /// When (UTC, RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub sold_at: OffsetDateTime,
    /// True when eligibility was decided locally (offline sale).
    pub offline: bool,
    /// The amount collected, NTD, from the price in the policy in force at `sold_at` (`None`
    /// when the policy carries no price, or from an older agent).
    #[serde(default)]
    pub amount_due: Option<u32>,
    /// Queued until the sync pushes it; later updates arrive as [`crate::Event::Sale`].
    pub sync: SaleSyncState,
}

/// Whether the central server is reachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connectivity {
    /// The last exchange with the server succeeded.
    Online,
    /// The last exchange failed (down, slow, TLS, garbage).
    Offline,
    /// Not tried yet since start.
    Unknown,
    /// The server answers but refuses this pharmacy's token (401/403): not an outage. Sales are
    /// refused until IT fixes the token (call the central helpdesk).
    TokenRefused,
}

/// The sync (outbox) state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Online or offline.
    pub connectivity: Connectivity,
    /// Sales in the journal not yet acknowledged by the server.
    pub queued: u64,
    /// Other records (stock-in, listing) not yet acknowledged.
    #[serde(default)]
    pub queued_other: u64,
    /// Last successful exchange with the server.
    #[serde(default, with = "crate::serde_date::instant_option")]
    pub last_sync: Option<OffsetDateTime>,
    /// The last failure, for the status bar (no personal data).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Sales the server flagged as overrun (all time, kept for audit).
    pub overruns: u64,
    /// Records (sales, stock-ins, listing changes) the server would not take and that need a
    /// person to look at them; they still count locally and never hold back other records.
    #[serde(default)]
    pub attention: u64,
    /// The server's clock minus this PC's, in seconds, from the last answer (None: not known
    /// yet). The agent stamps records with the corrected time; the screen warns beyond 2 min.
    #[serde(default)]
    pub clock_offset_s: Option<i64>,
}

/// One reader as the agent sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderState {
    /// PC/SC reader name.
    pub name: String,
    /// A card is in the reader.
    pub card_present: bool,
}

/// Stock counts of one kind (adult or child) for one day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockCounts {
    /// Received that day.
    pub received: u32,
    /// Sold that day (masks).
    pub sold: u32,
    /// Sales that day (buyers served, one per sale record).
    #[serde(default)]
    pub sales: u32,
    /// Damaged that day.
    pub damaged: u32,
    /// On hand at the end of that day (all stock-ins minus all sales and damage up to it).
    pub remaining: i64,
    /// The daily per-site allocation (sales cap) under the policy in force; 0 when unknown.
    #[serde(default)]
    pub cap: u32,
}

/// A record the server would not take ("needs attention"): kept in the journal, still counted
/// in the local quota and inventory, and listed for the pharmacist and IT with the server's
/// reason. Personal data only masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttentionRecord {
    /// `sale`, `stock_in` or `listing`.
    pub kind: String,
    /// When it was recorded at this counter.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Sales: the buyer's masked ID number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_masked: Option<String>,
    /// Masks: sold (sales), received (stock-ins, adult + child); none for listing changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// The server's problem code (e.g. `sale_time_too_old`), or `unknown`.
    pub reason: String,
}

/// Today's inventory at this pharmacy (from the agent's journal: works offline).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The day (Asia/Taipei).
    #[serde(with = "crate::serde_date")]
    pub date: Date,
    /// Adult masks.
    pub adult: StockCounts,
    /// Child masks.
    pub child: StockCounts,
    /// Sales-cap and stock warnings (empty when all is well), from the one rule of both
    /// sides, `mask_api::StockLevel::warnings`; shown on the counter screen and in the inventory.
    #[serde(default)]
    pub warnings: Vec<InventoryWarning>,
}

/// Whether the pharmacy appears in the open data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingState {
    /// False after "sold out" (一鍵下架).
    pub listed: bool,
    /// When it last changed.
    #[serde(default, with = "crate::serde_date::instant_option")]
    pub changed_at: Option<OffsetDateTime>,
    /// The server has acknowledged the last change.
    pub synced: bool,
}

/// The pharmacy's public note on the public stock page (e.g. `號碼牌 09:00 發放`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteState {
    /// The note; `None` when there is none (never set, or cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// When it was last set or cleared at this counter (`None`: never).
    #[serde(default, with = "crate::serde_date::instant_option")]
    pub changed_at: Option<OffsetDateTime>,
    /// The server has acknowledged the last change.
    #[serde(default)]
    pub synced: bool,
}

/// What a card problem is, in terms a pharmacist can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardProblem {
    /// Not an NHI card (e.g. a bank card).
    NotNhiCard,
    /// A health-professional card, not a buyer's card.
    HealthProfessionalCard,
    /// Removed before the read finished: insert again.
    RemovedTooEarly,
    /// Unreadable: use manual entry.
    Unreadable,
    /// The reader was unplugged.
    ReaderUnplugged,
    /// The PC/SC service is not running.
    ServiceNotRunning,
    /// A kind this build does not know.
    #[serde(other)]
    Unknown,
}

/// Everything a status bar shows, plus the counter and listing state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// The agent's version.
    pub agent_version: String,
    /// The pharmacy code.
    pub site_code: String,
    /// The pharmacy's name from the server's site registry, once the server has told it (kept
    /// in the journal, so it is there offline and after a restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    /// Sync and connectivity.
    pub sync: SyncStatus,
    /// Known readers.
    pub readers: Vec<ReaderState>,
    /// Listing state.
    pub listing: ListingState,
    /// The public note (an older agent sends none: no note).
    #[serde(default)]
    pub note: NoteState,
    /// What the counter shows now.
    pub counter: crate::CounterState,
    /// A rationing policy is cached, so offline decisions are possible.
    pub policy_cached: bool,
}
