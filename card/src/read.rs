//! Reading the NHI basic data from one card: [`read_identity`] and its typed [`ReadError`].

use crate::apdu::{Command, Ins, StatusWord};
use crate::events::CardErrorKind;
use crate::fci::{PAYMENT_DIRECTORIES, application_label};
use crate::nhi::{Identity, ParseError, parse_basic_data};
use crate::session::{CardStatusError, ExchangeError, Session, get_basic_data, select_nhi};
use crate::transport::{Transport, TransportError};

/// Why a card could not be read. [`ReadError::kind`] gives what the pharmacist should be told.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The card has no NHI applet (a bank card: SELECT answered `6A82`, or another status).
    #[error("not an NHI card (card answered {status}{})", label_suffix(.label))]
    NotNhiCard {
        /// The status word that refused the NHI applet.
        status: StatusWord,
        /// What the card calls itself: the application label (tag `50`) of the FCI it returned
        /// to SELECT of a payment directory, e.g. `VISA DEBIT`. Not personal data (it names
        /// the card product, not its holder), so it may be logged.
        label: Option<String>,
    },
    /// A health-professional card (SELECT answered `6A86`): not a buyer's card.
    #[error("health-professional card, not a buyer's NHI card")]
    HealthProfessionalCard,
    /// The card was pulled out before the read finished.
    #[error("card removed before the read finished")]
    RemovedTooEarly,
    /// The card answered, but not with a readable basic-data record.
    #[error("card unreadable: {0}")]
    Unreadable(#[source] UnreadableCause),
    /// The reader disappeared.
    #[error("reader unplugged")]
    ReaderUnplugged,
    /// The PC/SC service is not running.
    #[error("PC/SC service not running")]
    ServiceNotRunning,
    /// No reader is connected (or none matches the requested name).
    #[error("no card reader found")]
    NoReader,
    /// The requested reader does not exist.
    #[error("reader not found: {name}")]
    ReaderNotFound {
        /// The name asked for.
        name: String,
    },
    /// No card was inserted before the timeout.
    #[error("no card inserted before the timeout")]
    Timeout,
    /// Any other PC/SC failure, kept raw.
    #[error("PC/SC error: {0}")]
    Pcsc(#[source] pcsc::Error),
    /// Any other transport failure.
    #[error("transport error: {0}")]
    Transport(#[source] TransportError),
}

/// Details of [`ReadError::Unreadable`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnreadableCause {
    /// The card does not answer (mute, inserted upside down).
    #[error("card does not respond")]
    Mute,
    /// The card refused or garbled a command.
    #[error(transparent)]
    Status(#[from] CardStatusError),
    /// The basic-data record is malformed.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

fn label_suffix(label: &Option<String>) -> String {
    label
        .as_ref()
        .map(|l| format!("; the card says it is \"{l}\""))
        .unwrap_or_default()
}

impl ReadError {
    /// What a refused foreign card calls itself, when it said (see [`ReadError::NotNhiCard`]).
    pub fn card_label(&self) -> Option<&str> {
        match self {
            ReadError::NotNhiCard { label, .. } => label.as_deref(),
            _ => None,
        }
    }

    /// The pharmacist-facing kind, when the failure is one of the card error kinds.
    pub fn kind(&self) -> Option<CardErrorKind> {
        Some(match self {
            ReadError::NotNhiCard { .. } => CardErrorKind::NotNhiCard,
            ReadError::HealthProfessionalCard => CardErrorKind::HealthProfessionalCard,
            ReadError::RemovedTooEarly => CardErrorKind::RemovedTooEarly,
            ReadError::Unreadable(_) => CardErrorKind::Unreadable,
            ReadError::ReaderUnplugged => CardErrorKind::ReaderUnplugged,
            ReadError::ServiceNotRunning => CardErrorKind::ServiceNotRunning,
            _ => return None,
        })
    }

    /// True when the card itself was refused (not an NHI card, HPC, pulled, unreadable):
    /// `nhi-read` exits with [`mask_cli::exit::CARD_REFUSED`] for these.
    pub fn is_card_refused(&self) -> bool {
        matches!(
            self,
            ReadError::NotNhiCard { .. }
                | ReadError::HealthProfessionalCard
                | ReadError::RemovedTooEarly
                | ReadError::Unreadable(_)
        )
    }
}

impl From<TransportError> for ReadError {
    fn from(err: TransportError) -> Self {
        match err {
            TransportError::CardRemoved | TransportError::NoCard => ReadError::RemovedTooEarly,
            TransportError::Unresponsive => ReadError::Unreadable(UnreadableCause::Mute),
            TransportError::ReaderUnavailable => ReadError::ReaderUnplugged,
            TransportError::ServiceUnavailable => ReadError::ServiceNotRunning,
            TransportError::Pcsc(e) => ReadError::Pcsc(e),
            other => ReadError::Transport(other),
        }
    }
}

impl From<ExchangeError> for ReadError {
    fn from(err: ExchangeError) -> Self {
        match err {
            ExchangeError::Transport(e) => e.into(),
            ExchangeError::Card(e) => ReadError::Unreadable(e.into()),
        }
    }
}

/// Reads the basic data inside one transaction: SELECT the NHI applet (falling back to GET DATA
/// directly when SELECT is answered `6D00`), GET DATA, parse. A card reset by another
/// application mid-read is read again once, from SELECT.
pub fn read_identity(transport: &mut impl Transport) -> Result<Identity, ReadError> {
    let reset = ReadError::Transport(TransportError::CardReset);
    match read_attempt(transport) {
        Err(err) if err == reset => match read_attempt(transport) {
            // Reset twice in a row: the card is being pulled and pushed, not read.
            Err(err) if err == reset => Err(ReadError::RemovedTooEarly),
            other => other,
        },
        other => other,
    }
}

fn read_attempt(transport: &mut impl Transport) -> Result<Identity, ReadError> {
    let mut session = Session::new(transport.begin_transaction()?);
    let selected = match session.call(&select_nhi()) {
        Ok(_) => true,
        Err(ExchangeError::Card(CardStatusError::Status { status, .. })) => match status {
            // Some newer cards answer GET DATA without a SELECT.
            StatusWord::InsNotSupported => false,
            StatusWord::IncorrectP1P2 => return Err(ReadError::HealthProfessionalCard),
            status => {
                let label = foreign_label(&mut session);
                return Err(ReadError::NotNhiCard { status, label });
            }
        },
        Err(e) => return Err(e.into()),
    };
    let data = match session.call(&get_basic_data()) {
        Ok(data) => data,
        // Without a successful SELECT, a refused GET DATA means this is no NHI card at all.
        Err(ExchangeError::Card(CardStatusError::Status {
            ins: Ins::GetData,
            status,
        })) if !selected => {
            return Err(ReadError::NotNhiCard {
                status,
                label: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    // The data is in hand: a failure to end the transaction (card pulled right now) is harmless.
    let _ = session.end();
    parse_basic_data(&data).map_err(|e| ReadError::Unreadable(e.into()))
}

/// Asks a card that refused the NHI applet for its payment directory, whose FCI names the
/// card's application. Only SELECTs are sent (read-only); any failure just leaves it unnamed.
fn foreign_label(session: &mut Session<'_>) -> Option<String> {
    PAYMENT_DIRECTORIES.iter().find_map(|name| {
        let command = Command::select_aid(name).ok()?;
        let fci = session.call(&command).ok()?;
        application_label(&fci)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::MemoryTransport;

    const EXAMPLE: &str = concat!(
        "303030303132333435363738",
        "A4FDA470A9FA0000000000000000000000000000",
        "41313233343536373839",
        "30373930313031",
        "4D",
        "31303930313031",
    );

    fn record() -> Vec<u8> {
        (0..EXAMPLE.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&EXAMPLE[i..i + 2], 16).unwrap())
            .collect()
    }

    fn with_sw(data: &[u8], sw: [u8; 2]) -> Vec<u8> {
        let mut v = data.to_vec();
        v.extend_from_slice(&sw);
        v
    }

    #[test]
    fn a_t1_card_is_read_with_select_and_get_data_only() {
        let mut card = MemoryTransport::nhi_card(&record());
        let id = read_identity(&mut card).unwrap();
        assert_eq!(id.id_no.as_str(), "A123456789");
        assert_eq!(
            card.sent(),
            [select_nhi().to_bytes(), get_basic_data().to_bytes()]
        );
        assert_eq!(card.transaction_counts(), (1, 1));
    }

    #[test]
    fn a_t0_card_is_followed_with_get_response() {
        let data = record();
        let mut card = MemoryTransport::new()
            .reply(&select_nhi(), &[0x90, 0x00])
            .reply(&get_basic_data(), &[0x61, 0x39])
            .reply(&Command::get_response(0x39), &with_sw(&data, [0x90, 0x00]));
        assert_eq!(read_identity(&mut card).unwrap().name, "王小明");
        assert_eq!(card.sent()[2], [0x00, 0xC0, 0x00, 0x00, 0x39]);
    }

    #[test]
    fn chained_responses_are_concatenated() {
        let data = record();
        let mut card = MemoryTransport::new()
            .reply(&select_nhi(), &[0x61, 0x00])
            .reply(&Command::get_response(0x00), &[0x90, 0x00])
            .reply(&get_basic_data(), &with_sw(&data[..30], [0x61, 27]))
            .reply(
                &Command::get_response(27),
                &with_sw(&data[30..], [0x90, 0x00]),
            );
        assert_eq!(read_identity(&mut card).unwrap().card_no, "000012345678");
    }

    #[test]
    fn wrong_le_is_resent_once_with_the_exact_length() {
        let data = record();
        let mut card = MemoryTransport::new()
            .reply(&select_nhi(), &[0x90, 0x00])
            .reply(&get_basic_data(), &[0x6C, 0x39])
            .reply(
                &get_basic_data().with_le(0x39),
                &with_sw(&data, [0x90, 0x00]),
            );
        assert!(read_identity(&mut card).is_ok());
    }

    #[test]
    fn a_card_answering_6d00_to_select_is_read_by_get_data() {
        let mut card = MemoryTransport::new()
            .reply(&select_nhi(), &[0x6D, 0x00])
            .reply(&get_basic_data(), &with_sw(&record(), [0x90, 0x00]));
        assert!(read_identity(&mut card).is_ok());
    }

    #[test]
    fn a_health_professional_card_is_named() {
        let mut card = MemoryTransport::new().reply(&select_nhi(), &[0x6A, 0x86]);
        let err = read_identity(&mut card).unwrap_err();
        assert_eq!(err, ReadError::HealthProfessionalCard);
        assert_eq!(err.kind(), Some(CardErrorKind::HealthProfessionalCard));
        assert_eq!(card.sent().len(), 1, "nothing after the refused SELECT");
    }

    #[test]
    fn a_bank_card_is_not_an_nhi_card_and_keeps_the_status() {
        let mut card = MemoryTransport::new().reply(&select_nhi(), &[0x6A, 0x82]);
        assert_eq!(
            read_identity(&mut card).unwrap_err(),
            ReadError::NotNhiCard {
                status: StatusWord::FileNotFound,
                label: None
            }
        );
        // A card that knows neither SELECT nor GET DATA.
        let mut card = MemoryTransport::new();
        assert_eq!(
            read_identity(&mut card).unwrap_err(),
            ReadError::NotNhiCard {
                status: StatusWord::InsNotSupported,
                label: None
            }
        );
    }

    #[test]
    fn a_bank_card_is_named_by_its_payment_directory() {
        let ppse = Command::select_aid(b"2PAY.SYS.DDF01").unwrap();
        let mut fci = crate::fci::tests_support::PPSE_FCI.to_vec();
        fci.extend_from_slice(&[0x90, 0x00]);
        let mut card = MemoryTransport::new()
            .reply(&select_nhi(), &[0x6A, 0x82])
            .reply(&ppse, &fci);
        let err = read_identity(&mut card).unwrap_err();
        assert_eq!(
            err,
            ReadError::NotNhiCard {
                status: StatusWord::FileNotFound,
                label: Some("VISA DEBIT".to_owned())
            }
        );
        assert_eq!(err.card_label(), Some("VISA DEBIT"));
        assert_eq!(err.kind(), Some(CardErrorKind::NotNhiCard));
        assert!(err.to_string().contains("VISA DEBIT"), "{err}");
        assert!(
            card.sent()
                .iter()
                .all(|c| Ins::from_code(c[1]) == Some(Ins::Select)),
            "only SELECTs after the refusal"
        );
    }

    #[test]
    fn a_bare_61xx_without_data_is_cut_off_by_rounds() {
        let mut card = MemoryTransport::new()
            .reply(&select_nhi(), &[0x90, 0x00])
            .reply(&get_basic_data(), &[0x61, 0x10])
            .reply(&Command::get_response(0x10), &[0x61, 0x10]);
        let err = read_identity(&mut card).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::Unreadable(UnreadableCause::Status(
                    CardStatusError::TooManyRounds { .. }
                ))
            ),
            "{err}"
        );
        assert!(card.sent().len() < 40, "{} commands", card.sent().len());
        assert_eq!(card.transaction_counts(), (1, 1), "transaction ended");
    }

    #[test]
    fn a_card_pulled_between_select_and_get_data_is_removed_too_early() {
        let mut card = MemoryTransport::new()
            .reply(&select_nhi(), &[0x90, 0x00])
            .fail(&get_basic_data(), TransportError::CardRemoved);
        let err = read_identity(&mut card).unwrap_err();
        assert_eq!(err.kind(), Some(CardErrorKind::RemovedTooEarly));
        assert_eq!(card.transaction_counts(), (1, 1), "transaction ended");
    }

    #[test]
    fn a_card_reset_by_another_application_is_read_again_from_select() {
        let mut card = MemoryTransport::nhi_card(&record())
            .fail_once(&get_basic_data(), TransportError::CardReset);
        assert!(read_identity(&mut card).is_ok());
        assert_eq!(
            card.sent().len(),
            4,
            "SELECT, GET DATA (reset), SELECT, GET DATA"
        );
        assert_eq!(card.transaction_counts(), (2, 2));

        let mut card =
            MemoryTransport::nhi_card(&record()).fail(&get_basic_data(), TransportError::CardReset);
        assert_eq!(read_identity(&mut card), Err(ReadError::RemovedTooEarly));
    }

    #[test]
    fn truncated_or_garbage_answers_are_unreadable() {
        for answer in [
            with_sw(&record()[..40], [0x90, 0x00]),
            vec![0x90],
            with_sw(&[0xFF; 57], [0x90, 0x00]),
            vec![0x6F, 0x00],
        ] {
            let mut card = MemoryTransport::new()
                .reply(&select_nhi(), &[0x90, 0x00])
                .reply(&get_basic_data(), &answer);
            let err = read_identity(&mut card).unwrap_err();
            assert_eq!(err.kind(), Some(CardErrorKind::Unreadable), "{err}");
            assert!(err.is_card_refused());
        }
    }

    #[test]
    fn endless_chaining_is_cut_off() {
        let mut card = MemoryTransport::new()
            .reply(&select_nhi(), &[0x90, 0x00])
            .reply(&get_basic_data(), &[0x61, 0x00])
            .reply(
                &Command::get_response(0x00),
                &with_sw(&[0; 256], [0x61, 0x00]),
            );
        let err = read_identity(&mut card).unwrap_err();
        assert!(matches!(
            err,
            ReadError::Unreadable(UnreadableCause::Status(CardStatusError::TooLong { .. }))
        ));
    }

    proptest::proptest! {
        /// Whatever a card answers, the read ends in an identity or a typed error.
        #[test]
        fn arbitrary_card_answers_never_panic(
            select in proptest::collection::vec(proptest::num::u8::ANY, 0..8),
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
            chained in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
            len in proptest::num::u8::ANY,
        ) {
            let mut card = MemoryTransport::new()
                .reply(&select_nhi(), &select)
                .reply(&get_basic_data(), &data)
                .reply(&Command::get_response(len), &chained);
            let _ = read_identity(&mut card);
            proptest::prop_assert!(card.sent().len() < 16);
        }
    }

    #[test]
    fn a_mute_card_and_a_dead_service_map_to_their_kinds() {
        let mut card = MemoryTransport::new().fail_to_begin(TransportError::Unresponsive);
        assert_eq!(
            read_identity(&mut card).unwrap_err().kind(),
            Some(CardErrorKind::Unreadable)
        );
        let mut card = MemoryTransport::new().fail_to_begin(TransportError::ServiceUnavailable);
        let err = read_identity(&mut card).unwrap_err();
        assert_eq!(err.kind(), Some(CardErrorKind::ServiceNotRunning));
        assert!(!err.is_card_refused());
    }
}
