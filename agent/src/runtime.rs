//! `mask-agent run`: opens the journal, starts the local API, the sync loop, the card source and
//! the retention purge, and stops all of them cleanly when the shutdown token is cancelled (Ctrl-C,
//! SIGTERM, or a Windows service Stop). Every sale is committed when it happens, so stopping
//! has nothing to flush but the open SQLite connection, which is closed last.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use mask_api::Clock;

use crate::cards::{self, CardSource};
use crate::config::{Config, ConfigError};
use crate::core::{Core, CoreSettings};
use crate::journal::{Journal, JournalError};
use crate::local_api::{ListenError, LocalListener};
use crate::server::{ServerClient, ServerError};

/// How often synced personal data older than the retention is purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// How soon the purge looks again while the time is not yet confirmed by the server.
const UNVERIFIED_RETRY: Duration = Duration::from_secs(30);

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Configuration incomplete or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The journal could not be opened.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The server client could not be built (CA file, URL).
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The local API could not listen.
    #[error(transparent)]
    Listen(#[from] ListenError),
}

/// A started agent: its core (for in-process tests) and the task that ends after shutdown.
pub struct Started {
    /// The shared state.
    pub core: Arc<Core>,
    /// Resolves when every task has stopped.
    pub done: tokio::task::JoinHandle<()>,
}

/// Starts the agent's tasks; they run until `shutdown` is cancelled.
pub async fn start(
    config: &Config,
    cards: CardSource,
    shutdown: CancellationToken,
) -> Result<Started, RunError> {
    let site_code = config.require_site_code()?.to_owned();
    let server_url = config.require_server_url()?;
    let token = config.require_token()?;
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let server = ServerClient::new(server_url, token, config.ca_cert.value.as_deref())?;
    // Before the journal: of two agents started at once, the one that does not get the local
    // API's lock stops here, without touching the journal.
    let endpoint = config.local_endpoint();
    let listener = LocalListener::bind(&endpoint, &config.local_api_group.value).await?;
    let journal_path = config.journal_path();
    let journal = tokio::task::spawn_blocking(move || Journal::open(&journal_path))
        .await
        .map_err(|e| JournalError::Io {
            path: config.journal_path(),
            source: std::io::Error::other(e),
        })??;
    let settings = CoreSettings {
        site_code: site_code.clone(),
        language: config.language.value,
        clock: Clock::from_as_of(config.as_of.value),
    };
    let core = Core::new(settings, journal, Some(server));
    tracing::info!(site = %site_code, endpoint = %endpoint.display(), server = %server_url, "mask-agent started");

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(listener.serve(Arc::clone(&core), shutdown.clone()));
    tasks.spawn(crate::sync::run(Arc::clone(&core), shutdown.clone()));
    tasks.spawn(crate::probe::run(Arc::clone(&core), shutdown.clone()));
    tasks.spawn(cards::run(Arc::clone(&core), cards, shutdown.clone()));
    tasks.spawn(purge_loop(
        Arc::clone(&core),
        config.retention_days.value,
        shutdown.clone(),
    ));
    let done = tokio::spawn(async move {
        while let Some(result) = tasks.join_next().await {
            if let Err(error) = result {
                tracing::error!(%error, "agent task failed");
            }
        }
        tracing::info!("mask-agent stopped");
    });
    Ok(Started { core, done })
}

/// Runs the agent until `shutdown` is cancelled, then waits for every task to stop.
pub async fn run(
    config: &Config,
    cards: CardSource,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let started = start(config, cards, shutdown).await?;
    let _ = started.done.await;
    Ok(())
}

async fn purge_loop(core: Arc<Core>, retention_days: u32, shutdown: CancellationToken) {
    loop {
        // Purging on a wrong clock forgets buyers the offline quota check still needs (a PC
        // clock set a month ahead while the agent was down would purge everything): only on a
        // time the server has confirmed since start.
        if !core.time_verified() {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(UNVERIFIED_RETRY) => {}
            }
            continue;
        }
        let now = core.now();
        let before = now - time::Duration::days(i64::from(retention_days));
        match core
            .journal(move |j| j.purge_personal_data(before, now))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                sales = n,
                retention_days,
                "purged personal data of synced sales"
            ),
            Err(error) => tracing::warn!(%error, "retention purge failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PURGE_INTERVAL) => {}
        }
    }
}
