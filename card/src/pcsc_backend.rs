//! The PC/SC implementation of [`Transport`]: shared connection, any protocol, reads inside a
//! transaction, and disconnect that leaves the card as it is (never a reset: another program
//! on the PC may be using the same card).

use std::ffi::CStr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::apdu::Command;
use crate::nhi::Identity;
use crate::read::{ReadError, UnreadableCause, read_identity};
use crate::transport::{ApduChannel, Transport, TransportError};

/// Maps PC/SC failures to what they mean for a read; the rest are kept raw.
pub(crate) fn transport_error(err: pcsc::Error) -> TransportError {
    use pcsc::Error as E;
    match err {
        E::RemovedCard | E::NoSmartcard => TransportError::CardRemoved,
        E::ResetCard => TransportError::CardReset,
        E::UnresponsiveCard | E::UnpoweredCard | E::UnsupportedCard | E::InvalidAtr => {
            TransportError::Unresponsive
        }
        E::ReaderUnavailable | E::UnknownReader => TransportError::ReaderUnavailable,
        E::NoService | E::ServiceStopped | E::InvalidHandle | E::Shutdown => {
            TransportError::ServiceUnavailable
        }
        E::SharingViolation => TransportError::SharingViolation,
        other => TransportError::Pcsc(other),
    }
}

/// A card connected through PC/SC.
pub struct PcscTransport {
    /// `None` only while being dropped.
    card: Option<pcsc::Card>,
}

impl PcscTransport {
    /// Connects to the card in `reader`: shared mode, T=0 or T=1, whichever the card offers.
    pub fn connect(
        context: &pcsc::Context,
        reader: &CStr,
    ) -> Result<PcscTransport, TransportError> {
        let card = context
            .connect(reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .map_err(transport_error)?;
        Ok(PcscTransport { card: Some(card) })
    }

    /// Disconnects, leaving the card powered and untouched.
    pub fn disconnect(mut self) -> Result<(), TransportError> {
        leave(self.card.take())
    }
}

/// `SCardDisconnect(LeaveCard)`. pcsc's `Card` resets on drop, so a card whose disconnect
/// failed is forgotten rather than dropped: its handle is dead anyway, and a reset must never be
/// sent to a buyer's card.
fn leave(card: Option<pcsc::Card>) -> Result<(), TransportError> {
    let Some(card) = card else { return Ok(()) };
    match card.disconnect(pcsc::Disposition::LeaveCard) {
        Ok(()) => Ok(()),
        Err((card, err)) => {
            std::mem::forget(card);
            Err(transport_error(err))
        }
    }
}

impl Drop for PcscTransport {
    fn drop(&mut self) {
        let _ = leave(self.card.take());
    }
}

impl Transport for PcscTransport {
    fn begin_transaction(&mut self) -> Result<Box<dyn ApduChannel + '_>, TransportError> {
        let card = self.card.as_mut().ok_or(TransportError::NoCard)?;
        match card.transaction2() {
            Ok(tx) => Ok(Box::new(PcscChannel { tx })),
            // Another application reset the card since we connected: reconnect (leaving the
            // card as it is) and begin again; the read starts with SELECT, so nothing is lost.
            Err((card, pcsc::Error::ResetCard)) => {
                card.reconnect(
                    pcsc::ShareMode::Shared,
                    pcsc::Protocols::ANY,
                    pcsc::Disposition::LeaveCard,
                )
                .map_err(transport_error)?;
                let tx = card.transaction().map_err(transport_error)?;
                Ok(Box::new(PcscChannel { tx }))
            }
            Err((_, err)) => Err(transport_error(err)),
        }
    }

    fn atr(&self) -> Option<Vec<u8>> {
        let status = self.card.as_ref()?.status2_owned().ok()?;
        Some(status.atr().to_vec())
    }
}

/// Why a transmit failed. When the card stops answering mid-read, pcsc-lite reports the
/// driver's communication error (`SCARD_E_NOT_TRANSACTED`), not a removal: the reader notices
/// the removal a moment later (vpcd is polled every ~0.4 s). So the card's status is watched
/// for up to [`REMOVAL_GRACE`]: gone → [`TransportError::CardRemoved`], still there → the card
/// is not answering ([`TransportError::Unresponsive`]).
fn classify_failure(card: &pcsc::Card, err: pcsc::Error) -> TransportError {
    let mapped = transport_error(err);
    if !matches!(
        err,
        pcsc::Error::NotTransacted | pcsc::Error::CommError | pcsc::Error::UnknownError
    ) {
        return mapped;
    }
    let deadline = Instant::now() + REMOVAL_GRACE;
    loop {
        match card.status2_owned() {
            Err(status_err) => {
                if let gone @ (TransportError::CardRemoved
                | TransportError::CardReset
                | TransportError::ReaderUnavailable
                | TransportError::ServiceUnavailable) = transport_error(status_err)
                {
                    return gone;
                }
            }
            Ok(status) if status.status().contains(pcsc::Status::ABSENT) => {
                return TransportError::CardRemoved;
            }
            Ok(_) => {}
        }
        if Instant::now() >= deadline {
            return TransportError::Unresponsive;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// How long a failed read waits to learn whether the card was pulled out.
const REMOVAL_GRACE: Duration = Duration::from_millis(1200);

/// An open PC/SC transaction; pcsc ends it with `LeaveCard` on drop.
struct PcscChannel<'a> {
    tx: pcsc::Transaction<'a>,
}

impl ApduChannel for PcscChannel<'_> {
    fn transmit(&mut self, command: &Command) -> Result<Vec<u8>, TransportError> {
        let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
        match self.tx.transmit(&command.to_bytes(), &mut buf) {
            Ok(response) => Ok(response.to_vec()),
            Err(err) => Err(classify_failure(&self.tx, err)),
        }
    }

    fn end_transaction(self: Box<Self>) -> Result<(), TransportError> {
        self.tx
            .end(pcsc::Disposition::LeaveCard)
            .map_err(|(_, err)| transport_error(err))
    }
}

/// Connects to the card in `reader`, reads it, and disconnects leaving the card.
pub(crate) fn read_card(context: &pcsc::Context, reader: &CStr) -> Result<Identity, ReadError> {
    let mut transport = PcscTransport::connect(context, reader)?;
    let identity = read_identity(&mut transport)?;
    // Read complete: a card pulled out right now does not undo it.
    let _ = transport.disconnect();
    Ok(identity)
}

/// How long a card may take to answer the whole read before it counts as mute. A real NHI card
/// answers in well under a second; a mute card would otherwise block `SCardTransmit` until it
/// is pulled out (vpcd and many readers have no transmit timeout).
pub(crate) const READ_TIME_LIMIT: Duration = Duration::from_secs(4);

/// [`read_card`] on a helper thread, giving up after `limit` with
/// [`UnreadableCause::Mute`]. The helper uses its own context clone and finishes (discarding
/// its result) once the card answers or leaves.
pub(crate) fn read_card_within(
    context: &pcsc::Context,
    reader: &CStr,
    limit: Duration,
) -> Result<Identity, ReadError> {
    let (tx, rx) = mpsc::sync_channel(1);
    let (context, reader) = (context.clone(), reader.to_owned());
    std::thread::Builder::new()
        .name("nhi-card-read".into())
        .spawn(move || {
            let _ = tx.send(read_card(&context, &reader));
        })
        .map_err(|e| ReadError::Transport(TransportError::Other(e.to_string())))?;
    rx.recv_timeout(limit)
        .unwrap_or(Err(ReadError::Unreadable(UnreadableCause::Mute)))
}
