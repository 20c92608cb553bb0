//! Responses from the agent.

use serde::{Deserialize, Serialize};

use crate::{
    EligibilityView, Inventory, ListingState, NoteState, SaleReceipt, StatusReport, SyncStatus,
};

/// The answer to the request with the same `id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The request's id.
    pub id: u64,
    /// The answer.
    pub body: ResponseBody,
}

/// The possible answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseBody {
    /// Answer to `Status`.
    Status(StatusReport),
    /// Answer to `CheckEligibility`.
    Eligibility(EligibilityView),
    /// Answer to `Sell`: recorded or refused.
    Sell(SellOutcome),
    /// Answer to `StockIn` and `Inventory`.
    Inventory(Inventory),
    /// Answer to `SetListing`.
    Listing(ListingState),
    /// Answer to `SetNote`: the note as journaled.
    Note(NoteState),
    /// Answer to `SyncNow`.
    Sync(SyncStatus),
    /// Answer to `Subscribe`: the state at the moment events start.
    Subscribed(StatusReport),
    /// Answer to `Attention`: newest first.
    Attention {
        /// The records.
        records: Vec<crate::AttentionRecord>,
    },
    /// Done, nothing to report (e.g. `ClearCounter`).
    Ok,
    /// The request failed; nothing was recorded.
    Error(ErrorBody),
    /// A response kind this build does not know (sent by a newer agent).
    #[serde(other)]
    Unknown,
}

/// The outcome of a sale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SellOutcome {
    /// Committed to the journal (fsync'd): hand the masks over.
    Recorded(SaleReceipt),
    /// Not allowed: nothing recorded. The eligibility says why and when to come back.
    Refused(EligibilityView),
}

/// A failed request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable reason, for the UI's own message catalogue.
    pub code: ErrorCode,
    /// A human-readable message (the agent's language), problem + what to do.
    pub message: String,
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The typed national ID number is not valid (format or checksum).
    InvalidId,
    /// Quantity zero or beyond what one sale can be.
    InvalidQuantity,
    /// `Sell { Card }` named a read that is no longer on screen (another card, or cleared).
    StaleBuyer,
    /// The journal could not be written (disk full, permissions): nothing was recorded.
    JournalUnavailable,
    /// No rationing policy is cached and the server cannot be reached.
    NoPolicy,
    /// The frame could not be understood.
    BadRequest,
    /// `SetNote`: too long or with a control character; nothing was recorded.
    InvalidNote,
    /// An unexpected failure inside the agent.
    Internal,
    /// An error code this build does not know.
    #[serde(other)]
    Unknown,
}
