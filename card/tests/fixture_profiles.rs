//! Every virtual-card profile through the in-process fixture transport: no pcscd needed.

use nhi_card::read_identity;
use nhi_fixtures::{FixtureTransport, Outcome, builtin_all};

use crate::support::assert_outcome;

#[test]
fn every_profile_reads_as_its_expectation_says() {
    let profiles = builtin_all().unwrap();
    assert!(profiles.len() >= 12, "fixtures ship the issue's profiles");
    for profile in profiles {
        if profile.expect.outcome == Outcome::NoCard {
            // No ATR: a reader never reports such a card, so nothing is read (pcsc_profiles).
            continue;
        }
        let mut card = FixtureTransport::new(&profile);
        let result = read_identity(&mut card);
        assert_outcome(&profile, &result);
        card.apdu_log().assert_read_only();
    }
}

#[test]
fn a_t0_card_needs_exactly_one_get_response() {
    let mut card = FixtureTransport::builtin("t0").unwrap();
    read_identity(&mut card).unwrap();
    let sent = card.apdu_log().commands();
    assert_eq!(sent.len(), 3, "SELECT, GET DATA, GET RESPONSE");
    assert_eq!(sent[2], [0x00, 0xC0, 0x00, 0x00, 0x39]);
}
