//! Read-only NHI card access over PC/SC for the mask-rationing pharmacy software.
//!
//! - [`Command`] can only be SELECT by AID, GET DATA or GET RESPONSE: the card is read-only by
//!   construction.
//! - [`read_identity`] reads the 57-byte basic data through any [`Transport`]
//!   ([`PcscTransport`], [`MemoryTransport`], or the fixtures crate's `FixtureTransport`).
//! - [`Watcher`] follows readers and cards with `SCardGetStatusChange` and reports [`CardEvent`]s.
//! - [`read_once`] waits for one card and reads it; [`read_report::ReadArgs`] is the whole of the
//!   `nhi-read` binary and `mask-agent card read` (what they print and say, their exit codes).
//! - [`IdNumber`] validates national ID numbers; [`mask_id`] and [`mask_name`] keep personal data
//!   out of logs (both from the `nhi-id` crate, which needs no PC/SC).
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod apdu;
mod events;
mod fci;
mod nhi;
mod pcsc_backend;
mod read;
mod read_once;
pub mod read_report;
mod session;
mod transport;
mod watcher;

pub use apdu::{Command, CommandError, Ins, StatusWord};
pub use events::{CardErrorKind, CardEvent};
pub use fci::application_label;
pub use nhi::{
    BASIC_DATA_LEN, EncodeError, Field, Identity, MaskedIdentity, NHI_AID, NamePadding, ParseError,
    Sex, encode_basic_data, parse_basic_data,
};
/// ID numbers and masking live in `nhi-id` (no PC/SC); re-exported so `nhi_card::IdNumber` works.
pub use nhi_id::{IdError, IdNumber, mask_birth_date, mask_card_no, mask_id, mask_name};
pub use pcsc_backend::PcscTransport;
pub use read::{ReadError, UnreadableCause, read_identity};
pub use read_once::{ReadOnceOptions, read_once};
pub use session::CardStatusError;
pub use transport::{ApduChannel, MemoryTransport, Transport, TransportError};
pub use watcher::{WatchError, Watcher, WatcherConfig};

/// The commands [`read_identity`] sends, for tests and APDU-log checks.
pub mod commands {
    /// SELECT of the NHI applet: `00 A4 04 00 10 D1 58 … 11 00 00`.
    pub fn select_nhi() -> crate::Command {
        crate::session::select_nhi()
    }
    /// GET DATA of the basic-data record: `00 CA 11 00 02 00 00`.
    pub fn get_basic_data() -> crate::Command {
        crate::session::get_basic_data()
    }
}
