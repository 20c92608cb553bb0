//! Where card events come from: the PC/SC reader watcher (`nhi_card::Watcher`), or a feed that
//! tests (and tools) push events into, e.g. identities read in-process from the fixtures'
//! `FixtureTransport`.

use std::sync::Arc;
use std::time::Duration;

use nhi_card::{CardEvent, Watcher, WatcherConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::core::Core;

/// The source of card events for `run`.
pub enum CardSource {
    /// PC/SC readers through the watcher.
    Pcsc(WatcherConfig),
    /// Events pushed through a [`CardFeed`].
    Feed(mpsc::UnboundedReceiver<CardEvent>),
    /// No cards (manual entry only).
    None,
}

impl CardSource {
    /// PC/SC with the configured reader filter.
    pub fn pcsc(reader_filter: Option<String>) -> CardSource {
        CardSource::Pcsc(WatcherConfig {
            reader_filter,
            ..WatcherConfig::default()
        })
    }

    /// An injectable source and the handle to feed it.
    pub fn feed() -> (CardFeed, CardSource) {
        let (tx, rx) = mpsc::unbounded_channel();
        (CardFeed(tx), CardSource::Feed(rx))
    }
}

/// Pushes card events into a running agent.
#[derive(Clone, Debug)]
pub struct CardFeed(mpsc::UnboundedSender<CardEvent>);

impl CardFeed {
    /// Delivers one event; false when the agent has stopped.
    pub fn send(&self, event: CardEvent) -> bool {
        self.0.send(event).is_ok()
    }
}

/// Delivers card events to the core until `shutdown`.
pub async fn run(core: Arc<Core>, source: CardSource, shutdown: CancellationToken) {
    let mut events = match source {
        CardSource::None => return,
        CardSource::Feed(rx) => rx,
        CardSource::Pcsc(config) => match start_watcher(config, shutdown.clone()) {
            Some(rx) => rx,
            None => return,
        },
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            event = events.recv() => match event {
                Some(event) => core.on_card_event(event).await,
                None => return,
            },
        }
    }
}

/// Starts the watcher and a bridge thread from its std channel into tokio.
fn start_watcher(
    config: WatcherConfig,
    shutdown: CancellationToken,
) -> Option<mpsc::UnboundedReceiver<CardEvent>> {
    let (std_tx, std_rx) = std::sync::mpsc::channel();
    let watcher = match Watcher::spawn(config, std_tx) {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::error!(%error, "cannot start the reader watcher; manual entry only");
            return None;
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let bridge = std::thread::Builder::new()
        .name("card-bridge".into())
        .spawn(move || {
            // Owns the watcher: it stops (promptly) when this thread ends on shutdown.
            let watcher = watcher;
            while !shutdown.is_cancelled() {
                match std_rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(event) => {
                        if tx.send(event).is_err() {
                            break;
                        }
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            watcher.shutdown();
        });
    if let Err(error) = bridge {
        tracing::error!(%error, "cannot start the card event bridge");
        return None;
    }
    Some(rx)
}
