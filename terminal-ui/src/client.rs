//! The agent's local API client: a background thread that connects (and reconnects) to the
//! agent's Unix socket (or named pipe on Windows), does the `Hello` handshake, forwards every
//! frame from the agent to the UI as an [`Input`] and sends the UI's requests.
//!
//! Why a thread with its own small tokio runtime: the UI loop is synchronous (crossterm events,
//! ratatui drawing); the socket needs concurrent reading and writing, which tokio's split halves
//! give on both Unix sockets and Windows named pipes.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::Duration;

use mask_protocol::{
    AccessDenied, AgentFrame, ClientFrame, ClientHello, PROTOCOL_VERSION, Request, decode_frame,
    encode_frame,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};

use crate::app::Input;

/// How long the handshake may take before the connection is dropped and retried.
const HELLO_TIMEOUT: Duration = Duration::from_secs(3);
/// Reconnect delays: fast at first (the agent may be starting), then at most every 2 s.
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Errors of one connection attempt (shown as "not connected", except a refused account).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Connecting or reading/writing failed.
    #[error("agent connection: {0}")]
    Io(#[from] std::io::Error),
    /// The agent sent something that is not a protocol frame.
    #[error("agent sent an invalid frame: {0}")]
    Frame(#[from] mask_protocol::FrameError),
    /// The agent refused our protocol version.
    #[error("agent refused protocol version {PROTOCOL_VERSION} (it speaks {0})")]
    Refused(u32),
    /// This account may not use the local API (socket permissions or the agent's peer check).
    #[error("{}", .0.en())]
    AccessDenied(AccessDenied),
    /// Windows: the pipe's server is not the installed agent; nothing was sent to it.
    #[error(transparent)]
    NotTheAgent(#[from] mask_pipe_guard::NotTheAgent),
    /// The agent closed the connection or did not answer the hello in time.
    #[error("agent closed the connection")]
    Closed,
}

/// Handle to the client thread. Dropping it stops the thread.
pub struct AgentClient {
    requests: mpsc::UnboundedSender<Request>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl AgentClient {
    /// Starts the client thread for the agent at `endpoint`; inputs go to `inputs`.
    pub fn spawn(endpoint: PathBuf, inputs: Sender<Input>) -> std::io::Result<AgentClient> {
        let (requests, rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("agent-client".into())
            .spawn(move || runtime.block_on(connection_loop(endpoint, inputs, rx, stop_rx)))?;
        Ok(AgentClient {
            requests,
            stop,
            thread: Some(thread),
        })
    }

    /// Queues a request (dropped if the connection is down: the app fails it on `Disconnected`).
    pub fn send(&self, request: Request) {
        let _ = self.requests.send(request);
    }
}

impl Drop for AgentClient {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn connection_loop(
    endpoint: PathBuf,
    inputs: Sender<Input>,
    mut requests: mpsc::UnboundedReceiver<Request>,
    mut stop: watch::Receiver<bool>,
) {
    let mut delay = RETRY_MIN;
    loop {
        // Requests made while disconnected were already failed by the app.
        while requests.try_recv().is_ok() {}
        let attempt = async {
            let stream = connect(&endpoint).await?;
            serve(stream, &inputs, &mut requests).await
        };
        let result = tokio::select! {
            r = attempt => r,
            _ = stop.changed() => return,
        };
        match result {
            // A session that got as far as the handshake resets the backoff.
            Ok(true) => {
                delay = RETRY_MIN;
                if inputs.send(Input::Disconnected).is_err() {
                    return;
                }
            }
            Err(ClientError::AccessDenied(denied)) => {
                // Stays on screen until IT adds the account and it logs in again; retried
                // slowly meanwhile.
                delay = RETRY_MAX;
                if inputs.send(Input::AccessDenied(denied)).is_err() {
                    return;
                }
            }
            // Someone else holds the agent's pipe: say who on screen, keep retrying (the real
            // agent may take the name back once that program is stopped).
            Err(ClientError::NotTheAgent(impostor)) => {
                delay = RETRY_MAX;
                if inputs.send(Input::NotTheAgent(impostor)).is_err() {
                    return;
                }
            }
            Ok(false) | Err(_) => delay = (delay * 2).min(RETRY_MAX),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Runs one connection: handshake, then frames both ways until it closes. Returns whether the
/// handshake succeeded (so the UI was told `Connected`).
async fn serve<S>(
    stream: S,
    inputs: &Sender<Input>,
    requests: &mut mpsc::UnboundedReceiver<Request>,
) -> Result<bool, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read).lines();
    let hello = ClientFrame::Hello(ClientHello {
        protocol_version: PROTOCOL_VERSION,
        client: format!("mask-terminal {}", env!("CARGO_PKG_VERSION")),
    });
    write.write_all(encode_frame(&hello)?.as_bytes()).await?;
    let answer = tokio::time::timeout(HELLO_TIMEOUT, lines.next_line())
        .await
        .map_err(|_| ClientError::Closed)??
        .ok_or(ClientError::Closed)?;
    match decode_frame::<AgentFrame>(&answer)? {
        AgentFrame::Hello(h) if h.accepted => {
            if inputs.send(Input::Connected(h)).is_err() {
                return Ok(true);
            }
        }
        AgentFrame::Hello(h) => {
            return Err(match &h.refused {
                Some(refusal) => ClientError::AccessDenied(AccessDenied::from_refusal(refusal)),
                None => ClientError::Refused(h.protocol_version),
            });
        }
        _ => return Err(ClientError::Closed),
    }
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Some(line) = line.ok().flatten() else { return Ok(true) };
                match decode_frame::<AgentFrame>(&line) {
                    Ok(frame) => {
                        if inputs.send(Input::Frame(Box::new(frame))).is_err() {
                            return Ok(true);
                        }
                    }
                    // An unreadable frame is skipped: newer agents only add optional things.
                    Err(_) => continue,
                }
            }
            req = requests.recv() => {
                let Some(req) = req else { return Ok(true) };
                let line = encode_frame(&ClientFrame::Request(req))?;
                if write.write_all(line.as_bytes()).await.is_err() {
                    return Ok(true);
                }
            }
        }
    }
}

#[cfg(unix)]
async fn connect(endpoint: &Path) -> Result<tokio::net::UnixStream, ClientError> {
    tokio::net::UnixStream::connect(endpoint)
        .await
        .map_err(|e| connect_error(endpoint, e))
}

/// EACCES at connect: the socket's permissions keep this account out.
#[cfg(unix)]
fn connect_error(endpoint: &Path, error: std::io::Error) -> ClientError {
    if error.kind() == std::io::ErrorKind::PermissionDenied {
        ClientError::AccessDenied(AccessDenied::at_socket(endpoint))
    } else {
        ClientError::Io(error)
    }
}

/// Opens the agent's pipe and, before anything is sent, checks that its server is the installed
/// agent: the running MaskAgent service, or the service's program, or failing that
/// `mask-agent.exe` beside this program (see `mask_pipe_guard::server_check`).
#[cfg(windows)]
async fn connect(
    endpoint: &Path,
) -> Result<tokio::net::windows::named_pipe::NamedPipeClient, ClientError> {
    let pipe = tokio::net::windows::named_pipe::ClientOptions::new().open(endpoint)?;
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("mask-agent.exe")));
    mask_pipe_guard::verify_pipe_server(&pipe, beside.as_deref())?;
    Ok(pipe)
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mask_protocol::{AccessRefusal, AgentHello};

    /// An agent that refuses every peer at the handshake, as the real one does for an account
    /// outside its access group: the screen gets `AccessDenied` naming the agent's group.
    #[test]
    fn a_refusal_at_the_handshake_becomes_access_denied_with_the_agents_group() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let agent = std::thread::spawn(move || {
            use std::io::{BufRead, Write};
            let (stream, _) = listener.accept().unwrap();
            let mut hello = String::new();
            std::io::BufReader::new(&stream)
                .read_line(&mut hello)
                .unwrap();
            let refusal = AgentFrame::Hello(AgentHello {
                protocol_version: PROTOCOL_VERSION,
                accepted: false,
                agent_version: "test".into(),
                site_code: String::new(),
                refused: Some(AccessRefusal::NotInGroup {
                    group: "pharmacists".into(),
                }),
            });
            (&stream)
                .write_all(encode_frame(&refusal).unwrap().as_bytes())
                .unwrap();
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let client = AgentClient::spawn(socket, tx).unwrap();
        let input = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(
            input,
            Input::AccessDenied(AccessDenied {
                group: "pharmacists".into()
            })
        );
        drop(client);
        agent.join().unwrap();
    }
}
