//! The demo system: everything on embedded defaults, on one machine, from one command.
//!
//! Starts, in a private temporary directory:
//! 1. the PC/SC service with the vpcd virtual readers, unless it already runs;
//! 2. `mask-server-stub` (found next to this executable) on plain HTTP, 127.0.0.1, a free port,
//!    with its clock at a Monday morning of March 2020 where the demo buyers may buy;
//! 3. a token for the demo pharmacy (`mask-server-stub token issue`);
//! 4. the link relay between agent and server (the demo's "network cable", see [`crate::proxy`]);
//! 5. `mask-agent --config FILE run` with its clock at the same instant as the server's;
//! 6. the virtual card deck (the fixtures crate's player, in-process, on vpcd port 35963).
//!
//! [`DemoStack`]'s `Drop` stops all of it in reverse order and removes the directory; children
//! also share the demo's process group, so a closed terminal (SIGHUP) reaches them too.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::cards::{self, DemoDeck};
use crate::http;
use crate::procs::ChildGuard;
use crate::proxy::LinkProxy;

/// The demo's clock: Monday 2020-03-09 10:00 in Taiwan. Rules in force (2020-03-05 version):
/// adults 3 and children 5 masks per 7 days; IDs ending odd buy Mon/Wed/Fri, even Tue/Thu/Sat,
/// children exempt. So on this Monday the deck has buyers who may buy and one who may not.
pub const DEMO_AS_OF: &str = "2020-03-09T10:00:00+08:00";
/// The demo pharmacy (安郁藥局, Taipei) from the real 2020-03-22 open-data file.
pub const DEMO_SITE: &str = "5901010058";
/// The vpcd reader the demo plays its cards into.
pub const DEMO_VPCD_PORT: u16 = nhi_fixtures::VPCD_PORT;

/// How long each start-up step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(25);

/// Demo settings (defaults: [`DEMO_AS_OF`], [`DEMO_SITE`], the default card deck).
#[derive(Clone, Debug, Default)]
pub struct DemoOptions {
    /// Write ports and paths here as JSON (for tests and the benchmark).
    pub state_file: Option<PathBuf>,
    /// Card profiles to cycle through instead of the default deck.
    pub cards: Option<Vec<String>>,
    /// Clock start instead of [`DEMO_AS_OF`].
    pub as_of: Option<String>,
    /// Agent message language (`zh-TW` or `en`).
    pub agent_lang: String,
    /// Timing trace file (`MASK_TERMINAL_TRACE`), for card insert times.
    pub trace: Option<PathBuf>,
}

