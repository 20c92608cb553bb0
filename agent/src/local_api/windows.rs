//! Windows named pipe endpoint. Remote (SMB) clients are rejected; the pipe gets the default
//! security of a pipe created by the service account (full control for SYSTEM, Administrators
//! and the owner; read-only for others, which cannot complete the handshake).

use std::path::Path;
use std::sync::Arc;

use tokio::net::windows::named_pipe::{NamedPipeServer, ServerOptions};
use tokio_util::sync::CancellationToken;

use super::{ListenError, serve_connection};
use crate::core::Core;

pub(super) struct Listener {
    name: String,
    first: NamedPipeServer,
}

fn create(name: &str, first: bool) -> std::io::Result<NamedPipeServer> {
    ServerOptions::new()
        .first_pipe_instance(first)
        .reject_remote_clients(true)
        .create(name)
}

impl Listener {
    pub(super) fn bind(endpoint: &Path) -> Result<Listener, ListenError> {
        let name = endpoint.display().to_string();
        let first = create(&name, true).map_err(|source| {
            if source.kind() == std::io::ErrorKind::PermissionDenied {
                ListenError::AlreadyRunning(name.clone())
            } else {
                ListenError::Io {
                    path: name.clone(),
                    source,
                }
            }
        })?;
        Ok(Listener { name, first })
    }

    pub(super) async fn serve(self, core: Arc<Core>, shutdown: CancellationToken) {
        let mut server = self.first;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                connected = server.connect() => {
                    if let Err(error) = connected {
                        tracing::warn!(%error, "named pipe connect failed");
                    }
                    let next = match create(&self.name, false) {
                        Ok(next) => next,
                        Err(error) => {
                            tracing::error!(%error, "cannot create the next pipe instance");
                            break;
                        }
                    };
                    let stream = std::mem::replace(&mut server, next);
                    let core = Arc::clone(&core);
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        let (read, write) = tokio::io::split(stream);
                        serve_connection(core, read, write, shutdown).await;
                    });
                }
            }
        }
    }
}
