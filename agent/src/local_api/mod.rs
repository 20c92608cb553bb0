//! The local API: `mask-protocol` frames over a Unix domain socket (0660, group
//! `local_api_group`, peers checked: see `unix.rs`) or a Windows named pipe (local clients only).
//! Never TCP. Where it lives: [`mask_protocol::resolve_endpoint`].

#[cfg(unix)]
mod access;
mod client;
mod connection;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

pub use client::{ClientError, LocalClient};
#[cfg(unix)]
pub use connection::refuse_connection;
pub use connection::serve_connection;

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::core::Core;

/// Why the local API could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// Another agent answers on the endpoint.
    #[error("another mask-agent is already listening on {0}")]
    AlreadyRunning(String),
    /// Windows: another process already holds the pipe name (another agent, or a program
    /// squatting on it); the agent does not serve behind it.
    #[error(
        "the named pipe {name} is already held by {}: another mask-agent, or a program squatting \
         on the agent's pipe; stop it (check it is not malware) and start the agent again",
        crate::messages::holder_en(holder.as_ref())
    )]
    PipeTaken {
        name: String,
        /// The process holding it, when it could be found.
        holder: Option<mask_pipe_guard::NotTheAgent>,
    },
    /// The endpoint could not be created.
    #[error("cannot listen on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// A bound local API endpoint, ready to serve.
pub struct LocalListener {
    #[cfg(unix)]
    inner: unix::Listener,
    #[cfg(windows)]
    inner: windows::Listener,
}

impl LocalListener {
    /// Binds the endpoint (refusing when another agent already holds it). On Unix, `group` is
    /// the group whose members may connect (`local_api_group`).
    pub async fn bind(endpoint: &Path, group: &str) -> Result<LocalListener, ListenError> {
        #[cfg(unix)]
        let inner = unix::Listener::bind(endpoint, group).await?;
        #[cfg(windows)]
        let inner = {
            let _ = group;
            windows::Listener::bind(endpoint)?
        };
        Ok(LocalListener { inner })
    }

    /// Serves connections until `shutdown`, each on its own task.
    pub async fn serve(self, core: Arc<Core>, shutdown: CancellationToken) {
        self.inner.serve(core, shutdown).await;
    }
}
