//! The reader watcher over pcscd + vpcd: event sequences, one read per insertion, two readers,
//! a mute card that must not stall the other reader, and a prompt shutdown.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use nhi_card::{CardErrorKind, CardEvent, Watcher, WatcherConfig};
use nhi_fixtures::{Outcome, PlayerConfig, VPCD_PORT, VPCD_PORT_2, VirtualCard, builtin_all};

use crate::support::{
    SEEN, VPCD_READER, VPCD_READER_2, assert_event_outcome, both_readers, drain, events_until,
    insert, profile, reader_1, remove, summary, wait_empty,
};

fn watch(filter: &str) -> (Watcher, mpsc::Receiver<CardEvent>) {
    watch_within(filter, Duration::from_millis(1500))
}

fn watch_within(filter: &str, limit: Duration) -> (Watcher, mpsc::Receiver<CardEvent>) {
    let (tx, rx) = mpsc::channel();
    let config = WatcherConfig {
        reader_filter: Some(filter.to_owned()),
        read_time_limit: limit,
        ..WatcherConfig::default()
    };
    let watcher = Watcher::spawn(config, tx).unwrap();
    events_until(&rx, SEEN, |e| matches!(e, CardEvent::ReaderAdded { .. }));
    (watcher, rx)
}

fn is_result(e: &CardEvent) -> bool {
    matches!(
        e,
        CardEvent::IdentityRead { .. } | CardEvent::CardError { .. }
    )
}

/// The identity of the first `IdentityRead` among `events`.
fn identity_in(events: &[CardEvent]) -> Option<nhi_card::Identity> {
    events.iter().find_map(|e| match e {
        CardEvent::IdentityRead { identity, .. } => Some(identity.clone()),
        _ => None,
    })
}

fn is_removed(e: &CardEvent) -> bool {
    matches!(e, CardEvent::CardRemoved { .. })
}

#[test]
fn insert_read_remove_swap_sequence() {
    let Some(_lock) = reader_1("insert_read_remove_swap_sequence") else {
        return;
    };
    wait_empty(VPCD_READER);
    let (watcher, rx) = watch(VPCD_READER);

    let mut card = insert("adult", VPCD_PORT);
    let mut events = events_until(&rx, SEEN, is_result);
    let read = identity_in(&events);
    assert_eq!(
        serde_json::to_value(read.unwrap()).unwrap(),
        serde_json::to_value(profile("adult").expected_identity().unwrap()).unwrap()
    );
    remove(&mut card, VPCD_READER);
    events.extend(events_until(&rx, SEEN, is_removed));

    card.swap(&profile("child")).unwrap();
    events.extend(events_until(&rx, SEEN, is_result));
    card.swap(&profile("hpc")).unwrap();
    events.extend(events_until(&rx, SEEN, |e| {
        is_result(e) && !matches!(e, CardEvent::IdentityRead { .. })
    }));
    remove(&mut card, VPCD_READER);
    events.extend(events_until(&rx, SEEN, is_removed));

    assert_eq!(
        summary(&events, VPCD_READER),
        [
            "inserted",
            "identity A123456789",
            "removed",
            "inserted",
            "identity N120388525",
            "removed",
            "inserted",
            "error health_professional_card",
            "removed",
        ]
    );
    card.apdu_log().assert_read_only();
    watcher.shutdown();
}

#[test]
fn every_profile_through_the_watcher_gives_its_expected_event() {
    let Some(_lock) = reader_1("every_profile_through_the_watcher") else {
        return;
    };
    wait_empty(VPCD_READER);
    let (watcher, rx) = watch(VPCD_READER);
    let config = PlayerConfig::port(VPCD_PORT);
    let log = config.apdu_log.clone();
    for profile in builtin_all().unwrap() {
        let mut card = VirtualCard::insert_with(&profile, config.clone()).unwrap();
        if profile.expect.outcome == Outcome::NoCard {
            let seen = drain(&rx, Duration::from_millis(1500));
            assert!(seen.is_empty(), "{}: {seen:?}", profile.name);
            continue;
        }
        let events = events_until(&rx, SEEN, is_result);
        let result = match events.last() {
            Some(CardEvent::IdentityRead { identity, .. }) => Ok(identity.clone()),
            Some(CardEvent::CardError { kind, .. }) => Err(*kind),
            other => panic!("{}: {other:?}", profile.name),
        };
        assert_event_outcome(&profile, &result);
        remove(&mut card, VPCD_READER);
        events_until(&rx, SEEN, is_removed);
    }
    log.assert_read_only();
    watcher.shutdown();
}

#[test]
fn each_inserted_card_is_read_exactly_once() {
    let Some(_lock) = reader_1("each_inserted_card_is_read_exactly_once") else {
        return;
    };
    wait_empty(VPCD_READER);
    let (watcher, rx) = watch(VPCD_READER);
    let card = insert("adult", VPCD_PORT);
    events_until(&rx, SEEN, is_result);
    let commands = card.apdu_log().len();
    // pcscd keeps polling the card and our connect/disconnect changes its state bits: none of
    // that may cause a second read.
    let later = drain(&rx, Duration::from_millis(1500));
    assert!(later.is_empty(), "{later:?}");
    assert_eq!(card.apdu_log().len(), commands);
    watcher.shutdown();
}

