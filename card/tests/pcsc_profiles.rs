//! Every profile through real pcscd + vpcd with `read_once`, and the read-only property proven
//! on the virtual card's APDU log.

use std::time::Duration;

use nhi_card::{ReadOnceOptions, read_once};
use nhi_fixtures::{Outcome, PlayerConfig, VPCD_PORT, VirtualCard, builtin_all};

use crate::support::{VPCD_READER, assert_outcome, reader_1, wait_empty};

#[test]
fn every_profile_over_pcscd_reads_as_expected_and_only_reads() {
    let Some(_lock) = reader_1("every_profile_over_pcscd_reads_as_expected_and_only_reads") else {
        return;
    };
    wait_empty(VPCD_READER);
    let config = PlayerConfig::port(VPCD_PORT);
    let log = config.apdu_log.clone();
    for profile in builtin_all().unwrap() {
        let mut card = VirtualCard::insert_with(&profile, config.clone()).unwrap();
        let options = ReadOnceOptions {
            reader: Some(VPCD_READER.to_owned()),
            // A card that never shows up (no ATR) must time out rather than hang.
            timeout: Some(if profile.expect.outcome == Outcome::NoCard {
                Duration::from_secs(2)
            } else {
                Duration::from_secs(15)
            }),
        };
        let result = read_once(&options);
        assert_outcome(&profile, &result);
        card.remove();
        wait_empty(VPCD_READER);
    }
    assert!(log.len() > 20, "the cards were talked to");
    log.assert_read_only();
}
