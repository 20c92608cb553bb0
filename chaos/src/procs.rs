//! The real processes of a run: `mask-server-stub` and two `mask-agent run`, each with its own
//! files. Both clocks are test clocks (`--as-of`/`as_of`) that start where the run's clock is,
//! so a restart continues the time instead of going back to the start.

use std::fs::{File, OpenOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::AgentClient;

/// A process that would not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// Spawning or waiting failed.
    #[error("{what}: {source}")]
    Io {
        /// Which step.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// It exited before it was ready.
    #[error("{what} exited early ({status}); see {log}")]
    Exited {
        /// Which process.
        what: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its log file.
        log: String,
    },
    /// It did not become ready in time.
    #[error("{what} not ready within {limit:?}; see {log}")]
    NotReady {
        /// Which process.
        what: String,
        /// The bound.
        limit: Duration,
        /// Its log file.
        log: String,
    },
    /// `token issue` failed.
    #[error("token issue for {site} failed: {message}")]
    Token {
        /// The site.
        site: String,
        /// Its stderr.
        message: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ProcError {
    let what = what.into();
    move |source| ProcError::Io { what, source }
}

/// The run's clock: the test instant `base` plus the real time elapsed since `start`.
#[derive(Clone, Copy, Debug)]
pub struct RunClock {
    /// Where the run's time starts.
    pub base: OffsetDateTime,
    /// When it started.
    pub start: Instant,
}

impl RunClock {
    /// The run's "right" time now.
    pub fn now(&self) -> OffsetDateTime {
        self.base + self.start.elapsed()
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn log_file(path: &Path) -> Result<(File, File), ProcError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(format!("open {}", path.display())))?;
    let err = file
        .try_clone()
        .map_err(io(format!("open {}", path.display())))?;
    Ok((file, err))
}

/// `mask-server-stub` as a child process.
pub struct ServerProc {
    bin: PathBuf,
    /// Where it listens (plain HTTP).
    pub addr: SocketAddr,
    /// Its data dir (SQLite database, buyer-key secret).
    pub data_dir: PathBuf,
    /// `sqlite` or a postgres:// URL.
    pub database: String,
    log: PathBuf,
    child: Option<Child>,
}

impl ServerProc {
    /// Prepares (does not start) a server in `dir`.
    pub fn new(bin_dir: &Path, dir: &Path, database: String) -> Result<ServerProc, ProcError> {
        let data_dir = dir.join("server-data");
        std::fs::create_dir_all(&data_dir).map_err(io("create the server data dir"))?;
        Ok(ServerProc {
            bin: bin_dir.join("mask-server-stub"),
            addr: crate::free_port().map_err(io("bind a free port"))?,
            data_dir,
            database,
            log: dir.join("server.log"),
            child: None,
        })
    }

    /// Issues a token for `site` (before or while the server runs).
    pub fn issue_token(&self, site: &str) -> Result<String, ProcError> {
        let out = Command::new(&self.bin)
            .args([
                "token",
                "issue",
                "--site",
                site,
                "--database",
                &self.database,
            ])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("LANG", "en_US.UTF-8")
            .output()
            .map_err(io(format!("run {}", self.bin.display())))?;
        let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || token.is_empty() {
            return Err(ProcError::Token {
                site: site.to_owned(),
                message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(token)
    }

    /// Starts it with its clock at `now` and waits until `/v1/health` answers.
    pub async fn start(&mut self, now: OffsetDateTime) -> Result<(), ProcError> {
        let (out, err) = log_file(&self.log)?;
        let child = Command::new(&self.bin)
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--plain-http")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--as-of", &rfc3339(now), "--rate-limit", "0"])
            // The suite sells to a pool of buyers far faster than a counter serves them.
            .args(["--eligibility-ids-per-minute", "0"])
            .args(["--database", &self.database])
            .env("LANG", "en_US.UTF-8")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(io(format!("start {}", self.bin.display())))?;
        self.child = Some(child);
        let limit = Duration::from_secs(30);
        let deadline = Instant::now() + limit;
        loop {
            if health(self.addr).await {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(ProcError::Exited {
                    what: "mask-server-stub".into(),
                    status,
                    log: self.log.display().to_string(),
                });
            }
            if Instant::now() > deadline {
                return Err(ProcError::NotReady {
                    what: "mask-server-stub".into(),
                    limit,
                    log: self.log.display().to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// kill -9 (no-op when not running).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it runs.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One GET /v1/health; true on a 200.
async fn health(addr: SocketAddr) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(b"GET /v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200"))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// `mask-agent run` as a child process.
pub struct AgentProc {
    bin: PathBuf,
    /// For messages: "agent-1", "agent-2".
    pub name: String,
    /// Its pharmacy.
    pub site: String,
    token: String,
    server_url: String,
    config_path: PathBuf,
    /// Its data dir (journal, socket, logs).
    pub data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// Its clock's offset from the run's clock, in seconds, as of its last start.
    pub skew_s: i64,
}

impl AgentProc {
    /// Prepares (does not start) an agent in `dir`.
    pub fn new(
        bin_dir: &Path,
        dir: &Path,
        name: &str,
        site: &str,
        token: String,
        server_url: String,
    ) -> Result<AgentProc, ProcError> {
        let base = dir.join(name);
        std::fs::create_dir_all(&base).map_err(io("create the agent dir"))?;
        Ok(AgentProc {
            bin: bin_dir.join("mask-agent"),
            name: name.to_owned(),
            site: site.to_owned(),
            token,
            server_url,
            config_path: base.join("agent.toml"),
            data_dir: base.join("data"),
            log: base.join("agent.log"),
            child: None,
            skew_s: 0,
        })
    }

    /// The local API socket.
    pub fn socket(&self) -> PathBuf {
        self.data_dir.join(mask_protocol::SOCKET_FILE_NAME)
    }

    /// The journal file.
    pub fn journal_path(&self) -> PathBuf {
        self.data_dir.join("journal.sqlite3")
    }

    /// Writes its config with the clock at `as_of`, starts it and waits for its local API.
    pub async fn start(&mut self, as_of: OffsetDateTime) -> Result<(), ProcError> {
        // Selling is by typed ID only; a reader filter no reader matches keeps the agents off
        // the shared virtual readers that the card tests use.
        let config = format!(
            "site_code = \"{}\"\nserver_url = \"{}\"\ntoken = \"{}\"\ndata_dir = \"{}\"\n\
             as_of = \"{}\"\nlanguage = \"en\"\nreader_filter = \"no reader: mask-chaos sells by typed ID\"\n\
             socket = \"{}\"\n",
            self.site,
            self.server_url,
            self.token,
            self.data_dir.display(),
            rfc3339(as_of),
            self.socket().display()
        );
        std::fs::write(&self.config_path, config).map_err(io("write the agent config"))?;
        let (out, err) = log_file(&self.log)?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--config").arg(&self.config_path).arg("run");
        for (key, _) in std::env::vars() {
            if key.starts_with("MASK_AGENT_") {
                cmd.env_remove(key);
            }
        }
        let child = cmd
            .env("LANG", "en_US.UTF-8")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(io(format!("start {}", self.bin.display())))?;
        self.child = Some(child);
        let limit = Duration::from_secs(30);
        let deadline = Instant::now() + limit;
        loop {
            if AgentClient::connect(&self.socket(), Duration::from_secs(2))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(ProcError::Exited {
                    what: self.name.clone(),
                    status,
                    log: self.log.display().to_string(),
                });
            }
            if Instant::now() > deadline {
                return Err(ProcError::NotReady {
                    what: self.name.clone(),
                    limit,
                    log: self.log.display().to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// kill -9 (no-op when not running).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it runs.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        self.kill9();
    }
}
