//! HTTPS: rustls (ring provider) with a certificate from files, or a self-signed one generated
//! into the data dir on first start (for demos; agents pin it).

use std::collections::VecDeque;
use std::io::BufReader;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::TlsFiles;

/// TLS setup failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// No certificate / key found in the PEM file.
    #[error("{0}: no certificate or private key in this PEM file")]
    Empty(PathBuf),
    /// Certificate generation failed.
    #[error("self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate / key.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Paths of the self-signed certificate and key in a data dir.
pub fn self_signed_paths(data_dir: &Path) -> TlsFiles {
    TlsFiles {
        cert: data_dir.join("tls").join("server-cert.pem"),
        key: data_dir.join("tls").join("server-key.pem"),
    }
}

/// Returns the data dir's self-signed certificate, generating it (for `localhost`, `127.0.0.1`,
/// `::1`) when missing.
pub fn ensure_self_signed(data_dir: &Path) -> Result<TlsFiles, TlsError> {
    let files = self_signed_paths(data_dir);
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)?;
    mask_private_file::write_atomic(&files.key, certified.signing_key.serialize_pem().as_bytes())
        .map_err(io_err(&files.key))?;
    mask_private_file::write_atomic(&files.cert, certified.cert.pem().as_bytes())
        .map_err(io_err(&files.cert))?;
    Ok(files)
}

/// A rustls server configuration (HTTP/1.1 and h2) from PEM files.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let cert_file = std::fs::File::open(&files.cert).map_err(io_err(&files.cert))?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(cert_file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err(&files.cert))?;
    if certs.is_empty() {
        return Err(TlsError::Empty(files.cert.clone()));
    }
    let key_file = std::fs::File::open(&files.key).map_err(io_err(&files.key))?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(key_file))
        .map_err(io_err(&files.key))?
        .ok_or_else(|| TlsError::Empty(files.key.clone()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Bounds on TLS handshakes, which cost the server CPU and a socket before any request exists.
#[derive(Clone, Copy, Debug)]
pub struct HandshakeLimits {
    /// Handshakes in flight at once. When a new connection finds them all taken, the oldest
    /// one is dropped: stalled clients are the oldest, while a real client's handshake takes
    /// milliseconds, so it finishes before it becomes the oldest (unlike waiting for a free
    /// slot, which would let a few stalled connections keep everyone out).
    pub max_in_flight: usize,
    /// Longest handshake.
    pub timeout: Duration,
}

/// A listener yielding finished TLS connections. Handshakes run in their own tasks (bounded in
/// time and number), so one slow client cannot hold up accepting others.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accept_task: tokio::task::JoinHandle<()>,
}

/// A handshake task, as the accept loop tracks it for eviction.
struct InFlight {
    task: tokio::task::AbortHandle,
    /// Set once the handshake is done; the task may still be handing the connection over.
    done: Arc<AtomicBool>,
}

impl InFlight {
    fn running(&self) -> bool {
        !self.done.load(Ordering::Acquire) && !self.task.is_finished()
    }
}

impl TlsListener {
    /// Wraps a bound TCP listener.
    pub fn with_limits(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
        limits: HandshakeLimits,
    ) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(256);
        let max = limits.max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        let slots = Arc::new(Semaphore::new(max));
        let accept_task = tokio::spawn(async move {
            let mut in_flight: VecDeque<InFlight> = VecDeque::new();
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let slot = match Arc::clone(&slots).try_acquire_owned() {
                    Ok(slot) => slot,
                    Err(_) => {
                        while let Some(oldest) = in_flight.pop_front() {
                            if oldest.running() {
                                tracing::debug!(
                                    "TLS handshakes at their limit; dropping the oldest"
                                );
                                oldest.task.abort();
                                break;
                            }
                        }
                        // The aborted task frees its slot as soon as it is dropped.
                        match Arc::clone(&slots).acquire_owned().await {
                            Ok(slot) => slot,
                            Err(_) => return,
                        }
                    }
                };
                if in_flight.len() >= 2 * max {
                    in_flight.retain(InFlight::running);
                }
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                let done = Arc::new(AtomicBool::new(false));
                let task_done = Arc::clone(&done);
                let task = tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(limits.timeout, acceptor.accept(stream)).await;
                    task_done.store(true, Ordering::Release);
                    drop(slot);
                    match handshake {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
                in_flight.push_back(InFlight {
                    task: task.abort_handle(),
                    done,
                });
            }
        });
        Ok(Self {
            ready,
            local,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => pair,
            // The accept task only ends when aborted on drop; wait for shutdown.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
