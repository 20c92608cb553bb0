//! Hostile and foreign cards on the real PC/SC stack (pcscd + vpcd + the virtual-card player).

use std::time::{Duration, Instant};

use nhi_card::{
    CardErrorKind, CardStatusError, ReadError, ReadOnceOptions, StatusWord, UnreadableCause,
    read_once,
};
use nhi_fixtures::VPCD_PORT;
use pcsc::State;

use crate::support::{VPCD_READER, insert, profile, reader_1, remove, wait_empty, wait_reader};

fn options() -> ReadOnceOptions {
    ReadOnceOptions {
        reader: Some(VPCD_READER.to_owned()),
        timeout: Some(Duration::from_secs(15)),
    }
}

fn wait_present() {
    wait_reader(VPCD_READER, |s| s.contains(State::PRESENT));
}

#[test]
fn an_endless_61xx_card_is_refused_and_the_reader_is_free_within_a_second() {
    let Some(_lock) = reader_1("an_endless_61xx_card_is_refused") else {
        return;
    };
    wait_empty(VPCD_READER);
    let mut card = insert("chain-loop", VPCD_PORT);
    wait_present();

    let started = Instant::now();
    let err = read_once(&options()).unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            err,
            ReadError::Unreadable(UnreadableCause::Status(
                CardStatusError::TooManyRounds { .. }
            ))
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), Some(CardErrorKind::Unreadable));
    assert!(took < Duration::from_secs(1), "refused after {took:?}");

    // The card is still in: a second read gets the transaction at once, so the first read left
    // nothing behind holding it.
    let started = Instant::now();
    let again = read_once(&options()).unwrap_err();
    assert_eq!(again, err);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    card.apdu_log().assert_read_only();

    // The next, good card is read within a second of pcscd reporting it.
    remove(&mut card, VPCD_READER);
    let _good = insert("adult", VPCD_PORT);
    wait_present();
    let started = Instant::now();
    let identity = read_once(&options()).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        identity.id_no.as_str(),
        profile("adult").expected_identity().unwrap().id_no
    );
}

#[test]
fn a_bank_card_is_named_over_pcscd() {
    let Some(_lock) = reader_1("a_bank_card_is_named_over_pcscd") else {
        return;
    };
    wait_empty(VPCD_READER);
    let card = insert("bank", VPCD_PORT);
    wait_present();
    let err = read_once(&options()).unwrap_err();
    assert_eq!(
        err,
        ReadError::NotNhiCard {
            status: StatusWord::FileNotFound,
            label: Some("VISA DEBIT".to_owned()),
        }
    );
    card.apdu_log().assert_read_only();
}
