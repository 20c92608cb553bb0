//! Unix domain socket endpoint.
//!
//! - One agent per socket: an exclusive advisory lock on `<socket>.lock`, held for the agent's
//!   lifetime, decides which of two agents started at once serves. Only the lock holder removes
//!   a socket (a stale one at start, its own at stop), so a loser never deletes the winner's.
//! - No moment more open than intended: the socket is bound in a private staging directory
//!   (0700), given its group and mode there, and only then renamed into place.
//! - Mode 0660 with the access group when the group exists, else 0600 (the agent's account and
//!   root only) with a warning saying how to create the group.
//! - Every accepted peer's credentials are checked ([`super::access`]); a refused peer gets the
//!   handshake's refusal and the log gets its uid and pid (never a user name).

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::access::{Access, Peer, lookup_group};
use super::{ListenError, refuse_connection, serve_connection};
use crate::core::Core;

pub(super) struct Listener {
    listener: UnixListener,
    path: PathBuf,
    access: Arc<Access>,
    /// Held (locked) while the agent runs; never deleted, so every agent locks the same inode.
    _lock: File,
}

/// `<socket>.lock` beside the socket.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// The staging directory `.<socket>.bind` beside the socket (used by the lock holder only).
fn staging_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".bind");
    path.with_file_name(name)
}

impl Listener {
    pub(super) async fn bind(path: &Path, group: &str) -> Result<Listener, ListenError> {
        let io = |source| ListenError::Io {
            path: path.display().to_string(),
            source,
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        prepare_dir(dir).map_err(|source| ListenError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let lock = take_lock(path)?;
        if std::fs::symlink_metadata(path).is_ok() {
            // An agent from before the lock file would not hold it: ask the socket too.
            if UnixStream::connect(path).await.is_ok() {
                return Err(ListenError::AlreadyRunning(path.display().to_string()));
            }
            // Left by an agent that was killed; we hold the lock, so nobody else serves it.
            std::fs::remove_file(path).map_err(io)?;
        }
        let agent_uid = rustix::process::getuid().as_raw();
        let (listener, group_gid) = bind_staged(path, group).map_err(io)?;
        let access = Access {
            agent_uid,
            group_gid,
            group_name: group.to_owned(),
        };
        Ok(Listener {
            listener,
            path: path.to_path_buf(),
            access: Arc::new(access),
            _lock: lock,
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
                        let access = Arc::clone(&self.access);
                        tokio::spawn(async move {
                            let decision = check_peer(&stream, access).await;
                            let (read, write) = stream.into_split();
                            match decision {
                                Ok(()) => serve_connection(core, read, write, shutdown).await,
                                Err(refusal) => refuse_connection(read, write, refusal).await,
                            }
                        });
                    }
                    Err(error) => {
                        tracing::warn!(%error, "local API accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                },
            }
        }
        // Still the lock holder: the socket at this path is ours.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Creates the socket's directory when missing (0755: members reach the socket, only the
/// agent's account adds entries; an existing one keeps its mode) and refuses one where others
/// may create or replace entries.
fn prepare_dir(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        DirBuilder::new().recursive(true).mode(0o755).create(dir)?;
        // The agent runs with umask 077: set the mode explicitly.
        std::fs::set_permissions(dir, Permissions::from_mode(0o755))?;
    }
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the socket's directory is writable by others (mode {:o}): anyone could replace \
                 the socket; use a directory only the agent's account may write",
                mode & 0o7777
            ),
        ));
    }
    Ok(())
}

fn take_lock(path: &Path) -> Result<File, ListenError> {
    let lock_path = lock_path(path);
    let io = |source| ListenError::Io {
        path: lock_path.display().to_string(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(ListenError::AlreadyRunning(path.display().to_string()))
        }
        Err(std::fs::TryLockError::Error(source)) => Err(io(source)),
    }
}

/// Binds in the private staging directory, sets group and mode, renames into place.
fn bind_staged(path: &Path, group: &str) -> io::Result<(UnixListener, Option<u32>)> {
    let staging = staging_path(path);
    match std::fs::remove_dir_all(&staging) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    DirBuilder::new().mode(0o700).create(&staging)?;
    let result = bind_in(&staging, path, group);
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn bind_in(staging: &Path, path: &Path, group: &str) -> io::Result<(UnixListener, Option<u32>)> {
    let staged = staging.join(path.file_name().unwrap_or_default());
    let listener = UnixListener::bind(&staged)?;
    let group_gid = give_group(&staged, group);
    let mode = if group_gid.is_some() { 0o660 } else { 0o600 };
    std::fs::set_permissions(&staged, Permissions::from_mode(mode))?;
    std::fs::rename(&staged, path)?;
    Ok((listener, group_gid))
}

/// Gives the socket the access group; None (and a warning saying what to do) when that is not
/// possible, so the socket stays 0600.
fn give_group(socket: &Path, group: &str) -> Option<u32> {
    match lookup_group(group) {
        Ok(Some(gid)) => match std::os::unix::fs::chown(socket, None, Some(gid)) {
            Ok(()) => Some(gid),
            Err(error) => {
                tracing::warn!(
                    %error, group, gid,
                    "the local API socket cannot be given the access group (the agent's account \
                     must be a member: usermod -aG {group} <service account>); only this account \
                     and root can use the local API"
                );
                None
            }
        },
        Ok(None) => {
            tracing::warn!(
                group,
                "the local API group does not exist; only this account and root can use the \
                 local API. Create it: sudo groupadd --system {group} && sudo usermod -aG {group} \
                 <account> (macOS: sudo dseditgroup -o create -r {group} {group})"
            );
            None
        }
        Err(error) => {
            tracing::warn!(%error, group, "cannot look up the local API group; the socket stays 0600");
            None
        }
    }
}

/// Reads the peer's credentials and applies the access rule (refusal logged with uid and pid).
async fn check_peer(
    stream: &UnixStream,
    access: Arc<Access>,
) -> Result<(), mask_protocol::AccessRefusal> {
    let refused = || mask_protocol::AccessRefusal::NotInGroup {
        group: access.group_name.clone(),
    };
    let cred = match stream.peer_cred() {
        Ok(cred) => cred,
        Err(error) => {
            tracing::warn!(%error, "local API: cannot read the peer's credentials; refused");
            return Err(refused());
        }
    };
    let peer = Peer {
        uid: cred.uid(),
        gid: cred.gid(),
        pid: cred.pid(),
    };
    let decider = Arc::clone(&access);
    let decision = tokio::task::spawn_blocking(move || decider.decide(&peer))
        .await
        .unwrap_or_else(|_| Err(refused()));
    match &decision {
        Ok(()) => tracing::debug!(uid = peer.uid, pid = ?peer.pid, "local API peer accepted"),
        Err(_) => tracing::warn!(
            uid = peer.uid,
            pid = ?peer.pid,
            group = %access.group_name,
            "local API: refused a peer outside the access group"
        ),
    }
    decision
}
