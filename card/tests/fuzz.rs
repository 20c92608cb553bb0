//! Fuzz targets for every parser of bytes that come from a card: the 57-byte record, status
//! words, the FCI of a foreign card, and the chaining logic of a whole read against an
//! in-memory card answering arbitrary bytes.
//!
//! A normal `cargo test` runs proptest's default case count; `scripts/fuzz.sh` runs them with
//! `PROPTEST_CASES` ≥ 1,000,000, `--release` and a fixed `PROPTEST_RNG_SEED`. Every case must
//! end without a panic and within [`CASE_LIMIT`]; a read that would loop is caught by the
//! scripted card refusing to answer more than [`RUNAWAY`] commands.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use nhi_card::{
    ApduChannel, Command, IdNumber, Identity, NamePadding, Sex, StatusWord, Transport,
    TransportError, application_label, encode_basic_data, parse_basic_data, read_identity,
};
use proptest::prelude::*;

/// Longest a single case may take, even on the shared 2-core machine under a debug build.
const CASE_LIMIT: Duration = Duration::from_millis(500);

/// After this many commands the scripted card stops answering: a read still going by then
/// would go on forever against a real card.
const RUNAWAY: usize = 1000;

/// Most commands one read may send: two attempts (a reset card is read again), each a SELECT,
/// two payment-directory SELECTs and a GET DATA, each chain at most 33 exchanges.
const MAX_COMMANDS: usize = 2 * 4 * 33;

/// A card that answers the scripted responses in turn, cycling, whatever is asked.
struct ScriptedCard {
    answers: Vec<Vec<u8>>,
    sent: usize,
}

struct ScriptedChannel<'a> {
    card: &'a mut ScriptedCard,
}

impl Transport for ScriptedCard {
    fn begin_transaction(&mut self) -> Result<Box<dyn ApduChannel + '_>, TransportError> {
        Ok(Box::new(ScriptedChannel { card: self }))
    }
}

impl ApduChannel for ScriptedChannel<'_> {
    fn transmit(&mut self, command: &Command) -> Result<Vec<u8>, TransportError> {
        let bytes = command.to_bytes();
        assert!(
            matches!(bytes[1], 0xA4 | 0xCA | 0xC0),
            "a non-read command left the reader: {command:?}"
        );
        let card = &mut *self.card;
        card.sent += 1;
        if card.sent > RUNAWAY {
            return Err(TransportError::Other("runaway read".to_owned()));
        }
        if card.answers.is_empty() {
            return Err(TransportError::Unresponsive);
        }
        Ok(card.answers[(card.sent - 1) % card.answers.len()].clone())
    }
}

const EXAMPLE: [u8; 57] =
    *b"000012345678\xA4\xFD\xA4\x70\xA9\xFA\0\0\0\0\0\0\0\0\0\0\0\0\0\0A1234567890790101M1090101";

/// Responses a card might give: arbitrary bytes, or data followed by a status word biased to
/// the ones the chaining logic acts on.
fn answer() -> impl Strategy<Value = Vec<u8>> {
    let status = prop_oneof![
        Just([0x90, 0x00]),
        any::<u8>().prop_map(|n| [0x61, n]),
        any::<u8>().prop_map(|n| [0x6C, n]),
        Just([0x6A, 0x82]),
        Just([0x6A, 0x86]),
        Just([0x6D, 0x00]),
        any::<[u8; 2]>(),
    ];
    let data = prop_oneof![
        Just(Vec::new()),
        Just(EXAMPLE.to_vec()),
        (0usize..57).prop_map(|n| EXAMPLE[..n].to_vec()),
        prop::collection::vec(any::<u8>(), 0..300),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..8),
        (data, status).prop_map(|(mut d, s)| {
            d.extend_from_slice(&s);
            d
        }),
    ]
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed())
}

fn id_numbers() -> impl Strategy<Value = IdNumber> {
    "[A-Z][1289A-D][0-9]{7}".prop_map(|prefix| {
        (0..10)
            .find_map(|d| IdNumber::parse(&format!("{prefix}{d}")).ok())
            .unwrap()
    })
}

