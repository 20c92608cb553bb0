//! ISO 7816-4 command and response APDUs, restricted to what a read-only reader needs.
//!
//! Read-only by construction: [`Command`] has private fields and exactly three constructors —
//! SELECT by AID, GET DATA and GET RESPONSE. No other instruction byte can be expressed through
//! this module's public API, so no code path in (or outside) this crate can send a write, a
//! PIN verification or any other state-changing command to a buyer's card.

use std::fmt;

/// The instructions this crate can send. There is deliberately no `Other(u8)` variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ins {
    /// SELECT (`A4`), by application identifier only.
    Select,
    /// GET DATA (`CA`).
    GetData,
    /// GET RESPONSE (`C0`), used for T=0 `61xx` chaining.
    GetResponse,
}

impl Ins {
    /// The instruction byte.
    pub const fn code(self) -> u8 {
        match self {
            Ins::Select => 0xA4,
            Ins::GetData => 0xCA,
            Ins::GetResponse => 0xC0,
        }
    }

    /// Classifies an instruction byte seen on the wire (e.g. in an APDU log).
    /// `None` means the byte is not one of the read-only instructions this crate may send.
    pub const fn from_code(code: u8) -> Option<Ins> {
        match code {
            0xA4 => Some(Ins::Select),
            0xCA => Some(Ins::GetData),
            0xC0 => Some(Ins::GetResponse),
            _ => None,
        }
    }
}

impl fmt::Display for Ins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ins::Select => "SELECT",
            Ins::GetData => "GET DATA",
            Ins::GetResponse => "GET RESPONSE",
        })
    }
}

/// Why a [`Command`] could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// An application identifier must be 5 to 16 bytes long (ISO 7816-4 §8.2.1.2).
    #[error("application identifier must be 5 to 16 bytes, got {len}")]
    AidLength {
        /// The length that was given.
        len: usize,
    },
    /// Command data longer than a short APDU allows (255 bytes).
    #[error("command data must be at most 255 bytes, got {len}")]
    DataTooLong {
        /// The length that was given.
        len: usize,
    },
}

/// A command APDU that can only be SELECT by AID, GET DATA or GET RESPONSE.
///
/// Fields are private and there is no generic constructor: read-only by construction.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Command {
    ins: Ins,
    p1: u8,
    p2: u8,
    data: Vec<u8>,
    le: Option<u8>,
}

impl Command {
    /// SELECT by AID (`00 A4 04 00 Lc AID 00`): selects an application, changes nothing on the card.
    pub fn select_aid(aid: &[u8]) -> Result<Command, CommandError> {
        if !(5..=16).contains(&aid.len()) {
            return Err(CommandError::AidLength { len: aid.len() });
        }
        Ok(Command {
            ins: Ins::Select,
            p1: 0x04,
            p2: 0x00,
            data: aid.to_vec(),
            le: Some(0x00),
        })
    }

    /// GET DATA (`00 CA P1 P2 [Lc data]`): reads a data object; `data` may be empty.
    pub fn get_data(p1: u8, p2: u8, data: &[u8]) -> Result<Command, CommandError> {
        if data.len() > 255 {
            return Err(CommandError::DataTooLong { len: data.len() });
        }
        Ok(Command {
            ins: Ins::GetData,
            p1,
            p2,
            data: data.to_vec(),
            le: None,
        })
    }

    /// GET RESPONSE (`00 C0 00 00 len`): fetches the bytes a T=0 card announced with `61 len`.
    pub fn get_response(len: u8) -> Command {
        Command {
            ins: Ins::GetResponse,
            p1: 0,
            p2: 0,
            data: Vec::new(),
            le: Some(len),
        }
    }

    /// The same command with its expected length replaced; used to answer `6Cxx`.
    /// The instruction cannot change, so the result is still read-only.
    pub fn with_le(&self, le: u8) -> Command {
        Command {
            le: Some(le),
            ..self.clone()
        }
    }

    /// The instruction of this command.
    pub fn ins(&self) -> Ins {
        self.ins
    }

