//! The watcher survives the PC/SC service stopping and starting again (pcscd restart; on
//! Windows SCardSvr stops with the last reader), reporting it once and recovering by itself.

use std::sync::mpsc;
use std::time::Duration;

use nhi_card::{CardErrorKind, CardEvent, Watcher, WatcherConfig};
use nhi_fixtures::VPCD_PORT;

use crate::support::{
    SEEN, VPCD_READER, both_readers, events_until, insert, pcsc_stack, summary, wait_empty,
};

/// Starts pcscd again even when the test fails half-way, so later tests find a running stack.
struct RestartGuard;

impl Drop for RestartGuard {
    fn drop(&mut self) {
        pcsc_stack("start");
    }
}

#[test]
fn the_watcher_survives_a_pcscd_restart() {
    // Both readers: no other test may use the stack while it is down.
    let Some(_locks) = both_readers("the_watcher_survives_a_pcscd_restart") else {
        return;
    };
    wait_empty(VPCD_READER);
    let (tx, rx) = mpsc::channel();
    let config = WatcherConfig {
        reader_filter: Some(VPCD_READER.to_owned()),
        initial_retry_delay: Duration::from_millis(50),
        max_retry_delay: Duration::from_millis(500),
        ..WatcherConfig::default()
    };
    let watcher = Watcher::spawn(config, tx).unwrap();
    events_until(&rx, SEEN, |e| matches!(e, CardEvent::ReaderAdded { .. }));
    let mut card = insert("adult", VPCD_PORT);
    events_until(&rx, SEEN, |e| matches!(e, CardEvent::IdentityRead { .. }));

    let guard = RestartGuard;
    pcsc_stack("stop");
    let mut events = events_until(&rx, SEEN, |e| matches!(e, CardEvent::ReaderRemoved { .. }));
    // Reported once, even though the watcher keeps retrying while pcscd is down.
    std::thread::sleep(Duration::from_millis(1200));
    pcsc_stack("start");
    drop(guard);
    events.extend(events_until(&rx, SEEN, |e| {
        matches!(e, CardEvent::ReaderAdded { .. })
    }));
    let service_down = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                CardEvent::CardError {
                    reader: None,
                    kind: CardErrorKind::ServiceNotRunning
                }
            )
        })
        .count();
    assert_eq!(service_down, 1, "{events:#?}");
    let mut reader_events = summary(&events, VPCD_READER);
    reader_events.retain(|e| e != "error service_not_running");
    // pcscd may notice the card leaving (vpcd connection closed) just before it dies.
    let card_gone = reader_events.first().cloned().unwrap_or_default();
    assert!(
        card_gone == "error reader_unplugged" || card_gone == "removed",
        "{reader_events:?}"
    );
    assert_eq!(reader_events[1..], ["reader_removed", "reader_added"]);

    // The card left with the old pcscd (vpcd dropped it); a new insertion is read.
    card.remove();
    wait_empty(VPCD_READER);
    card.reinsert().unwrap();
    events_until(&rx, SEEN, |e| matches!(e, CardEvent::IdentityRead { .. }));
    watcher.shutdown();
}