// Regression: with two PC/SC clients on one reader (the agent and another watcher), a card
// swapped right after the first client's read was taken by pcscd for the old card still present
// (the virtual card hung up at the second client's command, which is no presence check), and
// neither watcher ever saw the new card.
#[test]
fn two_watchers_on_one_reader_both_see_quick_swaps() {
    let Some(_lock) = reader_1("two_watchers_on_one_reader_both_see_quick_swaps") else {
        return;
    };
    wait_empty(VPCD_READER);
    let (first, rx_first) = watch(VPCD_READER);
    let (second, rx_second) = watch(VPCD_READER);
    let id_of = |name: &str| {
        profile(name)
            .expected_identity()
            .unwrap()
            .id_no
            .as_str()
            .to_owned()
    };
    let read_id = |rx: &mpsc::Receiver<CardEvent>| {
        identity_in(&events_until(rx, SEEN, is_result)).map(|i| i.id_no.as_str().to_owned())
    };
    let mut current = "adult";
    let mut card = insert(current, VPCD_PORT);
    for next in ["child", "adult", "child", "adult", "child", "adult"] {
        assert_eq!(read_id(&rx_first), Some(id_of(current)), "first watcher");
        // Swap as soon as one client has its answer: the other may still be reading.
        card.swap(&profile(next)).unwrap();
        let want = id_of(next);
        events_until(
            &rx_second,
            SEEN,
            |e| matches!(e, CardEvent::IdentityRead { identity, .. } if identity.id_no.as_str() == want),
        );
        current = next;
    }
    assert_eq!(read_id(&rx_first), Some(id_of(current)), "first watcher");
    remove(&mut card, VPCD_READER);
    first.shutdown();
    second.shutdown();
}

#[test]
fn a_card_pulled_mid_read_is_removed_too_early() {
    let Some(_lock) = reader_1("a_card_pulled_mid_read_is_removed_too_early") else {
        return;
    };
    wait_empty(VPCD_READER);
    let (watcher, rx) = watch(VPCD_READER);
    let _card = insert("pulled", VPCD_PORT);
    let events = events_until(&rx, SEEN, is_removed);
    let events = summary(&events, VPCD_READER);
    assert_eq!(events, ["inserted", "error removed_too_early", "removed"]);
    watcher.shutdown();
}

/// Under load pcscd may notice the pull only after the read has given up (the time limit, or
/// the transport's grace for a silent card). The pharmacist must still be told the card was
/// pulled too early, not that it is unreadable. A 50 ms limit gives up before vpcd's ~0.4 s
/// presence poll sees the card gone, as a loaded machine does.
#[test]
fn a_card_pulled_after_the_read_gave_up_is_still_removed_too_early() {
    let Some(_lock) = reader_1("a_card_pulled_after_the_read_gave_up") else {
        return;
    };
    wait_empty(VPCD_READER);
    let (watcher, rx) = watch_within(VPCD_READER, Duration::from_millis(50));
    let _card = insert("pulled", VPCD_PORT);
    let events = events_until(&rx, SEEN, is_removed);
    let events = summary(&events, VPCD_READER);
    assert_eq!(events, ["inserted", "error removed_too_early", "removed"]);
    watcher.shutdown();
}

#[test]
fn two_readers_are_watched_at_once_and_a_mute_card_stalls_neither() {
    let Some(_locks) = both_readers("two_readers_are_watched_at_once") else {
        return;
    };
    wait_empty(VPCD_READER);
    wait_empty(VPCD_READER_2);
    let (tx, rx) = mpsc::channel();
    let config = WatcherConfig {
        reader_filter: Some("Virtual PCD".to_owned()),
        read_time_limit: Duration::from_secs(3),
        ..WatcherConfig::default()
    };
    let watcher = Watcher::spawn(config, tx).unwrap();
    let mut added = 0;
    events_until(&rx, SEEN, |e| {
        added += usize::from(matches!(e, CardEvent::ReaderAdded { .. }));
        added == 2
    });

    let mute = insert("mute", VPCD_PORT);
    mute.wait_seen(SEEN);
    let started = Instant::now();
    let adult = insert("adult-2", VPCD_PORT_2);
    let events = events_until(
        &rx,
        SEEN,
        |e| matches!(e, CardEvent::IdentityRead { reader, .. } if reader == VPCD_READER_2),
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the second reader waited for the mute card: {:?}",
        started.elapsed()
    );
    let mut all = events;
    all.extend(events_until(&rx, SEEN, |e| {
        matches!(e, CardEvent::CardError { reader: Some(r), kind: CardErrorKind::Unreadable, .. } if r == VPCD_READER)
    }));
    assert_eq!(
        summary(&all, VPCD_READER_2),
        ["inserted", "identity F223456786"]
    );
    assert_eq!(summary(&all, VPCD_READER), ["inserted", "error unreadable"]);
    drop((mute, adult));
    watcher.shutdown();
}

#[test]
fn the_reader_filter_hides_other_readers() {
    let Some(_locks) = both_readers("the_reader_filter_hides_other_readers") else {
        return;
    };
    let (watcher, rx) = watch(VPCD_READER_2);
    let _card = insert("adult", VPCD_PORT);
    let seen = drain(&rx, Duration::from_millis(1500));
    assert!(seen.is_empty(), "events of a filtered-out reader: {seen:?}");
    watcher.shutdown();
}

#[test]
fn shutdown_returns_promptly() {
    let Some(_lock) = reader_1("shutdown_returns_promptly") else {
        return;
    };
    let (watcher, _rx) = watch(VPCD_READER);
    let started = Instant::now();
    watcher.shutdown();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // Dropping without an explicit shutdown also stops the thread.
    let (watcher, _rx) = watch(VPCD_READER);
    drop(watcher);
}