/// Why the demo could not start. Rendered for people by `crate::messages::demo_error`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A binary of the workspace is not next to this executable.
    #[error("{name} not found in {dir}")]
    MissingBinary {
        /// Binary name.
        name: &'static str,
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// Neither a running PC/SC service with vpcd nor a way to start one.
    #[error("PC/SC with vpcd unavailable: {detail}")]
    Pcsc {
        /// What is missing.
        detail: String,
    },
    /// A process of the demo did not come up.
    #[error("{what} did not start: {log_tail}")]
    DidNotStart {
        /// Which one.
        what: &'static str,
        /// The last lines of its log (the log itself goes with the demo's directory).
        log_tail: String,
    },
    /// The token for the demo pharmacy could not be issued.
    #[error("token issue failed: {detail}")]
    Token {
        /// stderr of the command.
        detail: String,
    },
    /// A demo card profile is unknown.
    #[error("card profile: {0}")]
    Profile(#[from] nhi_fixtures::ProfileError),
    /// The clock setting is not an RFC 3339 instant.
    #[error("invalid --demo-as-of {0}")]
    AsOf(String),
    /// File system or process trouble.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Ports and paths of a running demo (written to `--demo-state-file` as JSON).
#[derive(Clone, Debug, serde::Serialize)]
pub struct DemoState {
    /// The server stub, directly (open data: `{server_url}/maskdata.csv`).
    pub server_url: String,
    /// The relay the agent uses as its server URL.
    pub agent_server_url: String,
    /// The demo pharmacy.
    pub site_code: String,
    /// The agent's config file.
    pub agent_config: PathBuf,
    /// The agent's journal (SQLite).
    pub journal: PathBuf,
    /// The agent's local socket.
    pub socket: PathBuf,
    /// Server data directory.
    pub server_data_dir: PathBuf,
    /// Log files of the children.
    pub logs: Vec<PathBuf>,
    /// Pids of the children the demo started (all gone after quitting).
    pub pids: Vec<u32>,
    /// The demo's own process (`mask-demo`, which also runs the counter screen).
    pub terminal_pid: u32,
    /// The clock start used by server and agent.
    pub as_of: String,
    /// The demo's temporary directory (removed after quitting).
    pub dir: PathBuf,
}

/// Everything the demo started; dropping it stops everything.
pub struct DemoStack {
    deck: Option<DemoDeck>,
    agent: Option<ChildGuard>,
    link: Option<Arc<LinkProxy>>,
    server: Option<ChildGuard>,
    pcscd: Option<ChildGuard>,
    state: DemoState,
    dir: Option<tempfile::TempDir>,
}

impl DemoStack {
    /// Starts the whole demo. `progress` gets one line per step (printed before the UI starts).
    pub fn start(
        opts: &DemoOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<DemoStack, DemoError> {
        let bin_dir = std::env::current_exe()?
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let server_bin = find_bin(&bin_dir, "mask-server-stub")?;
        let agent_bin = find_bin(&bin_dir, "mask-agent")?;
        let deck = cards::deck(opts.cards.as_deref())?;
        let as_of_text = opts.as_of.clone().unwrap_or_else(|| DEMO_AS_OF.to_owned());
        let as_of = OffsetDateTime::parse(&as_of_text, &Rfc3339)
            .map_err(|_| DemoError::AsOf(as_of_text.clone()))?;

        let dir = tempfile::Builder::new().prefix("mask-demo-").tempdir()?;
        let root = dir.path().to_path_buf();
        let mut stack = DemoStack {
            deck: None,
            agent: None,
            link: None,
            server: None,
            pcscd: None,
            state: DemoState {
                server_url: String::new(),
                agent_server_url: String::new(),
                site_code: DEMO_SITE.to_owned(),
                agent_config: root.join("agent.toml"),
                journal: root.join("agent").join("journal.sqlite3"),
                socket: root.join("agent").join(mask_protocol::SOCKET_FILE_NAME),
                server_data_dir: root.join("server"),
                logs: Vec::new(),
                pids: Vec::new(),
                terminal_pid: std::process::id(),
                as_of: as_of_text.clone(),
                dir: root.clone(),
            },
            dir: Some(dir),
        };

        progress("PC/SC");
        stack.pcscd = ensure_pcsc(&root)?;
        if let Some(p) = stack.pcscd.as_ref().and_then(ChildGuard::pid) {
            stack.state.pids.push(p);
        }

        progress("mask-server-stub");
        let port = free_port()?;
        let server_addr = SocketAddr::from(([127, 0, 0, 1], port));
        let server_log = root.join("server.log");
        let mut cmd = Command::new(&server_bin);
        cmd.arg("--listen")
            .arg(server_addr.to_string())
            .arg("--data-dir")
            .arg(&stack.state.server_data_dir)
            .arg("--plain-http")
            .arg("--as-of")
            .arg(&as_of_text)
            // Open data every 2 s instead of 30 s, so a delisting shows up while one watches.
            .args(["--refresh-secs", "2"]);
        let server_started = Instant::now();
        let mut server = ChildGuard::spawn("mask-server-stub", cmd, &server_log)?;
        stack.state.pids.extend(server.pid());
        stack.state.logs.push(server_log.clone());
        wait_until(&mut server, &server_log, || {
            matches!(
                http::get(server_addr, "/v1/health", Duration::from_secs(1)),
                Ok((200, _))
            )
        })?;
        stack.server = Some(server);
        stack.state.server_url = format!("http://{server_addr}");

        progress("token");
        let out = Command::new(&server_bin)
            .args(["token", "issue", "--data-dir"])
            .arg(&stack.state.server_data_dir)
            .args(["--site", DEMO_SITE])
            .output()?;
        let token = String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_owned);
        let token = match (out.status.success(), token) {
            (true, Some(t)) => t,
            _ => {
                return Err(DemoError::Token {
                    detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                });
            }
        };

        let link = Arc::new(LinkProxy::start(server_addr)?);
        stack.state.agent_server_url = format!("http://{}", link.addr());
        stack.link = Some(link.clone());

        progress("mask-agent");
        // The agent's clock starts where the server's is now, so both agree to the second.
        let agent_as_of = (as_of + server_started.elapsed())
            .to_offset(UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC))
            .format(&Rfc3339)
            .map_err(|_| DemoError::AsOf(as_of_text.clone()))?;
        // It holds the pharmacy's token: owner-only from creation.
        mask_private_file::write_atomic(
            &stack.state.agent_config,
            agent_config(&stack.state, &token, &agent_as_of, &opts.agent_lang).as_bytes(),
        )?;
        let agent_log = root.join("agent.log");
        let mut cmd = Command::new(&agent_bin);
        cmd.arg("--config")
            .arg(&stack.state.agent_config)
            .arg("run");
        let mut agent = ChildGuard::spawn("mask-agent", cmd, &agent_log)?;
        stack.state.pids.extend(agent.pid());
        stack.state.logs.push(agent_log.clone());
        let socket = stack.state.socket.clone();
        wait_until(&mut agent, &agent_log, || socket.exists())?;
        stack.agent = Some(agent);

        progress("delivery");
        record_delivery(&stack.state.socket).map_err(|detail| DemoError::DidNotStart {
            what: "the day's delivery",
            log_tail: detail,
        })?;

        stack.deck = Some(DemoDeck::start(
            deck,
            DEMO_VPCD_PORT,
            link,
            opts.trace.clone(),
        )?);

        if let Some(path) = &opts.state_file {
            let json = serde_json::to_string_pretty(&stack.state).map_err(std::io::Error::other)?;
            std::fs::write(path, json)?;
        }
        Ok(stack)
    }

    /// The agent's socket for the UI.
    pub fn endpoint(&self) -> PathBuf {
        self.state.socket.clone()
    }

    /// The demo key hooks (card deck and link switch) for the UI loop.
    pub fn take_hooks(&mut self) -> Option<DemoDeck> {
        self.deck.take()
    }

    /// Stops everything (also done on drop).
    pub fn stop(&mut self) {
        self.deck = None;
        if let Some(mut a) = self.agent.take() {
            a.stop();
        }
        self.link = None;
        if let Some(mut s) = self.server.take() {
            s.stop();
        }
        if let Some(mut p) = self.pcscd.take() {
            p.stop();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

impl Drop for DemoStack {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The day's delivery of the demo pharmacy: the 2020-03 daily allocation.
const DEMO_DELIVERY: mask_protocol::StockInForm = mask_protocol::StockInForm {
    received_adult: 200,
    received_child: 50,
    damaged_adult: 0,
    damaged_child: 0,
};

/// Records the day's delivery through the agent, as a pharmacist does when the post office
/// comes, so the demo's inventory starts from stock on hand.
fn record_delivery(socket: &Path) -> Result<(), String> {
    use mask_protocol::{AgentFrame, Request, RequestBody};
    use mask_terminal::Input;
    let (inputs, rx) = std::sync::mpsc::channel();
    let client = mask_terminal::AgentClient::spawn(socket.to_path_buf(), inputs)
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(Input::Connected(_)) => client.send(Request {
                id: 1,
                body: RequestBody::StockIn(DEMO_DELIVERY),
            }),
            Ok(Input::Frame(frame)) => {
                if let AgentFrame::Response(response) = *frame
                    && response.id == 1
                {
                    return match response.body {
                        mask_protocol::ResponseBody::Inventory(_) => Ok(()),
                        other => Err(format!("the agent answered {other:?}")),
                    };
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Err("the agent did not answer in 10 s".into())
}

fn find_bin(dir: &Path, name: &'static str) -> Result<PathBuf, DemoError> {
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(DemoError::MissingBinary {
            name,
            dir: dir.to_path_buf(),
        })
    }
}

/// A free loopback port for the server (the server takes `--listen ADDR`, not a listener).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Polls `ready` until true, failing early when the child exits, bounded by [`STEP_TIMEOUT`].
fn wait_until(
    child: &mut ChildGuard,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) -> Result<(), DemoError> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if ready() {
            return Ok(());
        }
        if child.exited().is_some() || Instant::now() >= deadline {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let log_tail = lines[lines.len().saturating_sub(8)..].join("\n");
            return Err(DemoError::DidNotStart {
                what: child.name(),
                log_tail,
            });
        }
        std::thread::sleep(POLL);
    }
}

fn agent_config(state: &DemoState, token: &str, as_of: &str, lang: &str) -> String {
    let q = |s: &str| toml_string(s);
    format!(
        "# Written by mask-demo\n\
         site_code = {}\nserver_url = {}\ntoken = {}\ndata_dir = {}\nas_of = {}\n\
         reader_filter = {}\nlanguage = {}\nsocket = {}\n",
        q(&state.site_code),
        q(&state.agent_server_url),
        q(token),
        q(&state
            .journal
            .parent()
            .unwrap_or(Path::new("."))
            .to_string_lossy()),
        q(as_of),
        q(nhi_fixtures::reader_name_for_port(DEMO_VPCD_PORT).unwrap_or("Virtual PCD")),
        q(lang),
        // The demo's own socket in its temp dir, handed to the screen: nothing needs root.
        q(&state.socket.to_string_lossy()),
    )
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Makes sure pcscd runs with the vpcd readers. Starts `pcscd --foreground` as a child (so it
/// is stopped when the demo ends) when it is not running; leaves a running one alone.
fn ensure_pcsc(root: &Path) -> Result<Option<ChildGuard>, DemoError> {
    if nhi_fixtures::vpcd_listening(DEMO_VPCD_PORT) == Some(true) {
        return Ok(None);
    }
    let pcscd_socket = Path::new("/run/pcscd/pcscd.comm");
    if pcscd_socket.exists() && pcscd_running() {
        return Err(DemoError::Pcsc {
            detail: "pcscd runs but the vpcd reader does not listen on 35963".into(),
        });
    }
    let pcscd = ["/usr/sbin/pcscd", "/usr/bin/pcscd", "/sbin/pcscd"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .ok_or_else(|| DemoError::Pcsc {
            detail: "pcscd is not installed".into(),
        })?;
    if !Path::new("/etc/reader.conf.d/vpcd").exists() {
        return Err(DemoError::Pcsc {
            detail: "vsmartcard-vpcd is not installed".into(),
        });
    }
    // A pid file left by a killed pcscd makes the next one refuse to start.
    let _ = std::fs::remove_file("/run/pcscd/pcscd.pid");
    let log = root.join("pcscd.log");
    let mut cmd = Command::new(pcscd);
    cmd.arg("--foreground");
    let mut child = ChildGuard::spawn("pcscd", cmd, &log)?;
    wait_until(&mut child, &log, || {
        nhi_fixtures::vpcd_listening(DEMO_VPCD_PORT) == Some(true) && pcscd_socket.exists()
    })
    .map_err(|e| DemoError::Pcsc {
        detail: format!("pcscd did not start (it needs root): {e}"),
    })?;
    Ok(Some(child))
}

fn pcscd_running() -> bool {
    std::fs::read_to_string("/run/pcscd/pcscd.pid")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}
