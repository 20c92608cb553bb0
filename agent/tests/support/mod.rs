//! Test helpers: servers, agents, IDs. Each test gets its own directories under one root, so
//! the log test can scan every agent log the run produced.

#![allow(dead_code)]

pub mod ids;
pub mod proxy;
pub mod requests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mask_agent::{
    CardFeed, CardSource, Config, ConfigEnv, FlagOverrides, Journal, LocalClient, NewSale,
    StartedAgent,
};
use mask_api::{BuyerKind, SaleSource};
use mask_protocol::{RequestBody, ResponseBody, SyncStatus};
use mask_server_stub::{ServerConfig, ServerHandle};
use time::OffsetDateTime;
use time::macros::datetime;
use tokio_util::sync::CancellationToken;

/// The pharmacy of the tests (first site of the real open-data file).
pub const SITE: &str = "0145080011";
/// A second pharmacy.
pub const SITE_2: &str = "2101010013";

/// Thursday 2020-03-12 10:00 Taipei: rules of 2020-03-05 (adult 3 / child 5 per 7 days), even
/// last digits may buy (adults), children are exempt from the weekday rule.
pub const AS_OF: OffsetDateTime = datetime!(2020-03-12 10:00 +08:00);
/// The same instant as config text.
pub const AS_OF_TEXT: &str = "2020-03-12T10:00:00+08:00";

/// All test directories live under this root (scanned by the log test).
pub fn test_root() -> PathBuf {
    let root = std::env::temp_dir().join("mask-agent-tests");
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// A fresh directory under [`test_root`].
pub fn test_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(test_root())
        .unwrap()
}

/// The server stub in-process, restartable on the same address and data.
pub struct TestServer {
    pub handle: Option<ServerHandle>,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub token: String,
    pub token_2: String,
    _dir: Option<tempfile::TempDir>,
}

pub fn server_config(data_dir: &Path) -> ServerConfig {
    let mut config = ServerConfig::new(data_dir);
    config.as_of = Some(AS_OF);
    config.rate_limit_per_sec = 0;
    // These tests sell to hundreds of buyers a minute on one pharmacy token.
    config.eligibility_ids_per_minute = 0;
    config
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = test_dir("server");
        let data_dir = dir.path().to_path_buf();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = mask_server_stub::spawn(server_config(&data_dir), listener)
            .await
            .unwrap();
        let token = handle.issue_token(SITE, None).await.unwrap();
        let token_2 = handle.issue_token(SITE_2, None).await.unwrap();
        TestServer {
            handle: Some(handle),
            addr,
            data_dir,
            token,
            token_2,
            _dir: Some(dir),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops it (the address stays reserved for [`TestServer::restart`]).
    pub async fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown().await.unwrap();
        }
    }

    /// Starts it again on the same address and data.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        let handle = mask_server_stub::spawn(server_config(&self.data_dir), listener)
            .await
            .unwrap();
        self.handle = Some(handle);
    }

    /// Today's inventory of [`SITE`] as the server sees it.
    pub async fn inventory(&self) -> mask_api::Inventory {
        reqwest::Client::new()
            .get(format!("{}/v1/inventory?date=2020-03-12", self.url()))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Adult + child masks the server recorded as sold today at [`SITE`].
    pub async fn sold(&self) -> u32 {
        let inventory = self.inventory().await;
        inventory.sold_adult + inventory.sold_child
    }
}

/// An environment without any `MASK_AGENT_*` variables.
pub struct NoEnv;
impl ConfigEnv for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

/// A config file for an agent of [`SITE`] talking to `server_url`.
pub struct AgentFiles {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl AgentFiles {
    pub fn new(name: &str, server_url: &str, token: &str) -> AgentFiles {
        Self::with_extra(name, server_url, token, "")
    }

    /// The socket in the (private) data dir.
    pub fn with_extra(name: &str, server_url: &str, token: &str, extra: &str) -> AgentFiles {
        Self::with_socket(name, server_url, token, None, extra)
    }

    /// `socket`: a path relative to the test's directory (default `data/agent.sock`).
    pub fn with_socket(
        name: &str,
        server_url: &str,
        token: &str,
        socket: Option<&str>,
        extra: &str,
    ) -> AgentFiles {
        let dir = test_dir(name);
        let data_dir = dir.path().join("data");
        let socket = match socket {
            Some(relative) => dir.path().join(relative),
            None => data_dir.join(mask_protocol::SOCKET_FILE_NAME),
        };
        let config_path = dir.path().join("agent.toml");
        std::fs::write(
            &config_path,
            format!(
                "site_code = \"{SITE}\"\nserver_url = \"{server_url}\"\ntoken = \"{token}\"\n\
                 data_dir = \"{}\"\nas_of = \"{AS_OF_TEXT}\"\nlanguage = \"en\"\n\
                 socket = \"{}\"\n{extra}",
                data_dir.display(),
                socket.display()
            ),
        )
        .unwrap();
        AgentFiles { dir, config_path }
    }