    /// The encoded short APDU: `CLA INS P1 P2 [Lc data] [Le]` with CLA `00`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + self.data.len());
        out.extend_from_slice(&[0x00, self.ins.code(), self.p1, self.p2]);
        if !self.data.is_empty() {
            // Length checked by every constructor.
            out.push(u8::try_from(self.data.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(le);
        }
        out
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [", self.ins)?;
        for (i, b) in self.to_bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02X}")?;
        }
        f.write_str("]")
    }
}

/// The two status bytes that end every response APDU, with the statuses that matter named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusWord {
    /// `9000`: success.
    Ok,
    /// `61xx`: success, `len` more bytes to fetch with GET RESPONSE (T=0).
    BytesRemaining {
        /// Bytes available (`00` means 256).
        len: u8,
    },
    /// `6282`: end of file reached before `Le` bytes.
    EndOfFile,
    /// `6700`: wrong length (Lc or Le).
    IncorrectLength,
    /// `6982`: security status not satisfied.
    SecurityStatus,
    /// `6985`: conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// `6A80`: incorrect data field.
    IncorrectData,
    /// `6A81`: function not supported.
    FunctionNotSupported,
    /// `6A82`: file or application not found (e.g. a bank card asked for the NHI applet).
    FileNotFound,
    /// `6A86`: incorrect P1/P2 (a health-professional card answers SELECT with this).
    IncorrectP1P2,
    /// `6B00`: wrong parameters P1/P2.
    WrongP1P2,
    /// `6Cxx`: wrong Le; `len` is the exact length to ask for.
    WrongLength {
        /// The length the card wants in Le.
        len: u8,
    },
    /// `6D00`: instruction not supported (some newer NHI cards answer SELECT with this).
    InsNotSupported,
    /// `6E00`: class not supported.
    ClaNotSupported,
    /// `6F00`: no precise diagnosis.
    NoPreciseDiagnosis,
    /// Any other status, kept raw.
    Unknown(u16),
}

impl StatusWord {
    /// Splits a response into data and status word; `None` when shorter than two bytes.
    pub fn split(response: &[u8]) -> Option<(&[u8], StatusWord)> {
        let at = response.len().checked_sub(2)?;
        let (data, sw) = response.split_at(at);
        Some((data, StatusWord::from(u16::from_be_bytes([sw[0], sw[1]]))))
    }

    /// The raw two-byte value.
    pub fn code(self) -> u16 {
        u16::from(self)
    }
}

impl From<u16> for StatusWord {
    fn from(sw: u16) -> Self {
        let [hi, lo] = sw.to_be_bytes();
        match (hi, lo) {
            (0x90, 0x00) => StatusWord::Ok,
            (0x61, len) => StatusWord::BytesRemaining { len },
            (0x62, 0x82) => StatusWord::EndOfFile,
            (0x67, 0x00) => StatusWord::IncorrectLength,
            (0x69, 0x82) => StatusWord::SecurityStatus,
            (0x69, 0x85) => StatusWord::ConditionsNotSatisfied,
            (0x6A, 0x80) => StatusWord::IncorrectData,
            (0x6A, 0x81) => StatusWord::FunctionNotSupported,
            (0x6A, 0x82) => StatusWord::FileNotFound,
            (0x6A, 0x86) => StatusWord::IncorrectP1P2,
            (0x6B, 0x00) => StatusWord::WrongP1P2,
            (0x6C, len) => StatusWord::WrongLength { len },
            (0x6D, 0x00) => StatusWord::InsNotSupported,
            (0x6E, 0x00) => StatusWord::ClaNotSupported,
            (0x6F, 0x00) => StatusWord::NoPreciseDiagnosis,
            _ => StatusWord::Unknown(sw),
        }
    }
}