fn dates() -> impl Strategy<Value = time::Date> {
    (1912i32..2900, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| {
        time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap()
    })
}

proptest! {
    #[test]
    fn fuzz_basic_data_record(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..120),
            prop::collection::vec(any::<u8>(), 57),
            (prop::collection::vec((0usize..57, any::<u8>()), 1..6)).prop_map(|edits| {
                let mut b = EXAMPLE.to_vec();
                for (at, v) in edits { b[at] = v; }
                b
            }),
        ]
    ) {
        let (parsed, took) = timed(|| parse_basic_data(&bytes));
        prop_assert!(took < CASE_LIMIT, "{took:?}");
        if let Ok(identity) = parsed {
            // Whatever parses must write back as a record that parses to the same holder.
            let padding = NamePadding::Zero;
            if let Ok(again) = encode_basic_data(&identity, padding) {
                prop_assert_eq!(parse_basic_data(&again).unwrap(), identity);
            }
        }
    }

    #[test]
    fn fuzz_valid_records_round_trip(
        card_no in "[0-9]{12}",
        name in "[王小明陳林美華歐陽志]{1,10}",
        id_no in id_numbers(),
        birth_date in dates(),
        issue_date in dates(),
        male in any::<bool>(),
    ) {
        let identity = Identity {
            card_no, name, id_no, birth_date,
            sex: if male { Sex::Male } else { Sex::Female },
            issue_date,
        };
        let bytes = encode_basic_data(&identity, NamePadding::FullWidthSpace).unwrap();
        prop_assert_eq!(parse_basic_data(&bytes).unwrap(), identity);
    }

    #[test]
    fn fuzz_status_words(bytes in prop::collection::vec(any::<u8>(), 0..8), raw in any::<u16>()) {
        prop_assert_eq!(u16::from(StatusWord::from(raw)), raw);
        match StatusWord::split(&bytes) {
            None => prop_assert!(bytes.len() < 2),
            Some((data, status)) => {
                let mut back = data.to_vec();
                back.extend_from_slice(&status.code().to_be_bytes());
                prop_assert_eq!(back, bytes);
            }
        }
    }

    #[test]
    fn fuzz_fci_label(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            // Nested templates with random lengths: the parser's hard part.
            prop::collection::vec(prop_oneof![Just(0x6Fu8), Just(0xA5), Just(0xBF), Just(0x0C),
                Just(0x61), Just(0x50), Just(0x84), Just(0x81), Just(0x82), any::<u8>()], 0..300),
        ],
        label in "[ -~]{1,16}",
    ) {
        let (found, took) = timed(|| application_label(&bytes));
        prop_assert!(took < CASE_LIMIT, "{took:?}");
        if let Some(text) = found {
            prop_assert!(text.chars().all(|c| (' '..='~').contains(&c)), "{text:?}");
            prop_assert!(!text.is_empty() && text.len() <= 32);
        }
        // Round trip: a label in a 6F/A5 template comes back as written (trimmed).
        let mut fci = vec![0x6F, 0, 0xA5, 0, 0x50, u8::try_from(label.len()).unwrap()];
        fci.extend_from_slice(label.as_bytes());
        fci[3] = u8::try_from(label.len() + 2).unwrap();
        fci[1] = u8::try_from(label.len() + 4).unwrap();
        let trimmed = label.trim();
        let back = application_label(&fci);
        prop_assert_eq!(back.as_deref(), (!trimmed.is_empty()).then_some(trimmed));
    }

    #[test]
    fn fuzz_read_chaining(answers in prop::collection::vec(answer(), 0..12)) {
        let mut card = ScriptedCard { answers, sent: 0 };
        let (result, took) = timed(|| read_identity(&mut card));
        prop_assert!(took < CASE_LIMIT, "{took:?}");
        prop_assert!(card.sent <= MAX_COMMANDS, "{} commands, {result:?}", card.sent);
        if let Err(err) = &result {
            // Every failure is a typed error a pharmacist can be shown.
            prop_assert!(!err.to_string().is_empty());
        }
    }
}
