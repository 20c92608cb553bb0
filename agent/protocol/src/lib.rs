//! The local protocol between the pharmacy agent (`mask-agent run`) and its local clients
//! (the counter screen `mask-terminal`, the `mask-agent sell|status|sync` commands).
//!
//! # Transport
//! A Unix domain socket on Linux and macOS (where: [`resolve_endpoint`]; mode 0660, group
//! [`DEFAULT_ACCESS_GROUP`] unless the agent's config names another, in a directory only the agent
//! may write), a named pipe (`\\.\pipe\mask-agent`, restricted to SYSTEM, Administrators and the
//! interactive user) on Windows. Never TCP.
//!
//! # Access
//! The agent reads each Unix peer's credentials and serves root, its own account and members of
//! the group. Anyone else gets [`AgentHello`] with `accepted: false` and
//! [`AgentHello::refused`] saying why ([`AccessRefusal`]); [`AccessDenied`] words it for people.
//!
//! # Framing
//! Newline-delimited JSON: every frame is one JSON object on one line (UTF-8, `\n` terminated,
//! at most [`MAX_FRAME_LEN`] bytes). [`encode_frame`] and [`decode_frame`] do exactly that.
//!
//! # Conversation
//! 1. The client sends [`ClientFrame::Hello`] with its [`PROTOCOL_VERSION`].
//! 2. The agent answers [`AgentFrame::Hello`]; when `accepted` is false it closes the connection
//!    (a different major protocol version, or `refused`: the peer may not use the local API).
//! 3. The client sends [`ClientFrame::Request`]s with ids it picks; the agent answers each with an
//!    [`AgentFrame::Response`] carrying the same id (responses may arrive out of order).
//! 4. After [`RequestBody::Subscribe`] the agent also pushes [`AgentFrame::Event`]s (card, counter,
//!    sync, inventory, listing, note) until the connection closes.
//!
//! # Personal data
//! The agent keeps the full identity of the buyer; the protocol only ever carries the **masked**
//! name and ID ([`BuyerView`]). The UI sells "the buyer on screen" by the [`ReadRef`] of that card
//! read, so a full ID never has to leave the agent. Manual entry is the exception: the pharmacist
//! typed the ID, so [`RequestBody::CheckEligibility`] and [`SellBuyer::Manual`] carry it.
//!
//! # Compatibility
//! Within one [`PROTOCOL_VERSION`] changes are additive only: new optional fields
//! (`#[serde(default)]`), new request, response, event and enum variants. Readers map unknown
//! variants to an `Unknown`/`Other` fallback instead of failing, so an older terminal keeps
//! working against a newer agent. Anything else bumps the version.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

mod access;
mod codec;
mod endpoint;
mod event;
mod frame;
mod model;
mod request;
mod response;
pub mod serde_date;

pub use access::{AccessDenied, AccessRefusal};
pub use codec::{FrameError, MAX_FRAME_LEN, decode_frame, encode_frame};
pub use endpoint::{
    DEFAULT_ACCESS_GROUP, Endpoint, EndpointSource, LINUX_DEFAULT_SOCKET, MACOS_DEFAULT_SOCKET,
    SOCKET_ENV, SOCKET_FILE_NAME, WINDOWS_PIPE_NAME, client_endpoint, default_endpoint,
    resolve_endpoint,
};
pub use event::{CardNotice, CounterState, Event, SaleUpdate};
pub use frame::{AgentFrame, AgentHello, ClientFrame, ClientHello};
/// The wire codes the protocol shares with the central API: one definition, in `mask-api`
/// (unknown refusal and warning codes are kept as `Other(code)`, never lost).
pub use mask_api::{BuyerKind, InventoryWarning, InventoryWarningCode, RefusalReason, SaleSource};
/// The public note's rule is mask-api's, for the screen's form as for the agent and the server.
pub use mask_api::{PUBLIC_NOTE_MAX_CHARS, refused_in_note};
pub use model::{
    AttentionRecord, BuyerView, CardProblem, Connectivity, DecisionSource, EligibilityView,
    Inventory, ListingState, NoteState, ReadRef, ReaderState, SaleReceipt, SaleSyncState,
    StatusReport, StockCounts, SyncStatus,
};
pub use request::{Request, RequestBody, SellBuyer, StockInForm};
pub use response::{ErrorBody, ErrorCode, Response, ResponseBody, SellOutcome};

/// The protocol version spoken by this crate. Bumped only for incompatible changes.
pub const PROTOCOL_VERSION: u32 = 1;

#[cfg(test)]
mod tests;
