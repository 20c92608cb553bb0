//! The reader watcher: one thread blocked in `SCardGetStatusChange` on every reader plus the
//! `\\?PnP?\Notification` pseudo-reader, so it wakes only when something happens (no polling).
//!
//! Each reader gets a small worker thread that connects and reads inserted cards and emits that
//! reader's events in order (inserted → identity or error → removed). A mute card therefore
//! never stalls the other readers. When the PC/SC service goes away (pcscd restart, Windows
//! stopping SCardSvr with the last reader) the watcher reports it once, waits with a bounded
//! backoff that shutdown interrupts, and establishes a new context.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pcsc::{Context, ReaderState, Scope, State};

use crate::events::{CardErrorKind, CardEvent};
use crate::pcsc_backend::{READ_TIME_LIMIT, read_card_within};
use crate::read::{ReadError, UnreadableCause};

/// Watcher settings.
#[derive(Clone, Debug)]
pub struct WatcherConfig {
    /// Only readers whose name contains this text are watched (`None`: all readers).
    pub reader_filter: Option<String>,
    /// First wait before re-establishing a lost PC/SC context; doubles up to `max_retry_delay`.
    pub initial_retry_delay: Duration,
    /// Longest wait between attempts to reach the PC/SC service.
    pub max_retry_delay: Duration,
    /// How long a card may take to answer before it is reported unreadable (mute card).
    pub read_time_limit: Duration,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        WatcherConfig {
            reader_filter: None,
            initial_retry_delay: Duration::from_millis(100),
            max_retry_delay: Duration::from_secs(2),
            read_time_limit: READ_TIME_LIMIT,
        }
    }
}

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The watcher thread could not be created.
    #[error("cannot start the reader watcher thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// A running reader watcher. Stops on [`Watcher::shutdown`] or drop.
pub struct Watcher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// State shared between the watcher handle and its thread.
struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    /// The context the thread is blocked on, kept so shutdown can cancel the wait.
    context: Mutex<Option<Context>>,
}

impl Shared {
    fn lock_stop(&self) -> MutexGuard<'_, bool> {
        self.stop.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopping(&self) -> bool {
        *self.lock_stop()
    }

