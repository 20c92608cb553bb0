//! The terminal loop: raw-mode terminal, key reader thread, agent client, signals; every input
//! goes through [`App::handle`] and the screen is redrawn after each batch of inputs.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{self, Event as TermEvent};
use mask_protocol::{AgentFrame, CounterState, Event, ReadRef};

use crate::app::{App, BuyerRef, Counter, DemoAction, Input, Intent};
use crate::client::AgentClient;
use crate::i18n::Lang;
use crate::ui;

/// How often the screen is redrawn without input (status bar clock, reconnects).
const IDLE_REDRAW: Duration = Duration::from_secs(1);
/// How long the key thread waits for a key before checking whether to stop.
const KEY_POLL: Duration = Duration::from_millis(100);

/// Demo hooks the loop calls for demo keys (implemented by the `mask-demo` binary).
pub trait DemoHooks {
    /// Performs `action`; reports its outcome later as `Input::Demo` on `inputs`.
    fn act(&mut self, action: DemoAction, inputs: Sender<Input>);
}

/// What the loop needs.
pub struct RunOptions {
    /// Display language.
    pub lang: Lang,
    /// The agent's socket (or pipe).
    pub endpoint: PathBuf,
    /// Demo hooks (`mask-demo`), if any.
    pub demo: Option<Box<dyn DemoHooks>>,
    /// Timing trace file for the benchmark (`MASK_TERMINAL_TRACE`).
    pub trace: Option<PathBuf>,
}

/// Errors of the terminal loop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The terminal could not be set up or drawn.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// The process exit status for the outcome of [`run`], printing a failure in `lang` first: how
/// `mask-terminal` and `mask-demo` both end.
pub fn exit_status(lang: Lang, result: Result<(), RunError>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", crate::i18n::run_error(lang, &e));
            std::process::ExitCode::from(mask_cli::exit::FAILURE)
        }
    }
}

/// Runs the counter screen until the user quits or a termination signal arrives.
pub fn run(mut opts: RunOptions) -> Result<(), RunError> {
    let (tx, rx) = mpsc::channel();
    let client = AgentClient::spawn(opts.endpoint.clone(), tx.clone())?;
    let stop = Arc::new(AtomicBool::new(false));
    let keys = spawn_key_reader(tx.clone(), stop.clone())?;
    let _signals = signals::spawn(tx.clone());
    let mut tracer = Tracer::open(opts.trace.as_ref());

    let mut terminal = ratatui::init();
    let mut app = App::new(opts.demo.is_some());
    let result = event_loop(
        &mut terminal,
        &mut app,
        &rx,
        &tx,
        &client,
        &mut opts,
        &mut tracer,
    );
    ratatui::restore();
    stop.store(true, Ordering::SeqCst);
    // Not joined: when the terminal is gone (a closed window, tmux kill-session) crossterm's
    // poll spins on the dead tty and never returns, and joining it would keep the demo from
    // stopping what it started. The thread ends with the process.
    drop(keys);
    drop(client);
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    rx: &Receiver<Input>,
    tx: &Sender<Input>,
    client: &AgentClient,
    opts: &mut RunOptions,
    tracer: &mut Tracer,
) -> Result<(), RunError> {
    loop {
        terminal.draw(|f| ui::draw(f, app, opts.lang))?;
        tracer.drawn(app);
        let first = match rx.recv_timeout(IDLE_REDRAW) {
            Ok(input) => input,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        // Apply everything already waiting before drawing again.
        for input in std::iter::once(first).chain(rx.try_iter()) {
            tracer.received(&input);
            for intent in app.handle(input) {
                match intent {
                    Intent::Send(request) => client.send(request),
                    Intent::Quit => return Ok(()),
                    Intent::Demo(action) => {
                        if let Some(demo) = opts.demo.as_mut() {
                            demo.act(action, tx.clone());
                        }
                    }
                }
            }
            if app.quit {
                return Ok(());
            }
        }
    }
}

fn spawn_key_reader(tx: Sender<Input>, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("keys".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match event::poll(KEY_POLL) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(_) => return,
                }
                let input = match event::read() {
                    Ok(TermEvent::Key(key)) => Input::Key(key),
                    Ok(TermEvent::Resize(..)) => Input::Redraw,
                    Ok(_) => continue,
                    Err(_) => return,
                };
                if tx.send(input).is_err() {
                    return;
                }
            }
        })
}

/// Termination signals (SIGTERM, SIGHUP from a closed terminal, SIGINT) end the loop the same
/// way `q` does, so the demo's guards stop everything it started. A second signal exits at once
/// (with the handlers installed, the default action is gone, and a stuck shutdown must still be
/// stoppable).
mod signals {
    use std::sync::mpsc::Sender;

    use crate::app::Input;

    #[cfg(unix)]
    pub fn spawn(tx: Sender<Input>) -> Option<std::thread::JoinHandle<()>> {
        use tokio::signal::unix::{SignalKind, signal};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let (Ok(mut term), Ok(mut hup), Ok(mut int)) = (
                        signal(SignalKind::terminate()),
                        signal(SignalKind::hangup()),
                        signal(SignalKind::interrupt()),
                    ) else {
                        return;
                    };
                    let mut first = true;
                    loop {
                        tokio::select! {
                            _ = term.recv() => {}
                            _ = hup.recv() => {}
                            _ = int.recv() => {}
                        }
                        if !first {
                            ratatui::restore();
                            std::process::exit(130);
                        }
                        first = false;
                        let _ = tx.send(Input::Terminate);
                    }
                });
            })
            .ok()
    }

    #[cfg(not(unix))]
    pub fn spawn(tx: Sender<Input>) -> Option<std::thread::JoinHandle<()>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                runtime.block_on(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        let _ = tx.send(Input::Terminate);
                    }
                });
            })
            .ok()
    }
}

/// Writes `event <read> <unix-ns>` when the agent's buyer event arrives and `drawn <read>
/// <unix-ns>` once the frame showing that buyer has been written to the terminal, for the
/// insert → on-screen benchmark. Off unless `MASK_TERMINAL_TRACE` names a file.
struct Tracer {
    file: Option<File>,
    last_drawn: Option<ReadRef>,
}

impl Tracer {
    fn open(path: Option<&PathBuf>) -> Tracer {
        let file = path.and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        Tracer {
            file,
            last_drawn: None,
        }
    }

    fn write(&mut self, what: &str, read: ReadRef) {
        if let Some(f) = &mut self.file {
            let ns = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let _ = writeln!(f, "{what} {} {ns}", read.0);
        }
    }

    fn received(&mut self, input: &Input) {
        if let Input::Frame(frame) = input
            && let AgentFrame::Event(Event::Counter(CounterState::Buyer { read, .. })) = &**frame
        {
            self.write("event", *read);
        }
    }

    fn drawn(&mut self, app: &App) {
        if let Counter::Buyer {
            who: BuyerRef::Card(read),
            ..
        } = &app.counter
            && self.last_drawn != Some(*read)
        {
            self.last_drawn = Some(*read);
            self.write("drawn", *read);
        }
    }
}
