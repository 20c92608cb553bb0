//! Who may reach the local API on Unix (issue #12): the access group at the filesystem (socket
//! 0660 with the group) and at the peer check (credentials read on every connection), the clear
//! message a refused account gets, and one agent per socket.
//!
//! The tests that switch to other accounts need root (CI runs as root) and util-linux's
//! `setpriv`; without them they print why and pass, unless CI or REQUIRE_PCSC is set.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mask_agent::LocalClient;

use crate::support::{AgentFiles, ChildAgent, TestServer, agent_bin, agent_cmd};

/// Debian's `users` group: exists everywhere, root is not in it.
const GROUP: &str = "users";
const GROUP_GID: u32 = 100;
/// `nobody` / `nogroup`.
const NOBODY: u32 = 65534;

/// Agents of these tests sell nothing by card: a filter no reader matches keeps them off the
/// virtual readers the card tests use.
const NO_READER: &str = "reader_filter = \"no reader: access tests\"\n";

fn required() -> bool {
    ["CI", "REQUIRE_PCSC"]
        .iter()
        .any(|k| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"))
}

/// Root with setpriv and the `users` group, or a printed reason to skip.
fn can_switch_accounts() -> bool {
    let uid = Command::new("id").arg("-u").output().ok();
    let root = uid.is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    let group = nix_group_gid(GROUP) == Some(GROUP_GID);
    if root && setpriv && group {
        return true;
    }
    let why = format!(
        "needs root (id -u = 0: {root}), setpriv ({setpriv}) and group {GROUP} = {GROUP_GID} ({group})"
    );
    assert!(!required(), "CI/REQUIRE_PCSC set but {why}");
    eprintln!("skipped: {why}");
    false
}

fn nix_group_gid(name: &str) -> Option<u32> {
    let out = Command::new("getent").args(["group", name]).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split(':')
        .nth(2)
        .and_then(|g| g.trim().parse().ok())
}

/// An agent whose socket sits in `<test dir>/run/agent.sock` with `local_api_group = users`,
/// the test dir opened (0755) so other accounts can reach the socket's directory.
async fn group_agent(server: &TestServer, name: &str) -> (AgentFiles, ChildAgent) {
    let files = AgentFiles::with_socket(
        name,
        &server.url(),
        &server.token,
        Some("run/agent.sock"),
        &format!("{NO_READER}local_api_group = \"{GROUP}\"\n"),
    );
    std::fs::set_permissions(files.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let agent = ChildAgent::start(&files).await;
    (files, agent)
}

/// An empty config anyone may read (the client accounts cannot read the agent's).
fn public_config(files: &AgentFiles) -> PathBuf {
    let path = files.dir.path().join("client.toml");
    std::fs::write(&path, "").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

/// `mask-agent --config CONFIG --socket SOCKET --lang LANG ARGS…` as another account
/// (`setpriv` credentials), with none of this process's `MASK_AGENT_*` settings.
fn agent_as(creds: &[&str], config: &Path, socket: &Path, lang: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("setpriv");
    cmd.args(creds)
        .arg(agent_bin())
        .arg("--config")
        .arg(config)
        .arg("--socket")
        .arg(socket)
        .args(["--lang", lang])
        .args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("MASK_AGENT_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", "/nonexistent").output().unwrap()
}

/// `mask-agent status --json` as another account.
fn status_as(creds: &[&str], config: &Path, socket: &Path, lang: &str) -> Output {
    agent_as(creds, config, socket, lang, &["status", "--json"])
}

/// `mask-agent doctor --json` as another account: its `counter_access` check.
fn counter_access_as(creds: &[&str], config: &Path, socket: &Path) -> serde_json::Value {
    let out = agent_as(creds, config, socket, "zh-TW", &["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json: {e}: {}", text(&out.stderr)));
    let checks = &report["checks"];
    checks
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "counter_access"))
        .cloned()
        .unwrap_or_else(|| panic!("no counter_access check: {checks}"))
}

const MEMBER: [&str; 3] = ["--reuid=65534", "--regid=100", "--clear-groups"];
const OUTSIDER: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_is_0660_with_the_group_a_member_is_served_an_outsider_is_refused() {
    if !can_switch_accounts() {
        return;
    }
    let server = TestServer::start().await;
    let (files, agent) = group_agent(&server, "access-group").await;
    let socket = agent.endpoint.clone();
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660, "socket mode");
    assert_eq!(meta.gid(), GROUP_GID, "socket group");
    let dir_mode = std::fs::metadata(socket.parent().unwrap()).unwrap().mode() & 0o7777;
    assert_eq!(
        dir_mode & 0o022,
        0,
        "only the agent may add entries: {dir_mode:o}"
    );
    let config = public_config(&files);

    let member = status_as(&MEMBER, &config, &socket, "en");
    assert!(
        member.status.success(),
        "member refused: {}",
        text(&member.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&member.stdout).unwrap();
    assert_eq!(status["site_code"], crate::support::SITE);

    // The filesystem refuses (EACCES) and the message says what IT must do, naming the group.
    let outsider = status_as(&OUTSIDER, &config, &socket, "zh-TW");
    assert_eq!(
        outsider.status.code(),
        Some(3),
        "{}",
        text(&outsider.stderr)
    );
    let message = text(&outsider.stderr);
    assert!(message.contains("不在 users 群組"), "{message}");
    assert!(
        message.contains("sudo usermod -aG users <帳號>"),
        "{message}"
    );

    // doctor, run by IT as each account, says the same: served, or which group and the fix.
    let member = counter_access_as(&MEMBER, &config, &socket);
    assert_eq!(member["verdict"], "ok", "{member}");
    let outsider = counter_access_as(&OUTSIDER, &config, &socket);
    assert_eq!(outsider["verdict"], "fail", "{outsider}");
    assert!(
        outsider["detail"]
            .as_str()
            .unwrap()
            .contains("不在 users 群組")
            && outsider["hint"]
                .as_str()
                .unwrap()
                .contains("sudo usermod -aG users <帳號>"),
        "{outsider}"
    );
    drop(agent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_reaching_an_opened_socket_is_refused_by_the_peer_check_and_logged_by_uid() {
    if !can_switch_accounts() {
        return;
    }
    let server = TestServer::start().await;
    let (files, agent) = group_agent(&server, "access-peer").await;
    let socket = agent.endpoint.clone();
    // As if someone made the socket world-writable: the credentials check still refuses.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let config = public_config(&files);

    let outsider = status_as(&OUTSIDER, &config, &socket, "en");
    assert_eq!(
        outsider.status.code(),
        Some(3),
        "{}",
        text(&outsider.stderr)
    );
    let message = text(&outsider.stderr);
    assert!(message.contains("not in the users group"), "{message}");
    assert!(message.contains("usermod -aG users <account>"), "{message}");
    let member = status_as(&MEMBER, &config, &socket, "en");
    assert!(
        member.status.success(),
        "member refused: {}",
        text(&member.stderr)
    );

    // The refusal is in the agent's log with the uid, and no user name.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = read_logs(&files.data_dir().join("logs"));
        let refusal = logs
            .lines()
            .find(|l| l.contains("refused a peer outside the access group"));
        if let Some(line) = refusal {
            assert!(line.contains(&format!("uid={NOBODY}")), "{line}");
            assert!(line.contains("pid="), "{line}");
            assert!(!line.contains("nobody"), "{line}");
            break;
        }
        assert!(Instant::now() < deadline, "no refusal logged:\n{logs}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(agent);
}

fn read_logs(dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_group_the_socket_stays_0600_and_the_log_says_how_to_create_it() {
    let server = TestServer::start().await;
    let files = AgentFiles::with_extra(
        "access-nogroup",
        &server.url(),
        &server.token,
        &format!("{NO_READER}local_api_group = \"mask-no-such-group\"\n"),
    );
    let agent = ChildAgent::start(&files).await;
    let mode = std::fs::metadata(&agent.endpoint).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o600);
    let logs = read_logs(&files.data_dir().join("logs"));
    assert!(
        logs.contains("the local API group does not exist")
            && logs.contains("groupadd --system mask-no-such-group"),
        "{logs}"
    );
    // The agent's own account is still served.
    agent.client().await;
}

/// Issue #12: two agents started at once on one socket. Exactly one serves; the other exits
/// with AlreadyRunning; the server's socket is never deleted by the loser. 20 rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_agents_started_at_once_one_serves_and_keeps_its_socket() {
    let server = TestServer::start().await;
    for round in 0..20 {
        let files = AgentFiles::with_extra("access-race", &server.url(), &server.token, NO_READER);
        let endpoint = files.config().local_endpoint();
        let start = || {
            agent_cmd(&files.config_path, &["run"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let mut agents = [start(), start()];
        let deadline = Instant::now() + Duration::from_secs(20);
        let loser = loop {
            if let Some(i) = (0..2).find(|&i| agents[i].try_wait().unwrap().is_some()) {
                break i;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: neither agent gave up"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let winner = 1 - loser;
        let lost = agents[loser].wait_with_output_ref();
        assert_eq!(lost.0.code(), Some(3), "round {round}: {}", lost.1);
        assert!(
            lost.1
                .contains("Another mask-agent already serves the local API"),
            "round {round}: {}",
            lost.1
        );
        // The winner still runs and answers on the socket the loser did not delete.
        let served = async {
            loop {
                if LocalClient::connect(&endpoint, "tests").await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), served)
            .await
            .unwrap_or_else(|_| panic!("round {round}: the winner does not answer"));
        assert!(
            agents[winner].try_wait().unwrap().is_none(),
            "round {round}: the winner exited"
        );
        for agent in &mut agents {
            let _ = agent.kill();
            let _ = agent.wait();
        }
    }
}

/// `wait` plus the captured stderr of an exited child.
trait WaitOutput {
    fn wait_with_output_ref(&mut self) -> (std::process::ExitStatus, String);
}

impl WaitOutput for std::process::Child {
    fn wait_with_output_ref(&mut self) -> (std::process::ExitStatus, String) {
        use std::io::Read;
        let status = self.wait().unwrap();
        let mut err = String::new();
        if let Some(mut stderr) = self.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        (status, err)
    }
}