    /// Sleeps up to `delay`; returns true when shutdown was requested.
    fn sleep(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        let mut stop = self.lock_stop();
        while !*stop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            stop = self
                .wake
                .wait_timeout(stop, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *stop
    }

    /// Publishes the context to cancel; refuses (returns false) once shutdown began.
    fn publish(&self, context: Option<Context>) -> bool {
        let stop = self.lock_stop();
        let mut slot = self.context.lock().unwrap_or_else(|e| e.into_inner());
        *slot = context;
        !*stop
    }

    fn cancel(&self) {
        let slot = self.context.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(context) = slot.as_ref() {
            let _ = context.cancel();
        }
    }
}

impl Watcher {
    /// Starts watching on a new thread; events go to `sink` until shutdown (or until the
    /// receiver is dropped).
    pub fn spawn(config: WatcherConfig, sink: Sender<CardEvent>) -> Result<Watcher, WatchError> {
        let shared = Arc::new(Shared {
            stop: Mutex::new(false),
            wake: Condvar::new(),
            context: Mutex::new(None),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("nhi-card-watcher".into())
            .spawn(move || run(&config, &thread_shared, &sink))
            .map_err(WatchError::Spawn)?;
        Ok(Watcher {
            shared,
            thread: Some(thread),
        })
    }

    /// Stops the watcher and waits for its thread. Returns promptly: the blocking wait is
    /// cancelled with `SCardCancel`.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        *self.shared.lock_stop() = true;
        self.shared.wake.notify_all();
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Cancel until the thread notices: a cancel that lands just before the thread enters
        // SCardGetStatusChange would otherwise be lost.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !thread.is_finished() && Instant::now() < deadline {
            self.shared.cancel();
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The watcher thread: (re-)establish a context, watch until it fails, repeat.
fn run(config: &WatcherConfig, shared: &Shared, sink: &Sender<CardEvent>) {
    let mut delay = config.initial_retry_delay;
    let mut service_reported = false;
    while !shared.stopping() {
        let context = match Context::establish(Scope::User) {
            Ok(context) => context,
            Err(err) => {
                tracing::debug!(error = %err, "PC/SC service unavailable");
                if !service_reported {
                    service_reported = true;
                    emit_service_down(sink);
                }
                if shared.sleep(delay) {
                    break;
                }
                delay = (delay * 2).min(config.max_retry_delay);
                continue;
            }
        };
        if !shared.publish(Some(context.clone())) {
            break;
        }
        let mut session = Session::new(config, context, sink);
        let outcome = session.watch(shared);
        shared.publish(None);
        if session.reached_service {
            // A working session: the next outage is news again, and retries start quickly.
            service_reported = false;
            delay = config.initial_retry_delay;
        }
        match outcome {
            // Workers see their inbox close and exit; no removal events on shutdown.
            Outcome::Stopped => break,
            Outcome::ServiceLost(err) => {
                tracing::info!(error = %err, "PC/SC service lost; reconnecting");
                // The cause first, then its effects (each reader's removal, from its worker).
                if !service_reported {
                    service_reported = true;
                    emit_service_down(sink);
                }
                session.close();
                if shared.sleep(delay) {
                    break;
                }
                delay = (delay * 2).min(config.max_retry_delay);
            }
        }
    }
}

fn emit_service_down(sink: &Sender<CardEvent>) {
    let _ = sink.send(CardEvent::CardError {
        reader: None,
        kind: CardErrorKind::ServiceNotRunning,
        label: None,
    });
}

enum Outcome {
    Stopped,
    ServiceLost(pcsc::Error),
}

/// What the watcher thread tells a reader's worker.
enum Work {
    Inserted { mute: bool },
    Removed,
    Unplugged { had_card: bool },
}

struct Watched {
    present: bool,
    event_count: u32,
    worker: Sender<Work>,
    thread: JoinHandle<()>,
}

/// One context's worth of watching.
struct Session<'a> {
    config: &'a WatcherConfig,
    context: Context,
    sink: &'a Sender<CardEvent>,
    readers: HashMap<CString, Watched>,
    /// `states[0]` is the PnP pseudo-reader; the rest mirror `readers`.
    states: Vec<ReaderState>,
    /// Whether the service answered a reader listing in this session.
    reached_service: bool,
}

impl<'a> Session<'a> {
    fn new(config: &'a WatcherConfig, context: Context, sink: &'a Sender<CardEvent>) -> Self {
        Session {
            config,
            context,
            sink,
            readers: HashMap::new(),
            states: vec![ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE)],
            reached_service: false,
        }
    }

    fn watch(&mut self, shared: &Shared) -> Outcome {
        if let Err(err) = self.sync_readers() {
            return Outcome::ServiceLost(err);
        }
        self.reached_service = true;
        loop {
            if shared.stopping() {
                return Outcome::Stopped;
            }
            for state in &mut self.states {
                state.sync_current_state();
            }
            match self.context.get_status_change(None, &mut self.states) {
                Ok(()) => {}
                Err(pcsc::Error::Cancelled | pcsc::Error::Timeout) => continue,
                Err(err) if is_service_loss(err) => return Outcome::ServiceLost(err),
                Err(err) => {
                    // Unexpected but not fatal (e.g. a reader vanished between listing and
                    // waiting): pause briefly so a persistent error cannot spin, then re-list.
                    tracing::warn!(error = %err, "SCardGetStatusChange failed");
                    if shared.sleep(Duration::from_millis(200)) {
                        return Outcome::Stopped;
                    }
                    if let Err(err) = self.sync_readers() {
                        return Outcome::ServiceLost(err);
                    }
                    continue;
                }
            }
            let readers_changed = self.states.iter().any(|s| {
                s.name() == pcsc::PNP_NOTIFICATION() && s.event_state().contains(State::CHANGED)
                    || s.event_state().intersects(State::UNKNOWN | State::IGNORE)
            });
            if readers_changed && let Err(err) = self.sync_readers() {
                return Outcome::ServiceLost(err);
            }
            self.dispatch_card_changes();
        }
    }

    /// Lists readers and starts/stops watching to match.
    fn sync_readers(&mut self) -> Result<(), pcsc::Error> {
        let names = match self.context.list_readers_owned() {
            Ok(names) => names,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(err) if is_service_loss(err) => return Err(err),
            Err(err) => {
                tracing::warn!(error = %err, "listing readers failed");
                Vec::new()
            }
        };
        let wanted: Vec<CString> = names
            .into_iter()
            .filter(|n| matches_filter(n, self.config.reader_filter.as_deref()))
            .collect();
        let gone: Vec<CString> = self
            .readers
            .keys()
            .filter(|n| !wanted.contains(n))
            .cloned()
            .collect();
        for name in gone {
            self.unplug(&name);
        }
        for name in wanted {
            if !self.readers.contains_key(&name) {
                self.plug(name);
            }
        }
        Ok(())
    }

    fn plug(&mut self, name: CString) {
        let reader = display_name(&name);
        let _ = self.sink.send(CardEvent::ReaderAdded {
            reader: reader.clone(),
        });
        let (worker, inbox) = mpsc::channel();
        let sink = self.sink.clone();
        let worker_name = name.clone();
        let limit = self.config.read_time_limit;
        let spawned = std::thread::Builder::new()
            .name("nhi-card-reader".into())
            .spawn(move || reader_worker(&worker_name, &reader, limit, &inbox, &sink));
        match spawned {
            Ok(thread) => {
                self.states
                    .push(ReaderState::new(name.clone(), State::UNAWARE));
                self.readers.insert(
                    name,
                    Watched {
                        present: false,
                        event_count: 0,
                        worker,
                        thread,
                    },
                );
            }
            Err(err) => tracing::error!(error = %err, "cannot start a reader worker thread"),
        }
    }

    fn unplug(&mut self, name: &CStr) {
        self.states.retain(|s| s.name() != name);
        if let Some(watched) = self.readers.remove(name) {
            let _ = watched.worker.send(Work::Unplugged {
                had_card: watched.present,
            });
            // The worker exits after its current read; it is not joined so that a mute card
            // cannot hold up the watcher.
            drop(watched.thread);
        }
    }

    fn dispatch_card_changes(&mut self) {
        for state in self.states.iter().skip(1) {
            let Some(watched) = self.readers.get_mut(state.name()) else {
                continue;
            };
            let event = state.event_state();
            if !event.contains(State::CHANGED) {
                continue;
            }
            let present = event.contains(State::PRESENT);
            let count = state.event_count();
            // A different event count while present means the card was swapped between wakes.
            let swapped = present && watched.present && count != watched.event_count;
            if watched.present && (!present || swapped) {
                let _ = watched.worker.send(Work::Removed);
            }
            if present && (!watched.present || swapped) {
                let mute = event.contains(State::MUTE);
                let _ = watched.worker.send(Work::Inserted { mute });
            }
            watched.present = present;
            watched.event_count = count;
        }
    }

    /// The context is gone or shutting down: every reader counts as removed.
    fn close(&mut self) {
        let names: Vec<CString> = self.readers.keys().cloned().collect();
        for name in names {
            self.unplug(&name);
        }
    }
}

fn is_service_loss(err: pcsc::Error) -> bool {
    matches!(
        err,
        pcsc::Error::NoService
            | pcsc::Error::ServiceStopped
            | pcsc::Error::InvalidHandle
            | pcsc::Error::Shutdown
            | pcsc::Error::CommError
    )
}

fn matches_filter(name: &CStr, filter: Option<&str>) -> bool {
    filter.is_none_or(|f| display_name(name).contains(f))
}

fn display_name(name: &CStr) -> String {
    name.to_string_lossy().into_owned()
}

/// How long a worker whose read found the card mute waits to hear that it was pulled out.
const REMOVAL_NOTICE: Duration = Duration::from_millis(700);

/// One reader's worker: emits its events in order and reads each inserted card once, on its
/// own PC/SC context (pcsc-lite serialises calls on one context, and the watcher's context is
/// blocked in SCardGetStatusChange).
fn reader_worker(
    name: &CStr,
    reader: &str,
    limit: Duration,
    inbox: &Receiver<Work>,
    sink: &Sender<CardEvent>,
) {
    let mut context: Option<Context> = None;
    let send = |event| {
        let _ = sink.send(event);
    };
    let error_named = |kind, label| CardEvent::CardError {
        reader: Some(reader.to_owned()),
        kind,
        label,
    };
    let error = |kind| error_named(kind, None);
    // Work taken from the inbox while deciding how a failed read ended, to be handled next.
    let mut pending: Option<Work> = None;
    loop {
        let work = match pending.take() {
            Some(work) => work,
            None => match inbox.recv() {
                Ok(work) => work,
                Err(_) => return,
            },
        };
        match work {
            Work::Inserted { mute } => {
                send(CardEvent::CardInserted {
                    reader: reader.to_owned(),
                });
                if mute {
                    send(error(CardErrorKind::Unreadable));
                    continue;
                }
                let result = match context.as_ref() {
                    Some(c) => read_card_within(c, name, limit),
                    None => match Context::establish(Scope::User) {
                        Ok(c) => read_card_within(context.insert(c), name, limit),
                        Err(_) => Err(ReadError::ServiceNotRunning),
                    },
                };
                match result {
                    Ok(identity) => {
                        tracing::info!(reader, id = %identity.id_no, "card read");
                        send(CardEvent::IdentityRead {
                            reader: reader.to_owned(),
                            identity,
                        });
                    }
                    Err(err) => {
                        tracing::info!(reader, error = %err, "card not read");
                        // A fresh context next time: this one may be dead, or still busy with a
                        // mute card's read.
                        if matches!(
                            err,
                            ReadError::ServiceNotRunning
                                | ReadError::Pcsc(_)
                                | ReadError::Unreadable(UnreadableCause::Mute)
                        ) {
                            context = None;
                        }
                        let mut kind = err.kind().unwrap_or(CardErrorKind::Unreadable);
                        if kind == CardErrorKind::Unreadable {
                            // A card that stopped answering, or whose transmit failed in a way
                            // pcsc-lite did not name, may have been pulled out: under load
                            // pcscd can notice the removal only after the read gave up. The
                            // watcher then queues `Removed`; wait briefly for it, so the
                            // pharmacist is told "pulled too early", not "unreadable".
                            match inbox.recv_timeout(REMOVAL_NOTICE) {
                                Ok(Work::Removed) => {
                                    kind = CardErrorKind::RemovedTooEarly;
                                    pending = Some(Work::Removed);
                                }
                                Ok(other) => pending = Some(other),
                                Err(_) => {}
                            }
                        }
                        send(error_named(kind, err.card_label().map(str::to_owned)));
                    }
                }
            }
            Work::Removed => send(CardEvent::CardRemoved {
                reader: reader.to_owned(),
            }),
            Work::Unplugged { had_card } => {
                if had_card {
                    send(error(CardErrorKind::ReaderUnplugged));
                }
                send(CardEvent::ReaderRemoved {
                    reader: reader.to_owned(),
                });
                return;
            }
        }
    }
}
