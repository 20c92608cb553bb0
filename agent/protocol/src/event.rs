//! Events pushed by the agent after `Subscribe`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    BuyerView, CardProblem, EligibilityView, Inventory, ListingState, NoteState, ReadRef,
    SaleReceipt, SaleSyncState, SyncStatus,
};

/// A pushed event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Something happened at a reader (for the status bar's reader state).
    Card(CardNotice),
    /// The counter view changed: render this.
    Counter(CounterState),
    /// A sale was committed (from this or another client).
    SaleRecorded(SaleReceipt),
    /// The server's verdict on a sale arrived (accepted, overrun, rejected).
    Sale(SaleUpdate),
    /// Sync and connectivity changed.
    Sync(SyncStatus),
    /// Today's inventory changed (sale, stock-in).
    Inventory(Inventory),
    /// Listing changed or was acknowledged.
    Listing(ListingState),
    /// The public note changed or was acknowledged.
    Note(NoteState),
    /// The pharmacy's name from the server's registry arrived or changed (see
    /// [`crate::StatusReport::site_name`]).
    SiteName {
        /// The registered name.
        name: String,
    },
    /// An event this build does not know (from a newer agent): ignore it.
    #[serde(other)]
    Unknown,
}

/// Reader-level happenings, mirroring the card library's events (without personal data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CardNotice {
    /// A reader appeared.
    ReaderAdded {
        /// Reader name.
        reader: String,
    },
    /// A reader disappeared.
    ReaderRemoved {
        /// Reader name.
        reader: String,
    },
    /// A card went in; reading it.
    CardInserted {
        /// Reader name.
        reader: String,
    },
    /// The card came out.
    CardRemoved {
        /// Reader name.
        reader: String,
    },
    /// The card could not be used.
    CardError {
        /// Reader name, when known.
        #[serde(default)]
        reader: Option<String>,
        /// What went wrong.
        problem: CardProblem,
        /// What a foreign card calls itself (its application label, e.g. `VISA DEBIT`), shown
        /// so the pharmacist knows what was inserted. Absent from older agents.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        card_label: Option<String>,
    },
    /// A notice this build does not know.
    #[serde(other)]
    Unknown,
}

/// What the counter view shows. The agent is the single source of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CounterState {
    /// "Insert card".
    Waiting,
    /// A card is being read / eligibility is being asked.
    Checking {
        /// Reader name.
        #[serde(default)]
        reader: Option<String>,
    },
    /// A buyer is on screen with their eligibility; sell with `Sell { Card { read } }`.
    Buyer {
        /// Names this read for the sale.
        read: ReadRef,
        /// The buyer, masked.
        buyer: BuyerView,
        /// Allowed quantity / refusal, and who decided.
        eligibility: EligibilityView,
    },
    /// The card could not be used; show the problem and what to do.
    CardError {
        /// Reader name, when known.
        #[serde(default)]
        reader: Option<String>,
        /// What went wrong.
        problem: CardProblem,
        /// What a foreign card calls itself (its application label, e.g. `VISA DEBIT`), shown
        /// so the pharmacist knows what was inserted. Absent from older agents.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        card_label: Option<String>,
    },
    /// A state this build does not know.
    #[serde(other)]
    Unknown,
}

/// The server's verdict on a sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleUpdate {
    /// The sale.
    pub sale_id: Uuid,
    /// Its new state.
    pub sync: SaleSyncState,
}
