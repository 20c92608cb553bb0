//! How APDUs reach a card: the [`Transport`] trait, its errors, and an in-memory transport for
//! unit tests. PC/SC lives in `pcsc_backend`; the fixtures crate adds a `FixtureTransport`.

use std::collections::HashMap;

use crate::apdu::Command;

/// What went wrong below the APDU level.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The card left the reader (e.g. `SCARD_W_REMOVED_CARD`).
    #[error("card was removed")]
    CardRemoved,
    /// No card is in the reader.
    #[error("no card in the reader")]
    NoCard,
    /// The card does not answer (mute, upside down, no ATR).
    #[error("card does not respond")]
    Unresponsive,
    /// Another application reset the card.
    #[error("card was reset by another application")]
    CardReset,
    /// The reader went away.
    #[error("reader is no longer available")]
    ReaderUnavailable,
    /// The PC/SC service is not running or stopped.
    #[error("PC/SC service is not running")]
    ServiceUnavailable,
    /// Another application holds the card exclusively.
    #[error("card is in exclusive use by another application")]
    SharingViolation,
    /// Any other PC/SC failure, kept raw.
    #[error("PC/SC error: {0}")]
    Pcsc(#[source] pcsc::Error),
    /// A failure of a non-PC/SC transport (e.g. the fixtures' in-process player).
    #[error("transport failure: {0}")]
    Other(String),
}

/// An open exclusive transaction with one card. Dropping it ends the transaction and leaves
/// the card as it is (never a reset).
pub trait ApduChannel {
    /// Sends one command and returns the full response, status word included.
    /// Only [`Command`]s can be sent, so only read-only APDUs ever reach the card.
    fn transmit(&mut self, command: &Command) -> Result<Vec<u8>, TransportError>;

    /// Ends the transaction explicitly, reporting failure (dropping ends it silently).
    fn end_transaction(self: Box<Self>) -> Result<(), TransportError> {
        Ok(())
    }
}

/// A connection to one card that can open exclusive transactions.
pub trait Transport {
    /// Begins an exclusive transaction (`SCardBeginTransaction` on PC/SC).
    fn begin_transaction(&mut self) -> Result<Box<dyn ApduChannel + '_>, TransportError>;

    /// The card's answer-to-reset, when known.
    fn atr(&self) -> Option<Vec<u8>> {
        None
    }
}

/// A scripted reply of [`MemoryTransport`].
#[derive(Clone, Debug)]
enum Reply {
    Bytes(Vec<u8>),
    Fail(TransportError),
}

/// An in-memory card for unit tests: replies looked up by the exact command bytes; unknown
/// commands get `6D 00`. Records every command sent and counts transactions.
#[derive(Clone, Debug, Default)]
pub struct MemoryTransport {
    replies: HashMap<Vec<u8>, Reply>,
    fail_once: HashMap<Vec<u8>, TransportError>,
    sent: Vec<Vec<u8>>,
    transactions_begun: usize,
    transactions_ended: usize,
    begin_error: Option<TransportError>,
}

impl MemoryTransport {
    /// A card that answers nothing but `6D 00`.
    pub fn new() -> MemoryTransport {
        MemoryTransport::default()
    }

    /// A well-behaved T=1 NHI card holding `basic_data` (SELECT → `9000`, GET DATA → data `9000`).
    pub fn nhi_card(basic_data: &[u8]) -> MemoryTransport {
        let mut data = basic_data.to_vec();
        data.extend_from_slice(&[0x90, 0x00]);
        MemoryTransport::new()
            .reply(&crate::session::select_nhi(), &[0x90, 0x00])
            .reply(&crate::session::get_basic_data(), &data)
    }

    /// Answers `command` with `response` (data and status word).
    pub fn reply(mut self, command: &Command, response: &[u8]) -> MemoryTransport {
        self.replies
            .insert(command.to_bytes(), Reply::Bytes(response.to_vec()));
        self
    }

    /// Fails `command` with `error` (e.g. [`TransportError::CardRemoved`] for a pulled card).
    pub fn fail(mut self, command: &Command, error: TransportError) -> MemoryTransport {
        self.replies.insert(command.to_bytes(), Reply::Fail(error));
        self
    }

    /// Fails `command` with `error` the first time only; later it gets its normal reply.
    pub fn fail_once(mut self, command: &Command, error: TransportError) -> MemoryTransport {
        self.fail_once.insert(command.to_bytes(), error);
        self
    }

    /// Makes `begin_transaction` fail with `error`.
    pub fn fail_to_begin(mut self, error: TransportError) -> MemoryTransport {
        self.begin_error = Some(error);
        self
    }

    /// Every command sent, in order, as raw bytes.
    pub fn sent(&self) -> &[Vec<u8>] {
        &self.sent
    }

    /// Transactions begun and ended so far.
    pub fn transaction_counts(&self) -> (usize, usize) {
        (self.transactions_begun, self.transactions_ended)
    }
}

impl Transport for MemoryTransport {
    fn begin_transaction(&mut self) -> Result<Box<dyn ApduChannel + '_>, TransportError> {
        if let Some(err) = &self.begin_error {
            return Err(err.clone());
        }
        self.transactions_begun += 1;
        Ok(Box::new(MemoryChannel { card: self }))
    }
}

struct MemoryChannel<'a> {
    card: &'a mut MemoryTransport,
}

impl ApduChannel for MemoryChannel<'_> {
    fn transmit(&mut self, command: &Command) -> Result<Vec<u8>, TransportError> {
        let bytes = command.to_bytes();
        self.card.sent.push(bytes.clone());
        if let Some(err) = self.card.fail_once.remove(&bytes) {
            return Err(err);
        }
        match self.card.replies.get(&bytes) {
            Some(Reply::Bytes(b)) => Ok(b.clone()),
            Some(Reply::Fail(e)) => Err(e.clone()),
            None => Ok(vec![0x6D, 0x00]),
        }
    }
}

impl Drop for MemoryChannel<'_> {
    fn drop(&mut self) {
        self.card.transactions_ended += 1;
    }
}
