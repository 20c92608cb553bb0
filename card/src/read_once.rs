//! Wait for one card and read it: the library side of `nhi-read` and `mask-agent card read`.

use std::ffi::CString;
use std::time::{Duration, Instant};

use pcsc::{Context, ReaderState, Scope, State};

use crate::nhi::Identity;
use crate::pcsc_backend::{READ_TIME_LIMIT, read_card_within};
use crate::read::{ReadError, UnreadableCause};

/// Options of [`read_once`].
#[derive(Clone, Debug, Default)]
pub struct ReadOnceOptions {
    /// Reader to use: an exact name, or text contained in one reader's name (`None`: any).
    pub reader: Option<String>,
    /// How long to wait for a card (`None`: until one is inserted).
    pub timeout: Option<Duration>,
}

/// Waits for a card in the chosen reader(s) — a card already inserted counts — and reads it.
pub fn read_once(options: &ReadOnceOptions) -> Result<Identity, ReadError> {
    let context = Context::establish(Scope::User).map_err(service_error)?;
    let readers = choose_readers(&context, options.reader.as_deref())?;
    let mut states: Vec<ReaderState> = readers
        .into_iter()
        .map(|name| ReaderState::new(name, State::UNAWARE))
        .collect();
    let deadline = options.timeout.map(|t| Instant::now() + t);
    loop {
        let wait = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match context.get_status_change(wait, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => return Err(ReadError::Timeout),
            Err(err) => return Err(service_error(err)),
        }
        for state in &states {
            let event = state.event_state();
            if event.intersects(State::UNKNOWN | State::IGNORE | State::UNAVAILABLE) {
                return Err(ReadError::ReaderUnplugged);
            }
            if event.contains(State::PRESENT) {
                if event.contains(State::MUTE) {
                    return Err(ReadError::Unreadable(UnreadableCause::Mute));
                }
                return read_card_within(&context, state.name(), READ_TIME_LIMIT);
            }
        }
        for state in &mut states {
            state.sync_current_state();
        }
    }
}

/// The readers to wait on: all, or those matching `wanted` (an exact name wins over a
/// substring match).
fn choose_readers(context: &Context, wanted: Option<&str>) -> Result<Vec<CString>, ReadError> {
    let names = match context.list_readers_owned() {
        Ok(names) => names,
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(err) => return Err(service_error(err)),
    };
    if names.is_empty() {
        return Err(ReadError::NoReader);
    }
    let Some(wanted) = wanted else {
        return Ok(names);
    };
    if let Some(exact) = names.iter().find(|n| n.to_string_lossy() == wanted) {
        return Ok(vec![exact.clone()]);
    }
    let matching: Vec<CString> = names
        .into_iter()
        .filter(|n| n.to_string_lossy().contains(wanted))
        .collect();
    if matching.is_empty() {
        return Err(ReadError::ReaderNotFound {
            name: wanted.to_owned(),
        });
    }
    Ok(matching)
}

fn service_error(err: pcsc::Error) -> ReadError {
    match err {
        pcsc::Error::NoService
        | pcsc::Error::ServiceStopped
        | pcsc::Error::InvalidHandle
        | pcsc::Error::Shutdown
        | pcsc::Error::CommError => ReadError::ServiceNotRunning,
        pcsc::Error::NoReadersAvailable => ReadError::NoReader,
        pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable => ReadError::ReaderUnplugged,
        other => ReadError::Pcsc(other),
    }
}