impl From<StatusWord> for u16 {
    fn from(sw: StatusWord) -> u16 {
        match sw {
            StatusWord::Ok => 0x9000,
            StatusWord::BytesRemaining { len } => 0x6100 | u16::from(len),
            StatusWord::EndOfFile => 0x6282,
            StatusWord::IncorrectLength => 0x6700,
            StatusWord::SecurityStatus => 0x6982,
            StatusWord::ConditionsNotSatisfied => 0x6985,
            StatusWord::IncorrectData => 0x6A80,
            StatusWord::FunctionNotSupported => 0x6A81,
            StatusWord::FileNotFound => 0x6A82,
            StatusWord::IncorrectP1P2 => 0x6A86,
            StatusWord::WrongP1P2 => 0x6B00,
            StatusWord::WrongLength { len } => 0x6C00 | u16::from(len),
            StatusWord::InsNotSupported => 0x6D00,
            StatusWord::ClaNotSupported => 0x6E00,
            StatusWord::NoPreciseDiagnosis => 0x6F00,
            StatusWord::Unknown(sw) => sw,
        }
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_word_round_trips_through_u16() {
        for raw in 0..=u16::MAX {
            assert_eq!(u16::from(StatusWord::from(raw)), raw);
        }
    }

    #[test]
    fn named_statuses_decode() {
        assert_eq!(StatusWord::from(0x9000), StatusWord::Ok);
        assert_eq!(
            StatusWord::from(0x6139),
            StatusWord::BytesRemaining { len: 0x39 }
        );
        assert_eq!(StatusWord::from(0x6A82), StatusWord::FileNotFound);
        assert_eq!(StatusWord::from(0x6A86), StatusWord::IncorrectP1P2);
        assert_eq!(StatusWord::from(0x6D00), StatusWord::InsNotSupported);
        assert_eq!(StatusWord::from(0x6E00), StatusWord::ClaNotSupported);
        assert_eq!(
            StatusWord::from(0x6C39),
            StatusWord::WrongLength { len: 0x39 }
        );
        assert_eq!(StatusWord::from(0x1234), StatusWord::Unknown(0x1234));
    }

    #[test]
    fn select_encodes_like_the_nhi_reference() {
        let aid = [0xD1, 0x58, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0];
        let cmd = Command::select_aid(&aid).unwrap();
        let mut expected = vec![0x00, 0xA4, 0x04, 0x00, 0x10];
        expected.extend_from_slice(&aid);
        expected.push(0x00);
        assert_eq!(cmd.to_bytes(), expected);
    }

    #[test]
    fn get_data_and_get_response_encode() {
        let cmd = Command::get_data(0x11, 0x00, &[0, 0]).unwrap();
        assert_eq!(cmd.to_bytes(), [0x00, 0xCA, 0x11, 0x00, 0x02, 0x00, 0x00]);
        assert_eq!(
            Command::get_response(0x39).to_bytes(),
            [0x00, 0xC0, 0, 0, 0x39]
        );
        assert_eq!(
            cmd.with_le(0x39).to_bytes(),
            [0x00, 0xCA, 0x11, 0x00, 0x02, 0x00, 0x00, 0x39]
        );
    }

    #[test]
    fn bad_lengths_are_typed_errors() {
        assert_eq!(
            Command::select_aid(&[1, 2]),
            Err(CommandError::AidLength { len: 2 })
        );
        assert_eq!(
            Command::get_data(0, 0, &[0; 256]),
            Err(CommandError::DataTooLong { len: 256 })
        );
    }

    #[test]
    fn every_buildable_instruction_is_read_only() {
        for ins in [Ins::Select, Ins::GetData, Ins::GetResponse] {
            assert_eq!(Ins::from_code(ins.code()), Some(ins));
        }
        // Writes and PIN commands are not classifiable, hence not constructible.
        for code in [0xD6, 0xDA, 0xE2, 0x20, 0x24, 0x2C, 0x44, 0x0E, 0xB0] {
            assert_eq!(Ins::from_code(code), None);
        }
    }

    #[test]
    fn split_needs_two_bytes() {
        assert_eq!(StatusWord::split(&[0x90]), None);
        assert_eq!(
            StatusWord::split(&[1, 2, 0x90, 0x00]),
            Some((&[1u8, 2][..], StatusWord::Ok))
        );
    }
}
