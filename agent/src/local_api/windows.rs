//! Windows named pipe endpoint.
//!
//! Every instance is created with an explicit, protected DACL (see `mask_pipe_guard::access`):
//! SYSTEM, Administrators and the agent's own account full control, the local group
//! "Mask Counter" read/write, nobody else. Without that group the pipe is admins-only and the
//! agent logs how to create it. The first instance is created with FILE_FLAG_FIRST_PIPE_INSTANCE,
//! so when another process already holds the name (another agent, or a program squatting on it)
//! the agent stops with a message naming that process instead of serving behind it. Remote (SMB)
//! clients are rejected. Clients check the server's process in turn (`verify_pipe_server`).

use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;

use mask_pipe_guard::{PipeAccess, ServerOptionsExt};
use tokio::net::windows::named_pipe::{NamedPipeServer, ServerOptions};
use tokio_util::sync::CancellationToken;

use super::{ListenError, serve_connection};
use crate::core::Core;

pub(super) struct Listener {
    name: String,
    access: PipeAccess,
    first: NamedPipeServer,
}

fn create(name: &str, first: bool, access: &PipeAccess) -> std::io::Result<NamedPipeServer> {
    ServerOptions::new()
        .first_pipe_instance(first)
        .reject_remote_clients(true)
        .create_guarded(OsStr::new(name), access)
}

impl Listener {
    pub(super) fn bind(endpoint: &Path) -> Result<Listener, ListenError> {
        let name = endpoint.display().to_string();
        let access = mask_pipe_guard::lookup_pipe_access();
        match &access {
            PipeAccess::CounterGroup(sid) => tracing::info!(
                group = mask_pipe_guard::COUNTER_GROUP,
                %sid,
                "local API: SYSTEM, Administrators and the counter group may connect"
            ),
            PipeAccess::AdminsOnly(reason) => tracing::warn!(
                "local API: only Administrators can use the counter screen: {reason}"
            ),
        }
        let first = create(&name, true, &access).map_err(|source| {
            if source.kind() == std::io::ErrorKind::PermissionDenied {
                ListenError::PipeTaken {
                    holder: mask_pipe_guard::describe_pipe_holder(OsStr::new(&name)),
                    name: name.clone(),
                }
            } else {
                ListenError::Io {
                    path: name.clone(),
                    source,
                }
            }
        })?;
        Ok(Listener {
            name,
            access,
            first,
        })
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
                    let next = match create(&self.name, false, &self.access) {
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
