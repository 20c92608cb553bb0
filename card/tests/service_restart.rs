//! The watcher survives the PC/SC service stopping and starting again (pcscd restart; on
//! Windows SCardSvr stops with the last reader), reporting it once and recovering by itself.

use std::sync::mpsc;
use std::time::Duration;

use nhi_card::{CardErrorKind, CardEvent, Watcher, WatcherConfig};
use nhi_fixtures::VPCD_PORT;

use crate::support::{
    SEEN, VPCD_READER, VPCD_READER_2, both_readers, events_until, insert, pcsc_stack,
    pcsc_stack_with, summary, wait_empty,
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
                    kind: CardErrorKind::ServiceNotRunning,
                    ..
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

#[test]
fn readers_unplugged_and_others_plugged_across_a_restart_are_followed() {
    let Some(_locks) = both_readers("readers_unplugged_and_others_plugged") else {
        return;
    };
    wait_empty(VPCD_READER);
    let (tx, rx) = mpsc::channel();
    let config = WatcherConfig {
        reader_filter: Some("Virtual PCD".to_owned()),
        initial_retry_delay: Duration::from_millis(50),
        max_retry_delay: Duration::from_millis(500),
        ..WatcherConfig::default()
    };
    let watcher = Watcher::spawn(config, tx).unwrap();
    let mut added = 0;
    events_until(&rx, SEEN, |e| {
        added += usize::from(matches!(e, CardEvent::ReaderAdded { .. }));
        added == 2
    });

    // pcscd comes back with a different reader set: "Virtual PCD 00 00/01" are unplugged and
    // "Virtual PCD Spare 00 00/01" appear (same ports, another friendly name).
    let conf = tempfile::tempdir().unwrap();
    std::fs::write(
        conf.path().join("vpcd-spare"),
        "FRIENDLYNAME \"Virtual PCD Spare\"\nDEVICENAME /dev/null:0x8C7B\n\
         LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x8C7B\n",
    )
    .unwrap();
    let dir = conf.path().to_str().unwrap();
    let guard = RestartGuard;
    pcsc_stack("stop");
    let args = format!("-c {dir}");
    pcsc_stack_with(
        "start",
        &[("PCSCD_ARGS", args.as_str()), ("PCSC_READER_CONF_DIR", dir)],
    );
    let spare = "Virtual PCD Spare 00 00";
    let mut events = events_until(
        &rx,
        SEEN,
        |e| matches!(e, CardEvent::ReaderAdded { reader } if reader == spare),
    );
    let mut card = insert("child", VPCD_PORT);
    events.extend(events_until(&rx, SEEN, |e| {
        matches!(e, CardEvent::IdentityRead { .. })
    }));
    assert_eq!(
        summary(&events, VPCD_READER),
        ["error service_not_running", "reader_removed"]
    );
    assert_eq!(summary(&events, VPCD_READER_2)[1..], ["reader_removed"]);
    assert_eq!(
        summary(&events, spare)[1..],
        ["reader_added", "inserted", "identity N120388525"]
    );

    // And back to the stock readers.
    card.remove();
    pcsc_stack("stop");
    drop(guard);
    events_until(
        &rx,
        SEEN,
        |e| matches!(e, CardEvent::ReaderAdded { reader } if reader == VPCD_READER),
    );
    watcher.shutdown();
}

#[test]
fn nhi_read_without_the_service_exits_1_and_says_how_to_start_it() {
    let Some(_locks) = both_readers("nhi_read_without_the_service") else {
        return;
    };
    let guard = RestartGuard;
    pcsc_stack("stop");
    let out = crate::cli::nhi_read(&["--json", "--timeout", "1"]);
    drop(guard);
    assert_eq!(out.status.code(), Some(1));
    let text = crate::cli::stderr(&out);
    assert!(
        text.starts_with("智慧卡服務（PC/SC）沒有執行。\n請啟動 pcscd"),
        "{text}"
    );
}

#[test]
fn a_watcher_started_before_the_service_reports_it_once_then_finds_the_readers() {
    let Some(_locks) = both_readers("a_watcher_started_before_the_service") else {
        return;
    };
    let guard = RestartGuard;
    pcsc_stack("stop");
    let (tx, rx) = mpsc::channel();
    let config = WatcherConfig {
        reader_filter: Some(VPCD_READER.to_owned()),
        initial_retry_delay: Duration::from_millis(20),
        max_retry_delay: Duration::from_millis(200),
        ..WatcherConfig::default()
    };
    let watcher = Watcher::spawn(config, tx).unwrap();
    let mut events = events_until(&rx, SEEN, |e| matches!(e, CardEvent::CardError { .. }));
    // Several retries happen meanwhile; none is reported again.
    std::thread::sleep(Duration::from_millis(600));
    pcsc_stack("start");
    drop(guard);
    events.extend(events_until(&rx, SEEN, |e| {
        matches!(e, CardEvent::ReaderAdded { .. })
    }));
    assert_eq!(
        summary(&events, VPCD_READER),
        ["error service_not_running", "reader_added"]
    );
    watcher.shutdown();
}
