//! Requests from a client to the agent.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::ReadRef;

/// One request. `id` is chosen by the client and echoed in the [`crate::Response`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Client-chosen correlation id.
    pub id: u64,
    /// What is asked.
    pub body: RequestBody,
}

/// What a client can ask the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RequestBody {
    /// The whole state for a status bar: answered with [`crate::ResponseBody::Status`].
    Status,
    /// Eligibility of a manually entered buyer (card unreadable).
    /// Answered with [`crate::ResponseBody::Eligibility`].
    CheckEligibility {
        /// The national ID number as typed (the agent normalises and validates it).
        id_no: String,
        /// The birth date when known (decides adult/child; the server may need it).
        #[serde(default, with = "crate::serde_date::option")]
        birth_date: Option<Date>,
    },
    /// Sell to a buyer. The agent re-checks eligibility, commits the sale to its journal (fsync)
    /// and only then answers [`crate::ResponseBody::Sell`].
    Sell {
        /// Who buys: the card on screen or a manually entered ID.
        buyer: SellBuyer,
        /// Number of masks handed over.
        quantity: u32,
    },
    /// Record today's delivery. Answered with [`crate::ResponseBody::Inventory`].
    StockIn(StockInForm),
    /// Today's inventory. Answered with [`crate::ResponseBody::Inventory`].
    Inventory,
    /// Delist (sold out, `listed: false`) or relist the pharmacy in the open data.
    /// Answered with [`crate::ResponseBody::Listing`].
    SetListing {
        /// The wanted state.
        listed: bool,
    },
    /// Set the pharmacy's public note (at most [`crate::PUBLIC_NOTE_MAX_CHARS`] characters, no
    /// control characters); an empty text clears it. Journaled, then synced like a listing
    /// change. Answered with [`crate::ResponseBody::Note`].
    SetNote {
        /// The note as typed (the agent trims it).
        text: String,
    },
    /// Push queued sales now. Answered with [`crate::ResponseBody::Sync`] after the attempt.
    SyncNow,
    /// Start receiving events. Answered with [`crate::ResponseBody::Subscribed`] carrying a
    /// snapshot, after which every change is pushed as an event.
    Subscribe,
    /// Forget the buyer on screen (the "clear" key): the counter returns to waiting.
    /// Answered with [`crate::ResponseBody::Ok`].
    ClearCounter,
    /// The records that need attention, newest first (at most 200).
    /// Answered with [`crate::ResponseBody::Attention`].
    Attention,
}

/// Who buys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum SellBuyer {
    /// The buyer whose card was read, named by the read shown on screen. A sale is refused with
    /// [`crate::ErrorCode::StaleBuyer`] when another card has been read since.
    Card {
        /// The [`ReadRef`] from [`crate::CounterState::Buyer`].
        read: ReadRef,
    },
    /// A manually entered national ID.
    Manual {
        /// The national ID number as typed.
        id_no: String,
        /// The birth date when known.
        #[serde(default, with = "crate::serde_date::option")]
        birth_date: Option<Date>,
    },
}

/// A stock-in (delivery) record: counts of masks, adult and child.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockInForm {
    /// Adult masks received.
    pub received_adult: u32,
    /// Child masks received.
    pub received_child: u32,
    /// Adult masks damaged (not for sale).
    pub damaged_adult: u32,
    /// Child masks damaged (not for sale).
    pub damaged_child: u32,
}
