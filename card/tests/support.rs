//! Test helpers: the PC/SC gate, virtual cards, reader waits, event waits, outcome checks.

use std::ffi::CString;
use std::process::Command;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use nhi_card::{CardErrorKind, CardEvent, Identity, ReadError};
use nhi_fixtures::{Outcome, Profile, VPCD_PORT, VPCD_PORT_2, VirtualCard, VpcdLock, pcsc_gate};
use pcsc::{Context, ReaderState, Scope, State};

pub use nhi_fixtures::{VPCD_READER, VPCD_READER_2};

/// Generous bound for anything pcscd must notice (it polls vpcd every ~0.4 s).
pub const SEEN: Duration = Duration::from_secs(10);

/// Exclusive use of the first vpcd reader, or `None` (skip) when the stack is missing.
pub fn reader_1(test: &str) -> Option<VpcdLock> {
    pcsc_gate(VPCD_PORT, test)
}

/// Exclusive use of both vpcd readers (always locked in port order: no deadlock).
pub fn both_readers(test: &str) -> Option<(VpcdLock, VpcdLock)> {
    let first = pcsc_gate(VPCD_PORT, test)?;
    let second = pcsc_gate(VPCD_PORT_2, test)?;
    Some((first, second))
}

pub fn profile(name: &str) -> Profile {
    Profile::builtin(name).unwrap_or_else(|e| panic!("profile {name}: {e}"))
}

/// Inserts a card playing profile `name` into the vpcd reader on `port`.
pub fn insert(name: &str, port: u16) -> VirtualCard {
    VirtualCard::insert(&profile(name), port).unwrap()
}

/// Waits until pcscd reports `reader` in a state satisfying `want` (e.g. empty after a removal,
/// so the next insertion is a new card).
pub fn wait_reader(reader: &str, want: impl Fn(State) -> bool) {
    let context = Context::establish(Scope::User).unwrap();
    let mut states = [ReaderState::new(
        CString::new(reader).unwrap(),
        State::UNAWARE,
    )];
    let deadline = Instant::now() + SEEN;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{reader} never reached the wanted state");
        match context.get_status_change(left, &mut states) {
            Ok(()) if want(states[0].event_state()) => return,
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => panic!("watching {reader}: {e}"),
        }
        states[0].sync_current_state();
    }
}

pub fn wait_empty(reader: &str) {
    wait_reader(reader, |s| s.contains(State::EMPTY));
}

/// Takes the card out and waits until pcscd has noticed.
pub fn remove(card: &mut VirtualCard, reader: &str) {
    card.remove();
    wait_empty(reader);
}

/// Receives events until one matches `want`; returns everything received up to and including
/// it. Panics with what was seen on timeout.
pub fn events_until(
    rx: &Receiver<CardEvent>,
    timeout: Duration,
    mut want: impl FnMut(&CardEvent) -> bool,
) -> Vec<CardEvent> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(event) => {
                let done = want(&event);
                seen.push(event);
                if done {
                    return seen;
                }
            }
            Err(RecvTimeoutError::Timeout) => panic!("wanted event never came; saw {seen:#?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("watcher hung up; saw {seen:#?}"),
        }
    }
}

/// Events received within `quiet` (for "nothing more happens" checks).
pub fn drain(rx: &Receiver<CardEvent>, quiet: Duration) -> Vec<CardEvent> {
    let mut seen = Vec::new();
    while let Ok(event) = rx.recv_timeout(quiet) {
        seen.push(event);
    }
    seen
}

/// The events of one reader, with identities reduced to their ID number for comparison.
pub fn summary(events: &[CardEvent], reader: &str) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            CardEvent::ReaderAdded { reader: r } if r == reader => Some("reader_added".into()),
            CardEvent::ReaderRemoved { reader: r } if r == reader => Some("reader_removed".into()),
            CardEvent::CardInserted { reader: r } if r == reader => Some("inserted".into()),
            CardEvent::CardRemoved { reader: r } if r == reader => Some("removed".into()),
            CardEvent::IdentityRead {
                reader: r,
                identity,
            } if r == reader => Some(format!("identity {}", identity.id_no.as_str())),
            CardEvent::CardError {
                reader: Some(r),
                kind,
                ..
            } if r == reader => Some(format!("error {}", json_name(kind))),
            CardEvent::CardError {
                reader: None, kind, ..
            } => Some(format!("error {}", json_name(kind))),
            _ => None,
        })
        .collect()
}

pub fn json_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Asserts a read came out as the profile's `[expect]` block says.
pub fn assert_outcome(profile: &Profile, result: &Result<Identity, ReadError>) {
    let name = &profile.name;
    match (profile.expect.outcome, result) {
        (Outcome::Identity, Ok(identity)) => assert_eq!(
            serde_json::to_value(identity).unwrap(),
            serde_json::to_value(profile.expected_identity().unwrap()).unwrap(),
            "{name}"
        ),
        (Outcome::NoCard, Err(ReadError::Timeout)) => {}
        (outcome, Err(err)) if outcome != Outcome::Identity && outcome != Outcome::NoCard => {
            let kind = err
                .kind()
                .unwrap_or_else(|| panic!("{name}: {err} has no card error kind"));
            assert_eq!(json_name(&kind), json_name(&outcome), "{name}: {err}");
        }
        (outcome, other) => panic!("{name}: expected {outcome:?}, got {other:?}"),
    }
}

/// `scripts/pcsc-stack.sh` of the workspace (owned by the lead): start/stop pcscd.
pub fn pcsc_stack(action: &str) {
    pcsc_stack_with(action, &[]);
}

/// `pcsc-stack.sh` with extra environment (e.g. `PCSCD_ARGS` for another reader config).
pub fn pcsc_stack_with(action: &str, env: &[(&str, &str)]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pcsc-stack.sh");
    let status = Command::new("bash")
        .arg(script)
        .arg(action)
        .envs(env.iter().copied())
        .status()
        .unwrap();
    assert!(status.success(), "pcsc-stack.sh {action} failed: {status}");
}

/// Asserts a watcher result (identity or card error kind) is what the profile expects.
pub fn assert_event_outcome(profile: &Profile, result: &Result<Identity, CardErrorKind>) {
    let name = &profile.name;
    match (profile.expect.outcome, result) {
        (Outcome::Identity, Ok(identity)) => assert_eq!(
            serde_json::to_value(identity).unwrap(),
            serde_json::to_value(profile.expected_identity().unwrap()).unwrap(),
            "{name}"
        ),
        (outcome, Err(kind)) => assert_eq!(json_name(kind), json_name(&outcome), "{name}"),
        (outcome, Ok(_)) => panic!("{name}: expected {outcome:?}, got an identity"),
    }
}
