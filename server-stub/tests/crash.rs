//! kill -9 loses no acknowledged write: the real binary, killed mid-stream, restarted.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::{SITE, get_with, post_with, sale, valid_id};

/// The server binary; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    base: String,
}

async fn start(data_dir: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mask-server-stub"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--plain-http",
            "--as-of",
            "2020-03-13T12:00:00+08:00",
            "--rate-limit",
            "0",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .env("MASK_LANG", "en")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .unwrap()
        .expect("startup line");
    let base = line
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();
    Server { child, base }
}

fn token(data_dir: &std::path::Path) -> String {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mask-server-stub"))
        .args(["token", "issue", "--site", SITE, "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_sale() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = token(&data);
    let http = reqwest::Client::new();
    let mut server = start(&data).await;
    // Four writers keep sending while the server is killed; every acknowledged sale must survive.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4u32 {
        let (http, url, token, acked) = (
            http.clone(),
            format!("{}/v1/sales", server.base),
            token.clone(),
            acked.clone(),
        );
        writers.spawn(async move {
            for i in 0..10_000u32 {
                let body = json!({"sales": [sale(&valid_id(w * 10_000 + i), 1, "2020-03-13T11:00:00+08:00")]});
                match http.post(&url).bearer_auth(&token).json(&body).send().await {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().push(body),
                    _ => return,
                }
            }
        });
    }
    while acked.lock().unwrap().len() < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.child.start_kill().unwrap(); // SIGKILL
    while writers.join_next().await.is_some() {}
    let acked = acked.lock().unwrap().clone();
    server.child.wait().await.unwrap();
    assert!(!acked.is_empty());

    let server = start(&data).await;
    let inv: Value = get_with(
        &http,
        &format!("{}/v1/inventory?date=2020-03-13", server.base),
        &token,
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        inv["sold_adult"].as_u64().unwrap() >= acked.len() as u64,
        "{inv} vs {} acknowledged",
        acked.len()
    );
    for body in &acked {
        let r: Value = post_with(&http, &format!("{}/v1/sales", server.base), &token, body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            r["results"][0]["replayed"], true,
            "acknowledged sale lost: {r}"
        );
    }
}