    pub fn config(&self) -> Config {
        let flags = FlagOverrides {
            config_file: Some(self.config_path.clone()),
            ..Default::default()
        };
        Config::load(&flags, &NoEnv).unwrap()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn journal(&self) -> Journal {
        Journal::open(&self.config().journal_path()).unwrap()
    }

    /// Writes `n` queued sales (distinct adult buyers, one mask each) straight into the journal,
    /// as if sold offline before.
    pub fn prefill(&self, n: usize, first: usize) -> Vec<NewSale> {
        let sales: Vec<NewSale> = ids::even_ids(first, n)
            .into_iter()
            .map(|id_no| NewSale {
                id: uuid::Uuid::now_v7(),
                id_no,
                birth_date: None,
                kind: BuyerKind::Adult,
                quantity: 1,
                sold_at: NewSale::truncate_time(AS_OF - time::Duration::minutes(30)),
                source: SaleSource::Manual,
                offline: true,
                pc_sold_at: None,
            })
            .collect();
        let mut journal = self.journal();
        for chunk in sales.chunks(1000) {
            journal.record_sales(chunk).unwrap();
        }
        sales
    }
}

/// The agent in this process, with an injectable card feed.
pub struct InProcessAgent {
    pub started: Option<StartedAgent>,
    pub shutdown: CancellationToken,
    pub feed: CardFeed,
    pub config: Config,
}

impl InProcessAgent {
    pub async fn start(files: &AgentFiles) -> InProcessAgent {
        Self::start_config(files.config()).await
    }

    pub async fn start_config(config: Config) -> InProcessAgent {
        let (feed, source) = CardSource::feed();
        Self::start_with(config, source, feed).await
    }

    pub async fn start_with(config: Config, source: CardSource, feed: CardFeed) -> InProcessAgent {
        let shutdown = CancellationToken::new();
        let started = mask_agent::start_agent(&config, source, shutdown.clone())
            .await
            .unwrap();
        InProcessAgent {
            started: Some(started),
            shutdown,
            feed,
            config,
        }
    }

    pub fn core(&self) -> &std::sync::Arc<mask_agent::Core> {
        &self.started.as_ref().unwrap().core
    }

    pub async fn client(&self) -> LocalClient {
        LocalClient::connect(&self.config.local_endpoint(), "tests")
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(started) = self.started.take() {
            started.done.await.unwrap();
        }
    }
}

impl Drop for InProcessAgent {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Sends `SyncNow` until nothing is queued (or panics after `limit`).
pub async fn sync_until_empty(client: &mut LocalClient, limit: Duration) -> SyncStatus {
    let deadline = Instant::now() + limit;
    loop {
        let status = match client.request(RequestBody::SyncNow).await.unwrap() {
            ResponseBody::Sync(status) => status,
            other => panic!("unexpected {other:?}"),
        };
        if status.queued == 0 && status.queued_other == 0 {
            return status;
        }
        assert!(Instant::now() < deadline, "queue not drained: {status:?}");
    }
}

/// The `mask-agent` binary under test.
pub fn agent_bin() -> &'static str {
    env!("CARGO_BIN_EXE_mask-agent")
}

/// A `mask-agent --config FILE …` command with a clean environment.
pub fn agent_cmd(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(agent_bin());
    cmd.arg("--config").arg(config).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("MASK_AGENT_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("MASK_LANG");
    cmd.env("LANG", "en_US.UTF-8");
    cmd
}

/// `mask-agent run` as a child process; killed (SIGKILL) on drop.
pub struct ChildAgent {
    pub child: Child,
    pub endpoint: PathBuf,
}

impl ChildAgent {
    /// Starts `mask-agent --config FILE run` and waits until its local API answers.
    pub async fn start(files: &AgentFiles) -> ChildAgent {
        let child = agent_cmd(&files.config_path, &["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let endpoint = files.config().local_endpoint();
        let mut agent = ChildAgent { child, endpoint };
        agent.wait_ready().await;
        agent
    }

    /// Waits for the local API: readiness is the socket answering a handshake (polled; the
    /// child binds it itself, so there is no listener to hand over).
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if LocalClient::connect(&self.endpoint, "tests").await.is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("mask-agent exited early: {status}");
            }
            assert!(Instant::now() < deadline, "mask-agent did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn client(&self) -> LocalClient {
        LocalClient::connect(&self.endpoint, "tests").await.unwrap()
    }

    /// kill -9.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for ChildAgent {
    fn drop(&mut self) {
        self.kill9();
    }
}
