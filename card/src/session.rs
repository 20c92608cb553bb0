//! The one place where responses are interpreted: T=0 `61xx` chaining by GET RESPONSE, `6Cxx`
//! re-send with the right Le, and status words turned into typed errors that keep the raw status.

use crate::apdu::{Command, Ins, StatusWord};
use crate::nhi::{BASIC_DATA_BODY, BASIC_DATA_P1, BASIC_DATA_P2, NHI_AID};
use crate::transport::{ApduChannel, TransportError};

/// A card answered with a status other than success, or with bytes that are not a response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardStatusError {
    /// The card refused the command; the status word is kept raw.
    #[error("{ins} answered {status}")]
    Status {
        /// The command that was refused.
        ins: Ins,
        /// The status word.
        status: StatusWord,
    },
    /// The response is shorter than a status word.
    #[error("{ins} answer too short ({len} bytes)")]
    Malformed {
        /// The command answered.
        ins: Ins,
        /// Bytes received.
        len: usize,
    },
    /// The card kept announcing more data beyond any sane record size.
    #[error("{ins} answer chained beyond {limit} bytes")]
    TooLong {
        /// The command answered.
        ins: Ins,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The card kept answering `61xx` (or `6Cxx`) without ever finishing: a bare `61 xx` with
    /// no data adds no bytes, so only a count of exchanges stops such a card.
    #[error("{ins} answer chained over more than {rounds} exchanges")]
    TooManyRounds {
        /// The command answered.
        ins: Ins,
        /// The limit that was exceeded.
        rounds: usize,
    },
}

/// Failures of one exchange: the transport, or the card's answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ExchangeError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Card(#[from] CardStatusError),
}

/// Longest response the reader accepts after chaining; the NHI record is 57 bytes.
const MAX_RESPONSE: usize = 4096;

/// Most follow-up exchanges (GET RESPONSE or a re-send) for one command. A card announcing
/// `61 00` hands over 256 bytes a round, so [`MAX_RESPONSE`] takes 16; a slower honest card
/// gets twice that before it is cut off.
const MAX_ROUNDS: usize = 32;

/// SELECT of the NHI applet.
pub(crate) fn select_nhi() -> Command {
    Command::select_aid(&NHI_AID).expect("a 16-byte AID is within SELECT's 5..=16 limit")
}

/// GET DATA of the basic-data record.
pub(crate) fn get_basic_data() -> Command {
    Command::get_data(BASIC_DATA_P1, BASIC_DATA_P2, &BASIC_DATA_BODY)
        .expect("two bytes of data are within GET DATA's limit")
}

/// A transaction with status-word handling on top of a raw channel.
pub(crate) struct Session<'a> {
    channel: Box<dyn ApduChannel + 'a>,
}

impl<'a> Session<'a> {
    pub(crate) fn new(channel: Box<dyn ApduChannel + 'a>) -> Session<'a> {
        Session { channel }
    }

    /// Sends `command`, following `61xx` and `6Cxx`, and returns the data of a `9000` answer.
    pub(crate) fn call(&mut self, command: &Command) -> Result<Vec<u8>, ExchangeError> {
        let ins = command.ins();
        let mut data = Vec::new();
        let mut response = self.channel.transmit(command)?;
        let mut resent = false;
        let mut rounds = 0;
        loop {
            let (body, status) =
                StatusWord::split(&response).ok_or(CardStatusError::Malformed {
                    ins,
                    len: response.len(),
                })?;
            data.extend_from_slice(body);
            if data.len() > MAX_RESPONSE {
                return Err(CardStatusError::TooLong {
                    ins,
                    limit: MAX_RESPONSE,
                }
                .into());
            }
            if status != StatusWord::Ok && rounds == MAX_ROUNDS {
                return Err(CardStatusError::TooManyRounds {
                    ins,
                    rounds: MAX_ROUNDS,
                }
                .into());
            }
            rounds += 1;
            match status {
                StatusWord::Ok => return Ok(data),
                StatusWord::BytesRemaining { len } => {
                    response = self.channel.transmit(&Command::get_response(len))?;
                }
                StatusWord::WrongLength { len } if !resent && data.is_empty() => {
                    resent = true;
                    response = self.channel.transmit(&command.with_le(len))?;
                }
                status => return Err(CardStatusError::Status { ins, status }.into()),
            }
        }
    }

    /// Ends the transaction, leaving the card untouched.
    pub(crate) fn end(self) -> Result<(), TransportError> {
        self.channel.end_transaction()
    }
}
