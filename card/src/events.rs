//! What the reader watcher reports.

use serde::Serialize;

use crate::nhi::Identity;

/// A card problem the pharmacist can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CardErrorKind {
    /// Not an NHI card (bank card, other smart card): ask for the NHI card.
    NotNhiCard,
    /// A health-professional card: ask for the buyer's own NHI card.
    HealthProfessionalCard,
    /// The card was pulled out during the read: insert it again and wait.
    RemovedTooEarly,
    /// The card cannot be read (mute, upside down, damaged data): use manual entry.
    Unreadable,
    /// The reader was unplugged: plug it back in.
    ReaderUnplugged,
    /// The PC/SC service is not running: start it (it restarts when a reader is plugged in).
    ServiceNotRunning,
}

/// An event from the reader watcher. `Debug` masks personal data (via [`Identity`]'s `Debug`);
/// serializing an `IdentityRead` includes the full identity — mask it first where that matters.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CardEvent {
    /// A reader appeared (also reported for readers present at start).
    ReaderAdded {
        /// Reader name.
        reader: String,
    },
    /// A reader disappeared.
    ReaderRemoved {
        /// Reader name.
        reader: String,
    },
    /// A card was inserted; a read follows.
    CardInserted {
        /// Reader name.
        reader: String,
    },
    /// The inserted card was read.
    IdentityRead {
        /// Reader name.
        reader: String,
        /// The card holder.
        identity: Identity,
    },
    /// The card was taken out.
    CardRemoved {
        /// Reader name.
        reader: String,
    },
    /// Something the pharmacist should know about; `reader` is `None` for service-wide problems.
    CardError {
        /// Reader name, when the error concerns one reader.
        reader: Option<String>,
        /// What happened.
        kind: CardErrorKind,
        /// What a foreign card calls itself (its application label, e.g. `VISA DEBIT`), so the
        /// pharmacist is told what was inserted. Names a product, not a person.
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
}
