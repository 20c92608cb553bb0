//! No full ID number or name in any log: a service run through every flow that touches
//! personal data, then a scan of every agent log the test run wrote.

use std::path::Path;
use std::time::Duration;

use crate::support::{AgentFiles, ChildAgent, TestServer, agent_cmd, ids, test_root};

fn scan_logs(dir: &Path, secrets: &[String], hits: &mut Vec<String>, files: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            scan_logs(&path, secrets, hits, files);
        } else if path.parent().is_some_and(|p| p.ends_with("logs")) {
            *files += 1;
            let text =
                String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
            for secret in secrets {
                if text.contains(secret.as_str()) {
                    hits.push(format!("{}: {secret}", path.display()));
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_hold_an_unmasked_id_or_name() {
    let mut server = TestServer::start().await;
    let files = AgentFiles::new("logs", &server.url(), &server.token);
    let agent = ChildAgent::start(&files).await;
    let mut secrets: Vec<String> = Vec::new();
    // Every fixture identity: IDs and names.
    for profile in nhi_fixtures::builtin_all().unwrap() {
        if let Some(identity) = profile.expected_identity() {
            secrets.push(identity.id_no.clone());
            if identity.name.chars().count() >= 2 {
                secrets.push(identity.name.clone());
            }
        }
    }
    let buyers: Vec<String> = ids::even_ids(700_000, 3)
        .into_iter()
        .chain([ids::odd_id(700_000)])
        .collect();
    secrets.extend(buyers.iter().cloned());
    secrets.push("A123456788".into());
    // Online sale, refusal, typo, then offline sale and sync.
    for (id, qty) in [(&buyers[0], "2"), (&buyers[0], "3"), (&buyers[3], "1")] {
        agent_cmd(&files.config_path, &["sell", "--id", id, "--qty", qty])
            .output()
            .unwrap();
    }
    agent_cmd(
        &files.config_path,
        &["sell", "--id", "A123456788", "--qty", "1"],
    )
    .output()
    .unwrap();
    for profile_id in secrets
        .iter()
        .filter(|s| s.len() == 10)
        .take(6)
        .cloned()
        .collect::<Vec<_>>()
    {
        agent_cmd(
            &files.config_path,
            &["sell", "--id", &profile_id, "--qty", "1"],
        )
        .output()
        .unwrap();
    }
    server.stop().await;
    agent_cmd(
        &files.config_path,
        &["sell", "--id", &buyers[1], "--qty", "1"],
    )
    .output()
    .unwrap();
    server.restart().await;
    let mut client = agent.client().await;
    crate::support::sync_until_empty(&mut client, Duration::from_secs(30)).await;
    drop(client);
    drop(agent);

    let mut hits = Vec::new();
    let mut scanned = 0;
    scan_logs(&test_root(), &secrets, &mut hits, &mut scanned);
    assert!(
        scanned >= 1,
        "no log files found under {}",
        test_root().display()
    );
    assert!(
        hits.is_empty(),
        "personal data in logs:\n{}",
        hits.join("\n")
    );
    // The log does say what happened, masked.
    let log_dir = files.config().log_dir();
    let text: String = std::fs::read_dir(&log_dir)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(text.contains(&nhi_card::mask_id(&buyers[0])), "{text}");
    #[cfg(unix)]
    for entry in std::fs::read_dir(&log_dir).unwrap().flatten() {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            entry.metadata().unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            entry.path().display()
        );
    }
}
