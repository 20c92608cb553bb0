//! The command line against a running `mask-agent run` child process.

use std::process::Output;

use serde_json::Value;

use crate::support::{AgentFiles, ChildAgent, TestServer, agent_cmd, ids};

fn run(files: &AgentFiles, args: &[&str]) -> Output {
    agent_cmd(&files.config_path, args).output().unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_sell_sync_and_export_through_the_running_service() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("cli", &server.url(), &server.token);
    let _agent = ChildAgent::start(&files).await;
    let buyer = ids::even_id(600_000);

    let status = run(&files, &["status", "--json"]);
    assert!(status.status.success(), "{status:?}");
    let value = json(&status);
    assert_eq!(value["running"], true);
    assert_eq!(value["site_code"], crate::support::SITE);
    assert_eq!(value["queued_sales"], 0);
    assert!(
        value.get("online").is_some()
            && value.get("last_sync").is_some()
            && value.get("readers").is_some()
    );

    // Regression (issue #13): the plain report was English with Debug names (`Online`)
    // whatever the language.
    let zh = agent_cmd(&files.config_path, &["--lang", "zh-TW", "status"])
        .output()
        .unwrap();
    assert!(zh.status.success(), "{zh:?}");
    let zh = String::from_utf8(zh.stdout).unwrap();
    assert!(
        zh.contains(&format!("藥局：{}", crate::support::SITE)),
        "{zh}"
    );
    assert!(zh.contains("中央伺服器："), "{zh}");
    for debug in ["Online", "Offline", "Unknown", "true", "false"] {
        assert!(!zh.contains(debug), "{debug} in:\n{zh}");
    }

    let sell = run(&files, &["sell", "--id", &buyer, "--qty", "2"]);
    assert_eq!(
        sell.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sell.stderr)
    );
    let receipt = json(&sell);
    assert_eq!(receipt["result"], "recorded");
    assert_eq!(receipt["quantity"], 2);
    assert_eq!(receipt["amount_due"], 10, "5 NTD a mask in 2020");
    assert_eq!(receipt["offline"], false);
    assert_eq!(receipt["id_masked"], nhi_card::mask_id(&buyer));

    // Over the quota: refused, exit 1, reason in JSON and words on stderr.
    let refused = run(&files, &["sell", "--id", &buyer, "--qty", "2"]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(json(&refused)["result"], "refused");
    assert_eq!(json(&refused)["reason"], "quota");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refused"));

    // Wrong weekday.
    let odd = run(&files, &["sell", "--id", &ids::odd_id(7), "--qty", "1"]);
    assert_eq!(odd.status.code(), Some(1));
    assert_eq!(json(&odd)["reason"], "weekday");

    // A typo in the ID: a clear error, nothing sold.
    let typo = run(&files, &["sell", "--id", "A123456788", "--qty", "1"]);
    assert_eq!(typo.status.code(), Some(1));
    assert_eq!(json(&typo)["code"], "invalid_id");

    let sync = run(&files, &["sync", "--json"]);
    assert_eq!(
        sync.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sync.stdout)
    );
    assert_eq!(json(&sync)["queued_sales"], 0);
    assert_eq!(server.sold().await, 2);

    let export = run(&files, &["journal", "export", "--date", "2020-03-12"]);
    assert!(export.status.success());
    let csv = String::from_utf8(export.stdout).unwrap();
    assert!(csv.starts_with("sale_id,sold_at,id_masked"), "{csv}");
    assert!(
        csv.contains(&nhi_card::mask_id(&buyer)) && !csv.contains(&buyer),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_shows_sources_and_masks_the_token() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("cli-config", &server.url(), &server.token);
    let output = agent_cmd(&files.config_path, &["config", "--json"])
        .env("MASK_AGENT_SITE_CODE", "5901012345")
        .output()
        .unwrap();
    assert!(output.status.success());
    let value = json(&output);
    assert_eq!(value["site_code"]["value"], "5901012345");
    assert_eq!(value["site_code"]["source"], "env MASK_AGENT_SITE_CODE");
    assert!(
        value["server_url"]["source"]
            .as_str()
            .unwrap()
            .starts_with("file ")
    );
    let token = value["token"]["value"].as_str().unwrap();
    assert!(!token.contains(&server.token[6..]), "token leaked: {token}");
    assert_eq!(value["retention_days"]["source"], "default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_say_what_is_wrong_when_the_service_is_down() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("cli-down", &server.url(), &server.token);
    let output = run(&files, &["status", "--json"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Cannot reach the mask-agent service"),
        "{stderr}"
    );

    let zh = agent_cmd(
        &files.config_path,
        &[
            "--lang",
            "zh-TW",
            "sell",
            "--id",
            "A123456789",
            "--qty",
            "1",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(zh.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&zh.stderr).contains("無法連線到 mask-agent 服務"));

    let bad = AgentFiles::with_extra(
        "cli-bad",
        &server.url(),
        &server.token,
        "retention_dayz = 3\n",
    );
    let output = run(&bad, &["status"]);
    assert_eq!(
        output.status.code(),
        Some(i32::from(mask_cli::exit::CONFIG))
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("retention_dayz"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_server_journal_and_clock() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("doctor", &server.url(), &server.token);
    // The journal the service made (doctor only reads one; it never creates it).
    drop(files.journal());
    let output = run(&files, &["doctor", "--json"]);
    let value = json(&output);
    let check = |name: &str| {
        value["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} check: {value}"))
            .clone()
    };
    for name in [
        "config",
        "journal",
        "disk_space",
        "server",
        "clock_skew",
        "token",
    ] {
        assert_eq!(check(name)["verdict"], "ok", "{name}: {}", check(name));
    }
    // No agent runs here: the counter screen could not connect, said as a warning with the fix.
    let access = check("counter_access");
    assert_eq!(access["verdict"], "warn", "{access}");
    assert!(
        access["hint"].as_str().unwrap().contains("start"),
        "{access}"
    );
    // The PC/SC checks depend on the machine; they exist either way and a failure fails doctor.
    let pcsc = check("pcsc_service");
    assert_eq!(output.status.code() == Some(0), value["ok"] == true);
    if pcsc["verdict"] == "fail" {
        assert_eq!(output.status.code(), Some(1));
        assert!(!pcsc["hint"].as_str().unwrap().is_empty());
    }

    // Server down: doctor fails with a hint.
    let down = AgentFiles::new("doctor-down", "http://127.0.0.1:9", &server.token);
    let output = run(&down, &["doctor", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let value = json(&output);
    let server_check = value["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "server")
        .unwrap()
        .clone();
    assert_eq!(server_check["verdict"], "fail");
    assert!(!server_check["hint"].as_str().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_read_prints_what_nhi_read_prints() {
    let Some(_lock) = nhi_fixtures::pcsc_gate(nhi_fixtures::VPCD_PORT, "agent: card read parity")
    else {
        return;
    };
    let profile = nhi_fixtures::Profile::builtin("adult").unwrap();
    let card = nhi_fixtures::VirtualCard::insert(&profile, nhi_fixtures::VPCD_PORT).unwrap();
    assert!(card.wait_seen(std::time::Duration::from_secs(5)));
    let args = [
        "--json",
        "--show-pii",
        "--reader",
        nhi_fixtures::VPCD_READER,
        "--timeout",
        "10",
    ];
    let ours = std::process::Command::new(crate::support::agent_bin())
        .args(["card", "read"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        ours.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let value: Value = serde_json::from_slice(&ours.stdout).unwrap();
    let expected = profile.expected_identity().unwrap();
    assert_eq!(value["id_no"], expected.id_no);
    assert_eq!(value["name"], expected.name);
    assert_eq!(value["birth_date"], expected.birth_date);
    // Byte for byte the same as nhi-read when that binary is built beside ours.
    let nhi_read = std::path::Path::new(crate::support::agent_bin()).with_file_name("nhi-read");
    // (A stale placeholder binary from an old build has no --show-pii in its help: skip it.)
    let current = std::process::Command::new(&nhi_read)
        .arg("--help")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--show-pii"));
    if current {
        let theirs = std::process::Command::new(&nhi_read)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(theirs.status.code(), ours.status.code());
        assert_eq!(theirs.stdout, ours.stdout);
    } else {
        println!(
            "card_read parity: nhi-read not built beside mask-agent; compared with the profile only"
        );
    }
    // A refused card: exit 5 (card refused), like nhi-read.
    let mut card = card;
    card.swap(&nhi_fixtures::Profile::builtin("hpc").unwrap())
        .unwrap();
    let refused = std::process::Command::new(crate::support::agent_bin())
        .args(["card", "read"])
        .args(args)
        .env("LANG", "en_US.UTF-8")
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(i32::from(mask_cli::exit::CARD_REFUSED)),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // A foreign card is named, in the pharmacist's language (its FCI label).
    card.swap(&nhi_fixtures::Profile::builtin("bank").unwrap())
        .unwrap();
    let foreign = std::process::Command::new(crate::support::agent_bin())
        .args(["--lang", "zh-TW", "card", "read"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&foreign.stderr);
    assert_eq!(
        foreign.status.code(),
        Some(i32::from(mask_cli::exit::CARD_REFUSED)),
        "{stderr}"
    );
    assert!(
        stderr.contains("這不是健保卡（插入的是「VISA DEBIT」）"),
        "{stderr}"
    );
}
