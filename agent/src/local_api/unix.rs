//! Unix domain socket endpoint.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::{ListenError, serve_connection};
use crate::core::Core;

pub(super) struct Listener {
    listener: UnixListener,
    path: PathBuf,
}

impl Listener {
    pub(super) async fn bind(path: &Path) -> Result<Listener, ListenError> {
        let io = |source| ListenError::Io {
            path: path.display().to_string(),
            source,
        };
        if path.exists() {
            if UnixStream::connect(path).await.is_ok() {
                return Err(ListenError::AlreadyRunning(path.display().to_string()));
            }
            // A socket left by an agent that was killed: nobody answers on it.
            std::fs::remove_file(path).map_err(io)?;
        }
        if let Some(dir) = path.parent() {
            crate::fsutil::create_private_dir(dir).map_err(io)?;
        }
        let listener = UnixListener::bind(path).map_err(io)?;
        crate::fsutil::restrict_file(path).map_err(io)?;
        Ok(Listener {
            listener,
            path: path.to_path_buf(),
        })
    }

    pub(super) async fn serve(self, core: Arc<Core>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let core = Arc::clone(&core);
                        let shutdown = shutdown.clone();
                        tokio::spawn(async move {
                            let (read, write) = stream.into_split();
                            serve_connection(core, read, write, shutdown).await;
                        });
                    }
                    Err(error) => {
                        tracing::warn!(%error, "local API accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                },
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}
